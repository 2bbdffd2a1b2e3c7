/* libFuzzer target: the wire parser and request dispatch of pvd-stored.
 * The input is a byte stream from two clients (dom0 and an unprivileged
 * domain): the first byte of each chunk picks the client, the next two its
 * length.  Every run starts from a fresh store and tears everything down,
 * so LeakSanitizer sees any leak. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <event2/event.h>

#include "../../stored/core.h"
#include "../../stored/stored.h"
#include "../harness/memconn.h"
#include "pvd/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct quota q = QUOTA_DEFAULTS;
	struct event_base *base;
	struct stored sd;
	struct memconn *m[2];

	log_set_level(LOG_LVL_ERR);
	base = event_base_new();
	if (!base || stored_init(&sd, base, &q) < 0)
		return 0;
	core_setup_tree(&sd);
	m[0] = memconn_new(&sd, 0, true);
	m[1] = memconn_new(&sd, 5, false);
	while (size >= 3) {
		struct memconn *c = m[data[0] & 1];
		size_t len = (size_t)data[1] | ((size_t)data[2] << 8);

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		memconn_feed(c, data, len);
		data += len;
		size -= len;
	}
	memconn_free(m[0]);
	memconn_free(m[1]);
	stored_destroy(&sd);
	event_base_free(base);
	return 0;
}
