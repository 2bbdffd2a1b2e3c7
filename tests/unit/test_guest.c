/* pvguest's domain (tools/pvguest/guest.c) in a private run directory:
 * the ready line, the state directory (pid, xenbus.sock, a stale one
 * cleared without following links), one guest per domid, teardown; and
 * the whole path from a xenbus.sock client through the guest's ring to a
 * store played here through the sim hypervisor (grant map of the xenstore
 * page, the event channel from the ready line). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>
#include <xen/io/xs_wire.h>

#include "../../tools/pvguest/guest.h"
#include "../../tools/pvguest/xenbus_xs.h"
#include "pvd/daemon.h"
#include "pvd/hv.h"
#include "pvd/log.h"
#include "pvd/num.h"

/* The vbd frontend's XS_WATCH "device" "f:device", first on the ring. */
#define FE_WATCH_LEN (sizeof(struct xsd_sockmsg) + sizeof("device\0f:device"))

#define DOMID 7
#define ROUNDS 2000

struct fx {
	char dir[64];
	struct event_base *base;
	struct guest *g;
	unsigned long store_gfn, console_gfn;
	unsigned store_port, console_port;
	int pid;
};

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	remove(path);
	return 0;
}

static int create(struct fx *f, domid_t domid, struct guest **g)
{
	struct guest_config cfg = { .rundir = f->dir, .domid = domid,
				    .name = "test", .memory_mib = 1 };

	return guest_create(g, f->base, &cfg);
}

/* "key=N" at *p, then a space or the line's end: N, a whole decimal
 * number. */
static uint64_t ready_field(const char **p, const char *key)
{
	size_t klen = strlen(key), n;
	uint64_t v;

	assert_memory_equal(*p, key, klen);
	assert_int_equal((*p)[klen], '=');
	*p += klen + 1;
	n = strcspn(*p, " \n");
	assert_int_equal(pvd_parse_uint_n(*p, n, 10, UINT32_MAX, &v), 0);
	*p += n;
	if (**p == ' ')
		(*p)++;
	return v;
}

static void parse_ready(struct fx *f)
{
	char line[256];
	const char *p = line;
	int n;

	n = guest_ready_line(f->g, line, sizeof(line));
	assert_true(n > 0);
	assert_int_equal(line[n - 1], '\n');
	assert_int_equal(ready_field(&p, "domid"), DOMID);
	f->store_gfn = (unsigned long)ready_field(&p, "store_gfn");
	f->store_port = (unsigned)ready_field(&p, "store_port");
	f->console_gfn = (unsigned long)ready_field(&p, "console_gfn");
	f->console_port = (unsigned)ready_field(&p, "console_port");
	f->pid = (int)ready_field(&p, "pid");
	assert_string_equal(p, "\n");
	assert_int_equal(f->pid, getpid());
	assert_true(f->store_gfn != f->console_gfn);
	assert_true(f->store_port != f->console_port);
}

