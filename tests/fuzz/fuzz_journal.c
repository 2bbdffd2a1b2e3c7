/* libFuzzer target: pvd-stored's journal replay (stored/journal.c).  The
 * input is a whole journal file; it is written to a memfd (no temp file
 * to clean up) and replayed through /proc/self/fd into a fresh store, as
 * pvd-stored --persist does at start-up, followed by what start-up does
 * next (the initial nodes, a sync); then dom0 reads back what was
 * replayed, removes a node and writes one, so a replayed node the request
 * code could trip on shows.  Every run tears everything down, so
 * LeakSanitizer sees any leak.  The seeds in corpus/fuzz_journal/ are
 * journals written by the daemon's own code. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <event2/event.h>

#include "../../stored/core.h"
#include "../../stored/journal.h"
#include "../../stored/stored.h"
#include "../harness/memconn.h"
#include "pvd/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A memfd holding the input; its /proc path in path. */
static int input_file(const uint8_t *data, size_t size, char *path,
		      size_t len)
{
	int fd = memfd_create("fuzz-journal", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	while (size) {
		ssize_t n = write(fd, data, size);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		data += n;
		size -= (size_t)n;
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

#define PROBE_MAX 32

/* Dom0's requests on the first replayed nodes. */
static void probe(struct stored *sd)
{
	struct memconn *m = memconn_new(sd, 0, true);
	struct strv paths = { 0 };
	static char body[XENSTORE_PAYLOAD_MAX + 1];

	for (size_t i = 0; i < sd->store.nodes.nb && paths.n < PROBE_MAX; i++)
		for (struct node *n = sd->store.nodes.b[i];
		     n && paths.n < PROBE_MAX; n = n->hnext)
			if (strv_push(&paths, n->path) < 0)
				goto out;
	for (size_t i = 0; i < paths.n; i++) {
		xs_req(m, XS_READ, 0, body, 1, paths.v[i]);
		xs_req(m, XS_DIRECTORY, 0, body, 1, paths.v[i]);
		xs_req(m, XS_DIRECTORY_PART, 0, body, 2, paths.v[i], "0");
		xs_req(m, XS_GET_PERMS, 0, body, 1, paths.v[i]);
	}
	if (paths.n)
		xs_req(m, XS_RM, 0, body, 1, paths.v[paths.n - 1]);
	xs_req(m, XS_WRITE, 0, body, 2, "/fuzz/x", "1");
out:
	strv_free(&paths);
	memconn_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct quota q = QUOTA_DEFAULTS;
	struct event_base *base;
	struct stored sd;
	char path[64];
	int fd;

	log_set_level(LOG_LVL_ERR);
	fd = input_file(data, size, path, sizeof(path));
	if (fd < 0)
		return 0;
	base = event_base_new();
	if (!base || stored_init(&sd, base, &q) < 0)
		goto out;
	if (journal_open(path, &sd.journal) == 0 &&
	    journal_load(sd.journal, &sd.store, &sd.domains) == 0) {
		sd.store.journal = sd.journal;
		core_setup_tree(&sd);
		journal_sync(sd.journal);
		probe(&sd);
	}
	stored_destroy(&sd);
	journal_close(sd.journal);
out:
	if (base)
		event_base_free(base);
	close(fd);
	return 0;
}