/* A pid file's "PID\n". */
static int pid_of(const char *buf)
{
	uint64_t v;

	assert_int_equal(pvd_parse_uint_n(buf, strcspn(buf, "\n"), 10, INT32_MAX, &v), 0);
	return (int)v;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/pvd-test-guest.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->base = event_base_new();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	guest_destroy(f->g);
	event_base_free(f->base);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void path_of(struct fx *f, char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", f->dir, rel);
}

static void test_create_layout(void **state)
{
	struct fx *f = *state;
	char p[256], buf[32];
	struct stat st;
	FILE *fp;

	assert_int_equal(create(f, DOMID, &f->g), 0);
	assert_int_equal(guest_boot(f->g), 0);
	parse_ready(f);
	path_of(f, p, sizeof(p), "guests/dom7");
	assert_string_equal(guest_dir(f->g), p);
	path_of(f, p, sizeof(p), "guests/dom7/pid");
	fp = fopen(p, "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	assert_int_equal(pid_of(buf), getpid());
	path_of(f, p, sizeof(p), "guests/dom7/xenbus.sock");
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	path_of(f, p, sizeof(p), "hv/dom7.mem");
	assert_int_equal(lstat(p, &st), 0);

	guest_destroy(f->g);
	f->g = NULL;
	path_of(f, p, sizeof(p), "guests/dom7");
	assert_int_equal(lstat(p, &st), -1);
	assert_int_equal(errno, ENOENT);
	path_of(f, p, sizeof(p), "hv/dom7.mem");
	assert_int_equal(lstat(p, &st), -1);
	/* The id is free again. */
	assert_int_equal(create(f, DOMID, &f->g), 0);
}

static void test_one_guest_per_domid(void **state)
{
	struct fx *f = *state;
	struct guest *g2 = NULL;
	char p[256];
	struct stat st;

	assert_int_equal(create(f, DOMID, &f->g), 0);
	assert_int_equal(create(f, DOMID, &g2), -EEXIST);
	assert_null(g2);
	/* The loser touched nothing of the winner's. */
	path_of(f, p, sizeof(p), "guests/dom7/xenbus.sock");
	assert_int_equal(stat(p, &st), 0);
	path_of(f, p, sizeof(p), "guests/dom7/pid");
	assert_int_equal(stat(p, &st), 0);
	/* Another id is fine. */
	assert_int_equal(create(f, DOMID + 1, &g2), 0);
	guest_destroy(g2);
}

static void test_bad_config(void **state)
{
	struct fx *f = *state;
	struct guest_config cfg = { .rundir = f->dir, .domid = 0, .name = "x",
				    .memory_mib = 1 };

	assert_int_equal(guest_create(&f->g, f->base, &cfg), -EINVAL);
	cfg.domid = DOMID_FIRST_RESERVED;
	assert_int_equal(guest_create(&f->g, f->base, &cfg), -EINVAL);
	cfg.domid = 3;
	cfg.memory_mib = GUEST_MEMORY_MAX_MIB + 1;
	assert_int_equal(guest_create(&f->g, f->base, &cfg), -EINVAL);
	cfg.memory_mib = 0;
	assert_int_equal(guest_create(&f->g, f->base, &cfg), -EINVAL);
	assert_null(f->g);
}

/* What a guest killed by SIGKILL leaves: cleared, links not followed. */
static void test_stale_dir_cleared(void **state)
{
	struct fx *f = *state;
	char p[256], victim[256], link[256];
	struct stat st;
	int fd;

	path_of(f, p, sizeof(p), "guests/dom7");
	assert_int_equal(pvd_mkdir_p(p, 0755), 0);
	path_of(f, victim, sizeof(victim), "victim");
	fd = open(victim, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	path_of(f, link, sizeof(link), "guests/dom7/pid");
	assert_int_equal(symlink(victim, link), 0);
	path_of(f, p, sizeof(p), "guests/dom7/xenbus.sock");
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	close(fd);
	path_of(f, p, sizeof(p), "guests/dom7/junk");
	assert_int_equal(mkdir(p, 0755), 0);

	assert_int_equal(create(f, DOMID, &f->g), 0);
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_size, 0);	/* not written through the link */
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISREG(st.st_mode));	/* our pid file now */
	path_of(f, p, sizeof(p), "guests/dom7/junk");
	assert_int_equal(lstat(p, &st), -1);
	path_of(f, p, sizeof(p), "guests/dom7/xenbus.sock");
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
}

/* ---- end to end: client -> xenbus.sock -> ring -> "store" -> back ---- */

static void loop_once(struct fx *f)
{
	event_base_loop(f->base, EVLOOP_NONBLOCK);
}

static void test_client_to_store_and_back(void **state)
{
	struct fx *f = *state;
	struct hv_config cfg = { .impl = "sim", .rundir = f->dir, .domid = 0 };
	grant_ref_t ref = GNTTAB_RESERVED_XENSTORE;
	struct xenstore_domain_interface *intf;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct xsd_sockmsg h = { .type = XS_READ, .req_id = 55, .len = 5 };
	evtchn_port_t sport, p;
	char buf[128];
	struct hv *hv;
	void *page = NULL;
	size_t n = 0;
	int fd, r;

	assert_int_equal(create(f, DOMID, &f->g), 0);
	assert_int_equal(guest_boot(f->g), 0);
	parse_ready(f);
	/* The store: introduced with the ready line's values. */
	assert_int_equal(hv_open(&hv, &cfg), 0);
	assert_int_equal(hv_grant_map(hv, DOMID, 1, &ref, 1, &page), 0);
	intf = page;
	assert_int_equal(hv_evtchn_bind_interdomain(hv, DOMID, f->store_port, &sport), 0);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(strlen(guest_dir(f->g)) + sizeof("/xenbus.sock") <= sizeof(sa.sun_path));
	strcpy(sa.sun_path, guest_dir(f->g));
	strcat(sa.sun_path, "/xenbus.sock");
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), "name", 5);
	assert_int_equal(send(fd, buf, sizeof(h) + 5, 0), (ssize_t)(sizeof(h) + 5));

	/* The request reaches the ring (after the frontends' watch on
	 * "device") and the store is notified. */
	for (r = 0; r < ROUNDS && intf->req_prod != sizeof(h) + 5 + FE_WATCH_LEN; r++)
		loop_once(f);
	assert_int_equal(intf->req_prod, sizeof(h) + 5 + FE_WATCH_LEN);
	assert_int_equal(hv_evtchn_wait(hv, 5000), 0);
	assert_int_equal(hv_evtchn_pending(hv, &p), 0);
	assert_int_equal(p, sport);
	hv_evtchn_unmask(hv, p);
	memcpy(&h, intf->req, sizeof(h));
	assert_int_equal(h.type, XS_WATCH);
	assert_int_equal(sizeof(h) + h.len, FE_WATCH_LEN);
	memcpy(&h, intf->req + FE_WATCH_LEN, sizeof(h));
	assert_int_equal(h.type, XS_READ);
	assert_int_not_equal(h.req_id, 55);	/* rewritten on the ring */
	intf->req_cons = intf->req_prod;

	/* The store answers with the ring's id. */
	h.len = 3;
	memcpy(intf->rsp, &h, sizeof(h));
	memcpy(intf->rsp + sizeof(h), "vm7", 3);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	intf->rsp_prod = sizeof(h) + 3;
	assert_int_equal(hv_evtchn_notify(hv, sport), 0);

	for (r = 0; r < ROUNDS && n < sizeof(h) + 3; r++) {
		ssize_t k = recv(fd, buf + n, sizeof(buf) - n, 0);

		if (k > 0)
			n += (size_t)k;
		loop_once(f);
	}
	assert_int_equal(n, sizeof(h) + 3);
	memcpy(&h, buf, sizeof(h));
	assert_int_equal(h.req_id, 55);		/* the client's own */
	assert_int_equal(h.type, XS_READ);
	assert_memory_equal(buf + sizeof(h), "vm7", 3);
	assert_true(xenbus_is_connected(guest_xenbus(f->g)));

	close(fd);
	hv_grant_unmap(hv, page, 1);
	hv_close(hv);
}

static void on_port(void *arg, evtchn_port_t port)
{
	unsigned *hits = arg;

	(*hits)++;
}

/* A frontend's port handler runs on its port's events. */
static void test_port_handler(void **state)
{
	struct fx *f = *state;
	struct hv_config cfg = { .impl = "sim", .rundir = f->dir, .domid = 0 };
	evtchn_port_t bport;
	unsigned hits = 0;
	struct hv *hv;

	assert_int_equal(create(f, DOMID, &f->g), 0);
	parse_ready(f);
	assert_int_equal(guest_port_handler_set(f->g, f->store_port, on_port, &hits),
			 -EBUSY);
	assert_int_equal(guest_port_handler_set(f->g, f->console_port, on_port, &hits), 0);
	assert_int_equal(hv_open(&hv, &cfg), 0);
	assert_int_equal(hv_evtchn_bind_interdomain(hv, DOMID, f->console_port, &bport), 0);
	assert_int_equal(hv_evtchn_notify(hv, bport), 0);
	for (int r = 0; r < ROUNDS && !hits; r++)
		event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(hits, 1);
	assert_int_equal(guest_port_handler_set(f->g, f->console_port, NULL, NULL), 0);
	assert_int_equal(hv_evtchn_notify(hv, bport), 0);
	for (int r = 0; r < 50; r++)
		event_base_loop(f->base, EVLOOP_NONBLOCK);
	assert_int_equal(hits, 1);
	hv_close(hv);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_create_layout),
		T(test_one_guest_per_domid),
		T(test_bad_config),
		T(test_stale_dir_cleared),
		T(test_client_to_store_and_back),
		T(test_port_handler),
	};

	log_init("test_guest", LOG_LVL_ERR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
