/* The simulated hypervisor against Xen's rules: one test per rule, with a
 * guest (struct hv_sim_domain) and a backend (struct hv) in one process,
 * each test in a private run directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pvd/hv.h"
#include "pvd/hv_sim.h"
#include "pvd/log.h"
#include "pvd/ring_util.h"

struct t_req { uint64_t id; };
struct t_rsp { uint64_t id; };
DEFINE_RING_TYPES(t, struct t_req, struct t_rsp);

#define GUEST 1
#define NPAGES 64
#define WAIT_MS 5000

struct fx {
	char dir[64];
	struct hv_sim_domain *dom;
	struct hv *hv;
};

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	remove(path);
	return 0;
}

static struct hv *open_backend(struct fx *f, domid_t self, unsigned flags)
{
	struct hv_config cfg = {
		.impl = "sim", .rundir = f->dir, .domid = self, .flags = flags,
	};
	struct hv *hv = NULL;

	assert_int_equal(hv_open(&hv, &cfg), 0);
	assert_non_null(hv);
	assert_string_equal(hv_impl_name(hv), "sim");
	return hv;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/pvd-test-hv.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(hv_sim_domain_create(f->dir, GUEST, NPAGES, &f->dom), 0);
	f->hv = open_backend(f, 0, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hv_close(f->hv);
	hv_sim_domain_destroy(f->dom);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* A page of the guest granted to domid through a fresh ref. */
static grant_ref_t grant_page(struct fx *f, grant_ref_t ref, domid_t to,
			      int readonly, unsigned long *pagep)
{
	unsigned long page;

	assert_int_equal(hv_sim_page_alloc(f->dom, &page), 0);
	assert_int_equal(hv_sim_grant(f->dom, ref, page, to, readonly), 0);
	if (pagep)
		*pagep = page;
	return ref;
}

static uint16_t gflags(struct fx *f, grant_ref_t ref)
{
	return __atomic_load_n(&hv_sim_grant_entry(f->dom, ref)->flags,
			       __ATOMIC_ACQUIRE);
}

/* Runs fn in a child; true if the child died of SIGSEGV. */
static int child_faults(void (*fn)(void *), void *arg)
{
	int st;
	pid_t p = fork();

	assert_true(p >= 0);
	if (p == 0) {
		/* cmocka catches SIGSEGV to report failures; not in here. */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		alarm(10);
		fn(arg);
		_exit(0);
	}
	assert_int_equal(waitpid(p, &st, 0), p);
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV;
}

static void write_byte(void *p)
{
	*(volatile char *)p = 1;
}

static void read_byte(void *p)
{
	(void)*(volatile char *)p;
}

/* ---- grant rules ---- */

static void test_ref_out_of_range(void **state)
{
	struct fx *f = *state;
	grant_ref_t refs[] = { HV_SIM_NR_GRANTS, 0xffffffffu };
	void *addr = (void *)1;

	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &refs[i], 0, &addr),
				 -EINVAL);
		assert_null(addr);
	}
}

static void test_not_permitted(void **state)
{
	struct fx *f = *state;
	grant_ref_t ref = 10;   /* never granted */
	grant_entry_v1_t *e;
	void *addr;

	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &ref, 0, &addr), -EPERM);
	/* Right domain and frame, wrong type. */
	e = hv_sim_grant_entry(f->dom, 11);
	e->frame = 2;
	e->domid = 0;
	__atomic_store_n(&e->flags, GTF_accept_transfer, __ATOMIC_RELEASE);
	ref = 11;
	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &ref, 0, &addr), -EPERM);
	assert_int_equal(gflags(f, 11), GTF_accept_transfer);
}

static void test_granted_to_other_domain(void **state)
{
	struct fx *f = *state;
	grant_ref_t ref = grant_page(f, 12, 5, 0, NULL);
	struct hv *dom5;
	void *addr;

	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &ref, 0, &addr), -EPERM);
	assert_int_equal(gflags(f, ref) & (GTF_reading | GTF_writing), 0);
	/* The domain it was granted to may map it. */
	dom5 = open_backend(f, 5, 0);
	assert_int_equal(hv_grant_map(dom5, GUEST, 1, &ref, 1, &addr), 0);
	assert_int_equal(hv_grant_unmap(dom5, addr, 1), 0);
	hv_close(dom5);
}

static void test_readonly_for_write(void **state)
{
	struct fx *f = *state;
	unsigned long page;
	grant_ref_t ref = grant_page(f, 13, 0, 1, &page);
	void *addr;

	strcpy(hv_sim_page(f->dom, page), "guest data");
	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &ref, 1, &addr), -EPERM);
	assert_int_equal(gflags(f, ref) & (GTF_reading | GTF_writing), 0);
	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &ref, 0, &addr), 0);
	assert_string_equal(addr, "guest data");
	/* The read-only map really is read-only. */
	assert_true(child_faults(write_byte, addr));
	assert_int_equal(hv_grant_unmap(f->hv, addr, 1), 0);
}

static void test_end_access_while_mapped(void **state)
{
	struct fx *f = *state;
	grant_ref_t ref = grant_page(f, 14, 0, 0, NULL);
	void *addr;

	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &ref, 1, &addr), 0);
	assert_int_equal(hv_sim_end_access(f->dom, ref), -EBUSY);
	assert_int_equal(gflags(f, ref) & GTF_permit_access, GTF_permit_access);
	assert_int_equal(hv_grant_unmap(f->hv, addr, 1), 0);
	assert_int_equal(hv_sim_end_access(f->dom, ref), 0);
	assert_int_equal(gflags(f, ref), 0);
	/* Access ended: no more maps. */
	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &ref, 0, &addr), -EPERM);
}

static void test_reading_writing_flags(void **state)
{
	struct fx *f = *state;
	grant_ref_t ref = grant_page(f, 15, 0, 0, NULL);
	struct hv *other = open_backend(f, 0, 0);
	void *ro, *rw;

	assert_int_equal(gflags(f, ref), GTF_permit_access);
	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &ref, 0, &ro), 0);
	assert_int_equal(gflags(f, ref), GTF_permit_access | GTF_reading);
	/* A second user, in another handle (pin counts are shared). */
	assert_int_equal(hv_grant_map(other, GUEST, 1, &ref, 1, &rw), 0);
	assert_int_equal(gflags(f, ref),
			 GTF_permit_access | GTF_reading | GTF_writing);
	assert_int_equal(hv_grant_unmap(other, rw, 1), 0);
	assert_int_equal(gflags(f, ref), GTF_permit_access | GTF_reading);
	assert_int_equal(hv_sim_end_access(f->dom, ref), -EBUSY);
	assert_int_equal(hv_grant_unmap(f->hv, ro, 1), 0);
	assert_int_equal(gflags(f, ref), GTF_permit_access);
	/* Unmapping twice is an error, not a second unpin. */
	assert_int_equal(hv_grant_unmap(f->hv, ro, 1), -EINVAL);
	assert_int_equal(gflags(f, ref), GTF_permit_access);
	hv_close(other);
}

static void test_frame_captured_at_pin(void **state)
{
	struct fx *f = *state;
	unsigned long page, other;
	grant_ref_t ref = grant_page(f, 16, 0, 0, &page);
	grant_entry_v1_t *e = hv_sim_grant_entry(f->dom, ref);
	void *a1, *a2;

	assert_int_equal(hv_sim_page_alloc(f->dom, &other), 0);
	strcpy(hv_sim_page(f->dom, page), "first");
	strcpy(hv_sim_page(f->dom, other), "second");
	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &ref, 0, &a1), 0);
	/* A hostile guest redirects the in-use entry and points it at a frame
	 * past its memory: the pinned grant keeps the frame it had. */
	e->frame = other;
	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &ref, 0, &a2), 0);
	assert_string_equal(a2, "first");
	assert_int_equal(hv_grant_unmap(f->hv, a2, 1), 0);
	assert_int_equal(hv_grant_unmap(f->hv, a1, 1), 0);
	e->frame = NPAGES + 100;
	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &ref, 0, &a1), -EINVAL);
	assert_int_equal(gflags(f, ref), GTF_permit_access);
}

static void test_grant_copy_both_directions(void **state)
{
	struct fx *f = *state;
	unsigned long page;
	grant_ref_t ref = grant_page(f, 17, 0, 0, &page);
	char *gp = hv_sim_page(f->dom, page);
	char out[64] = "from the backend", in[64] = { 0 };
	struct hv_copy_seg seg = {
		.ref = ref, .domid = GUEST, .offset = 100, .len = sizeof(out),
		.dir = HV_COPY_TO_GRANT, .local = out,
	};

	assert_int_equal(hv_grant_copy(f->hv, &seg, 1), 0);
	assert_int_equal(seg.status, 0);
	assert_string_equal(gp + 100, "from the backend");
	strcpy(gp + 4000, "from the guest");
	seg = (struct hv_copy_seg){
		.ref = ref, .domid = GUEST, .offset = 4000, .len = 15,
		.dir = HV_COPY_FROM_GRANT, .local = in,
	};
	assert_int_equal(hv_grant_copy(f->hv, &seg, 1), 0);
	assert_string_equal(in, "from the guest");
	/* A copy pins only while it runs. */
	assert_int_equal(gflags(f, ref), GTF_permit_access);
	/* Copying into a read-only grant is a write. */
	ref = grant_page(f, 18, 0, 1, NULL);
	seg = (struct hv_copy_seg){
		.ref = ref, .domid = GUEST, .len = 8,
		.dir = HV_COPY_TO_GRANT, .local = out,
	};
	assert_int_equal(hv_grant_copy(f->hv, &seg, 1), -EPERM);
	assert_int_equal(seg.status, -EPERM);
	seg.dir = HV_COPY_FROM_GRANT;
	assert_int_equal(hv_grant_copy(f->hv, &seg, 1), 0);
}

/* A backend that dies in the middle of a copy (here: its memcpy faults
 * on its own buffer; a kill -9 does the same) leaves the grant pinned in
 * the shared bookkeeping, which on Xen cannot happen (the copy is one
 * hypercall).  The next backend handle opened undoes that pin from the
 * dead process's copy record: the guest can end its access again.
 * Without the record the grant stayed GTF_writing, and pvguest's netfront
 * disabled its NIC after a kill -9 of pvd-netback ("rx grant still in
 * use"). */
struct copy_arg {
	struct fx *f;
	grant_ref_t ref;
	void *bad;
};

static void copy_into_fault(void *p)
{
	struct copy_arg *a = p;
	struct hv *hv = open_backend(a->f, 0, 0);
	struct hv_copy_seg seg = {
		.ref = a->ref, .domid = GUEST, .len = 64,
		.dir = HV_COPY_FROM_GRANT, .local = a->bad,
	};

	hv_grant_copy(hv, &seg, 1);     /* dies here, pinned */
}

static void test_copy_pin_of_dead_process(void **state)
{
	struct fx *f = *state;
	struct copy_arg a = { f, grant_page(f, 20, 0, 0, NULL), NULL };
	struct hv *hv2;

	a.bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(a.bad != MAP_FAILED);
	assert_true(child_faults(copy_into_fault, &a));
	munmap(a.bad, 4096);
	/* Pinned by a process that is gone. */
	assert_int_equal(gflags(f, a.ref), GTF_permit_access | GTF_reading);
	assert_int_equal(hv_sim_end_access(f->dom, a.ref), -EBUSY);
	/* The next handle opened undoes it (and only it: f->hv, alive,
	 * keeps its record). */
	hv2 = open_backend(f, 0, 0);
	assert_int_equal(gflags(f, a.ref), GTF_permit_access);
	hv_close(hv2);
	assert_int_equal(hv_sim_end_access(f->dom, a.ref), 0);
}

static void test_grant_copy_bad_segment(void **state)
{
	struct fx *f = *state;
	unsigned long p0, p2;
	char b0[16] = "zero", b1[16] = "one", b2[16] = "two", b3[16] = "three";
	struct hv_copy_seg segs[4] = {
		{ .ref = grant_page(f, 20, 0, 0, &p0), .domid = GUEST, .len = 5,
		  .dir = HV_COPY_TO_GRANT, .local = b0 },
		{ .ref = HV_SIM_NR_GRANTS + 1, .domid = GUEST, .len = 4,
		  .dir = HV_COPY_TO_GRANT, .local = b1 },
		{ .ref = grant_page(f, 22, 0, 0, &p2), .domid = GUEST, .len = 4,
		  .dir = HV_COPY_TO_GRANT, .local = b2 },
		{ .ref = 22, .domid = GUEST, .offset = 4090, .len = 8,
		  .dir = HV_COPY_TO_GRANT, .local = b3 },
	};

	assert_int_equal(hv_grant_copy(f->hv, segs, 4), -EINVAL);
	assert_int_equal(segs[0].status, 0);
	assert_int_equal(segs[1].status, -EINVAL);
	assert_int_equal(segs[2].status, 0);
	assert_int_equal(segs[3].status, -EINVAL);   /* crosses the page */
	assert_string_equal(hv_sim_page(f->dom, p0), "zero");
	assert_string_equal(hv_sim_page(f->dom, p2), "two");
	assert_int_equal(gflags(f, 20), GTF_permit_access);
	assert_int_equal(gflags(f, 22), GTF_permit_access);
}

static void test_multi_page_map(void **state)
{
	struct fx *f = *state;
	unsigned long pages[4];
	grant_ref_t refs[4];
	char *addr;

	/* Frames out of order, so the region cannot be a plain view. */
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(hv_sim_page_alloc(f->dom, &pages[i]), 0);
	for (unsigned i = 0; i < 4; i++) {
		refs[i] = 30 + i;
		assert_int_equal(hv_sim_grant(f->dom, refs[i], pages[3 - i], 0, 0), 0);
		snprintf(hv_sim_page(f->dom, pages[3 - i]), 16, "page %u", i);
	}
	assert_int_equal(hv_grant_map(f->hv, GUEST, 4, refs, 1, (void **)&addr), 0);
	for (unsigned i = 0; i < 4; i++) {
		char want[16];

		snprintf(want, sizeof(want), "page %u", i);
		assert_string_equal(addr + i * HV_PAGE_SIZE, want);
		assert_int_equal(gflags(f, refs[i]),
				 GTF_permit_access | GTF_reading | GTF_writing);
	}
	strcpy(addr + 2 * HV_PAGE_SIZE + 8, "written");
	assert_string_equal((char *)hv_sim_page(f->dom, pages[1]) + 8, "written");
	assert_int_equal(hv_grant_unmap(f->hv, addr, 4), 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(gflags(f, refs[i]), GTF_permit_access);

	/* Consecutive frames work too. */
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(hv_sim_end_access(f->dom, refs[i]), 0);
		assert_int_equal(hv_sim_grant(f->dom, refs[i], pages[0] + i, 0, 0), 0);
	}
	for (unsigned i = 0; i < 4; i++)
		snprintf(hv_sim_page(f->dom, pages[0] + i), 16, "frame %u", i);
	assert_int_equal(hv_grant_map(f->hv, GUEST, 4, refs, 0, (void **)&addr), 0);
	for (unsigned i = 0; i < 4; i++) {
		char want[16];

		snprintf(want, sizeof(want), "frame %u", i);
		assert_string_equal(addr + i * HV_PAGE_SIZE, want);
	}
	assert_int_equal(hv_grant_unmap(f->hv, addr, 4), 0);

	/* All or nothing: one bad ref and no page stays pinned. */
	refs[2] = 99;
	assert_int_equal(hv_grant_map(f->hv, GUEST, 4, refs, 0, (void **)&addr),
			 -EPERM);
	assert_null(addr);
	for (unsigned i = 0; i < 4; i++)
		if (i != 2)
			assert_int_equal(gflags(f, refs[i]), GTF_permit_access);
}

static void test_map_per_grant_mode(void **state)
{
	struct fx *f = *state;
	struct hv *strict = open_backend(f, 0, HV_F_SIM_MAP_PER_GRANT);
	unsigned long page;
	grant_ref_t ref = grant_page(f, 40, 0, 0, &page);
	void *addr;

	strcpy(hv_sim_page(f->dom, page), "strict");
	assert_int_equal(hv_grant_map(strict, GUEST, 1, &ref, 1, &addr), 0);
	assert_string_equal(addr, "strict");
	assert_false(child_faults(read_byte, addr));
	assert_int_equal(hv_grant_unmap(strict, addr, 1), 0);
	/* Use after unmap faults, as on Xen. */
	assert_true(child_faults(read_byte, addr));
	hv_close(strict);
}

static void test_reserved_grants(void **state)
{
	struct fx *f = *state;
	grant_ref_t ref = GNTTAB_RESERVED_XENSTORE;
	void *addr;

	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &ref, 1, &addr), 0);
	strcpy(addr, "xenstore ring");
	assert_string_equal(hv_sim_page(f->dom, hv_sim_xenstore_page(f->dom)),
			    "xenstore ring");
	assert_int_equal(hv_grant_unmap(f->hv, addr, 1), 0);
	ref = GNTTAB_RESERVED_CONSOLE;
	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &ref, 1, &addr), 0);
	assert_ptr_not_equal(hv_sim_console_page(f->dom),
			     hv_sim_xenstore_page(f->dom));
	assert_int_equal(hv_grant_unmap(f->hv, addr, 1), 0);
}

static void test_domain_lifecycle(void **state)
{
	struct fx *f = *state;
	struct hv_sim_domain *dup = NULL, *d2;
	grant_ref_t ref = GNTTAB_RESERVED_CONSOLE;
	void *addr;

	assert_int_equal(hv_sim_domain_create(f->dir, GUEST, NPAGES, &dup), -EEXIST);
	assert_null(dup);
	assert_int_equal(hv_sim_domain_create(f->dir, 0, NPAGES, &dup), -EINVAL);
	assert_int_equal(hv_grant_map(f->hv, 9, 1, &ref, 0, &addr), -ESRCH);
	assert_int_equal(hv_sim_domain_create(f->dir, 9, 4, &d2), 0);
	assert_int_equal(hv_grant_map(f->hv, 9, 1, &ref, 0, &addr), 0);
	assert_int_equal(hv_grant_unmap(f->hv, addr, 1), 0);
	hv_sim_domain_destroy(d2);
	assert_int_equal(hv_grant_map(f->hv, 9, 1, &ref, 0, &addr), -ESRCH);
}

/* A guest in a child process (so that it can be killed outright), there
 * once this returns: its domain exists until the child dies. */
static pid_t fork_guest(const char *dir, domid_t domid)
{
	struct hv_sim_domain *d;
	struct pollfd pfd;
	int p[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(20);
		if (hv_sim_domain_create(dir, domid, 4, &d) < 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static void test_domain_alive(void **state)
{
	struct fx *f = *state;
	struct hv_sim_domain *d;
	int st;
	pid_t pid;

	assert_int_equal(hv_domain_alive(f->hv, GUEST), 1);
	assert_int_equal(hv_domain_alive(f->hv, 77), 0);
	assert_int_equal(hv_sim_domain_create(f->dir, 9, 4, &d), 0);
	assert_int_equal(hv_domain_alive(f->hv, 9), 1);
	hv_sim_domain_destroy(d);
	assert_int_equal(hv_domain_alive(f->hv, 9), 0);

	/* A guest killed outright is gone too. */
	pid = fork_guest(f->dir, 12);
	assert_int_equal(hv_domain_alive(f->hv, 12), 1);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(hv_domain_alive(f->hv, 12), 0);
	assert_int_equal(hv_domain_alive(f->hv, DOMID_FIRST_RESERVED), -EINVAL);
}

/* Whether this process holds a descriptor of the memfd called name. */
static int holds_memfd(const char *name)
{
	char want[64], path[300], link[256];
	struct dirent *e;
	DIR *dir = opendir("/proc/self/fd");
	int found = 0;
	ssize_t n;

	assert_non_null(dir);
	snprintf(want, sizeof(want), "/memfd:%s ", name);
	while ((e = readdir(dir)) != NULL) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found |= strncmp(link, want, strlen(want)) == 0;
	}
	closedir(dir);
	return found;
}

/* A guest killed right after a death check (hv_domain_alive, once a
 * second in pvd-stored) is let go of at its last unmap: the answer that
 * check cached must not keep its memory open. */
static void test_killed_guest_released_on_unmap(void **state)
{
	struct fx *f = *state;
	grant_ref_t ref = GNTTAB_RESERVED_XENSTORE;
	void *addr;
	int st;
	pid_t pid;

	pid = fork_guest(f->dir, 12);
	assert_int_equal(hv_grant_map(f->hv, 12, 1, &ref, 1, &addr), 0);
	assert_true(holds_memfd("dom12.mem"));
	assert_int_equal(hv_domain_alive(f->hv, 12), 1);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(hv_grant_unmap(f->hv, addr, 1), 0);
	assert_false(holds_memfd("dom12.mem"));
}

static void test_unsealed_files_refused(void **state)
{
	struct fx *f = *state;
	char path[128];
	grant_ref_t ref = 0;
	void *addr;
	int fd;

	/* A domain whose files are plain files (which a guest could truncate
	 * under the backend): refused, not mapped. */
	snprintf(path, sizeof(path), "%s/hv/dom7.act", f->dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	assert_int_equal(hv_grant_map(f->hv, 7, 1, &ref, 0, &addr), -EINVAL);
	/* A FIFO where a file should be: refused without blocking. */
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(hv_grant_map(f->hv, 7, 1, &ref, 0, &addr), -EINVAL);
}

/* ---- event channels ---- */

static evtchn_port_t connect_port(struct fx *f, evtchn_port_t *guest_port)
{
	evtchn_port_t gp, bp;

	assert_int_equal(hv_sim_evtchn_alloc_unbound(f->dom, 0, &gp), 0);
	assert_int_equal(hv_evtchn_bind_interdomain(f->hv, GUEST, gp, &bp), 0);
	*guest_port = gp;
	return bp;
}

static void test_evtchn_notify_pending(void **state)
{
	struct fx *f = *state;
	evtchn_port_t gp, bp, p;
	evtchn_port_t bp2, gp2;

	bp = connect_port(f, &gp);
	bp2 = connect_port(f, &gp2);
	assert_int_not_equal(bp, bp2);
	assert_int_equal(hv_evtchn_pending(f->hv, &p), -EAGAIN);
	assert_int_equal(hv_sim_evtchn_pending(f->dom, &p), -EAGAIN);

	/* backend -> guest */
	assert_int_equal(hv_evtchn_notify(f->hv, bp2), 0);
	assert_int_equal(hv_sim_evtchn_wait(f->dom, WAIT_MS), 0);
	assert_int_equal(hv_sim_evtchn_pending(f->dom, &p), 0);
	assert_int_equal(p, gp2);
	assert_int_equal(hv_sim_evtchn_pending(f->dom, &p), -EAGAIN);
	assert_int_equal(hv_sim_evtchn_unmask(f->dom, gp2), 0);

	/* guest -> backend, notifications coalesce */
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp), 0);
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp), 0);
	assert_int_equal(hv_evtchn_wait(f->hv, WAIT_MS), 0);
	assert_int_equal(hv_evtchn_pending(f->hv, &p), 0);
	assert_int_equal(p, bp);
	assert_int_equal(hv_evtchn_pending(f->hv, &p), -EAGAIN);

	/* Masked until unmasked, as on Xen; the event is kept meanwhile.  (The
	 * fd may wake once for it; pending then has nothing, and parks the
	 * port so that the fd stays quiet.) */
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp), 0);
	hv_evtchn_wait(f->hv, 100);
	assert_int_equal(hv_evtchn_pending(f->hv, &p), -EAGAIN);
	assert_int_equal(hv_evtchn_wait(f->hv, 100), -ETIMEDOUT);
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp), 0);
	assert_int_equal(hv_evtchn_wait(f->hv, 100), -ETIMEDOUT);
	assert_int_equal(hv_evtchn_unmask(f->hv, bp), 0);
	assert_int_equal(hv_evtchn_wait(f->hv, WAIT_MS), 0);
	assert_int_equal(hv_evtchn_pending(f->hv, &p), 0);
	assert_int_equal(p, bp);
	assert_int_equal(hv_evtchn_unmask(f->hv, bp), 0);
}

/* The many-port calls over an implementation without them: each port
 * that fired once, masked until the unmask of them all. */
static void test_evtchn_many(void **state)
{
	struct fx *f = *state;
	evtchn_port_t gp, bp, gp2, bp2, p[4] = { 0 };

	bp = connect_port(f, &gp);
	bp2 = connect_port(f, &gp2);
	assert_int_equal(hv_evtchn_pending_many(f->hv, p, 4), -EAGAIN);
	assert_int_equal(hv_evtchn_pending_many(f->hv, p, 0), -EINVAL);
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp), 0);
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp2), 0);
	assert_int_equal(hv_evtchn_wait(f->hv, WAIT_MS), 0);
	assert_int_equal(hv_evtchn_pending_many(f->hv, p, 4), 2);
	assert_true((p[0] == bp && p[1] == bp2) || (p[0] == bp2 && p[1] == bp));
	assert_int_equal(hv_evtchn_pending_many(f->hv, p, 4), -EAGAIN);
	/* Masked: a second kick waits for the unmask (the fd may wake
	 * once for it, with nothing to take). */
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp), 0);
	hv_evtchn_wait(f->hv, 100);
	assert_int_equal(hv_evtchn_pending_many(f->hv, p, 4), -EAGAIN);
	assert_int_equal(hv_evtchn_wait(f->hv, 100), -ETIMEDOUT);
	p[0] = bp;
	p[1] = bp2;
	assert_int_equal(hv_evtchn_unmask_many(f->hv, p, 2), 0);
	assert_int_equal(hv_evtchn_wait(f->hv, WAIT_MS), 0);
	assert_int_equal(hv_evtchn_pending_many(f->hv, p, 4), 1);
	assert_int_equal(p[0], bp);
	assert_int_equal(hv_evtchn_unmask_many(f->hv, p, 1), 0);
	/* take: pending and unmasked in one call, so the next kick fires. */
	assert_int_equal(hv_evtchn_take(f->hv, p, 4), 0);
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp2), 0);
	assert_int_equal(hv_evtchn_wait(f->hv, WAIT_MS), 0);
	assert_int_equal(hv_evtchn_take(f->hv, p, 4), 1);
	assert_int_equal(p[0], bp2);
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp2), 0);
	assert_int_equal(hv_evtchn_wait(f->hv, WAIT_MS), 0);
	assert_int_equal(hv_evtchn_take(f->hv, p, 4), 1);
}

static void test_evtchn_backend_alloc_unbound(void **state)
{
	struct fx *f = *state;
	evtchn_port_t bp, gp, p;

	assert_int_equal(hv_evtchn_alloc_unbound(f->hv, GUEST, &bp), 0);
	/* Notifying a port nobody bound yet is dropped, as on Xen. */
	assert_int_equal(hv_evtchn_notify(f->hv, bp), 0);
	assert_int_equal(hv_sim_evtchn_bind_interdomain(f->dom, 0, bp, &gp), 0);
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp), 0);
	assert_int_equal(hv_evtchn_wait(f->hv, WAIT_MS), 0);
	assert_int_equal(hv_evtchn_pending(f->hv, &p), 0);
	assert_int_equal(p, bp);
	assert_int_equal(hv_evtchn_unmask(f->hv, bp), 0);
	assert_int_equal(hv_evtchn_notify(f->hv, bp), 0);
	assert_int_equal(hv_sim_evtchn_wait(f->dom, WAIT_MS), 0);
	assert_int_equal(hv_sim_evtchn_pending(f->dom, &p), 0);
	assert_int_equal(p, gp);
}

static void test_evtchn_bad_port(void **state)
{
	struct fx *f = *state;
	evtchn_port_t gp, bp, p;

	assert_int_equal(hv_sim_evtchn_alloc_unbound(f->dom, 0, &gp), 0);
	/* Never allocated, zero, out of range, unknown domain. */
	assert_int_equal(hv_evtchn_bind_interdomain(f->hv, GUEST, gp + 1, &p),
			 -EINVAL);
	assert_int_equal(hv_evtchn_bind_interdomain(f->hv, GUEST, 0, &p), -EINVAL);
	assert_int_equal(hv_evtchn_bind_interdomain(f->hv, GUEST, 0xfffffff0u, &p),
			 -EINVAL);
	assert_int_equal(hv_evtchn_bind_interdomain(f->hv, 33, 1, &p), -ESRCH);
	/* Local ports this handle does not own. */
	assert_int_equal(hv_evtchn_notify(f->hv, 1), -ENOTCONN);
	assert_int_equal(hv_evtchn_unmask(f->hv, 1), -ENOTCONN);
	assert_int_equal(hv_evtchn_unbind(f->hv, 1), -ENOTCONN);
	assert_int_equal(hv_evtchn_notify(f->hv, 0), -EINVAL);
	assert_int_equal(hv_evtchn_notify(f->hv, 0xffffffffu), -EINVAL);
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp + 5), -ENOTCONN);
	/* Bound once: a second bind of the same port fails. */
	assert_int_equal(hv_evtchn_bind_interdomain(f->hv, GUEST, gp, &bp), 0);
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp), 0); /* takes the bind */
	assert_int_equal(hv_evtchn_bind_interdomain(f->hv, GUEST, gp, &p), -EINVAL);
	assert_int_equal(hv_evtchn_unbind(f->hv, bp), 0);
	assert_int_equal(hv_evtchn_notify(f->hv, bp), -ENOTCONN);
}

static void test_evtchn_port_of_other_domain(void **state)
{
	struct fx *f = *state;
	struct hv_sim_domain *d2;
	evtchn_port_t gp, p;

	/* Allocated for domain 7, not for us. */
	assert_int_equal(hv_sim_evtchn_alloc_unbound(f->dom, 7, &gp), 0);
	assert_int_equal(hv_evtchn_bind_interdomain(f->hv, GUEST, gp, &p), -EINVAL);
	/* A port that exists, but in another domain. */
	assert_int_equal(hv_sim_domain_create(f->dir, 2, 4, &d2), 0);
	assert_int_equal(hv_sim_evtchn_alloc_unbound(d2, 0, &gp), 0);
	assert_int_equal(hv_evtchn_bind_interdomain(f->hv, GUEST, gp, &p), -EINVAL);
	assert_int_equal(hv_evtchn_bind_interdomain(f->hv, 2, gp, &p), 0);
	hv_sim_domain_destroy(d2);
}

static void test_evtchn_peer_close(void **state)
{
	struct fx *f = *state;
	evtchn_port_t gp, bp, p;
	struct hv *again;

	bp = connect_port(f, &gp);
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp), 0);
	/* The backend goes away: the guest's port is unbound again (seen on
	 * its next look at its ports), and a new backend may bind it. */
	hv_close(f->hv);
	f->hv = NULL;
	assert_int_equal(hv_sim_evtchn_wait(f->dom, WAIT_MS), 0);
	assert_int_equal(hv_sim_evtchn_pending(f->dom, &p), -EAGAIN);
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp), 0);
	again = open_backend(f, 0, 0);
	f->hv = again;
	assert_int_equal(hv_evtchn_bind_interdomain(again, GUEST, gp, &bp), 0);
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp), 0);
	assert_int_equal(hv_evtchn_wait(again, WAIT_MS), 0);
	assert_int_equal(hv_evtchn_pending(again, &p), 0);
	assert_int_equal(p, bp);
}

/* A backend process that binds the guest's port and dies (kill -9: its
 * pipes close with it). */
static void dying_backend(struct fx *f, evtchn_port_t gp)
{
	struct hv_config cfg = { .impl = "sim", .rundir = f->dir };
	struct hv *hv = NULL;
	evtchn_port_t bp;
	pid_t pid = fork();
	int st = -1;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(hv_open(&hv, &cfg) < 0 ||
		      hv_evtchn_bind_interdomain(hv, GUEST, gp, &bp) < 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* The guest notifies after a restarted backend bound its port but before
 * it looked at its ports: on Xen the bind is synchronous and the event
 * reaches the new backend; here it went into the dead backend's pipe.  So
 * taking a bind over a peer that went away sends the new peer one spare
 * event (what a restarted backend's final ring check needs: the guest
 * does not notify again for requests past the req_event it crossed). */
static void test_evtchn_rebind_before_guest_looks(void **state)
{
	struct fx *f = *state;
	evtchn_port_t gp, bp, p;

	assert_int_equal(hv_sim_evtchn_alloc_unbound(f->dom, 0, &gp), 0);
	dying_backend(f, gp);
	/* The guest takes the first bind now: its port is bound to a
	 * backend that is already dead, which it has not seen yet. */
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp), 0);
	assert_int_equal(hv_evtchn_bind_interdomain(f->hv, GUEST, gp, &bp), 0);
	assert_int_equal(hv_sim_evtchn_notify(f->dom, gp), 0);
	/* The guest's loop runs: the hang-up and the new bind. */
	while (hv_sim_evtchn_pending(f->dom, &p) == 0)
		hv_sim_evtchn_unmask(f->dom, p);
	assert_int_equal(hv_evtchn_wait(f->hv, WAIT_MS), 0);
	assert_int_equal(hv_evtchn_pending(f->hv, &p), 0);
	assert_int_equal(p, bp);
	/* And the channel works both ways. */
	assert_int_equal(hv_evtchn_unmask(f->hv, bp), 0);
	assert_int_equal(hv_evtchn_notify(f->hv, bp), 0);
	assert_int_equal(hv_sim_evtchn_wait(f->dom, WAIT_MS), 0);
	assert_int_equal(hv_sim_evtchn_pending(f->dom, &p), 0);
	assert_int_equal(p, gp);
}

static void test_evtchn_garbage_on_socket(void **state)
{
	struct fx *f = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	evtchn_port_t gp, bp, p;
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);

	assert_true(s >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/hv/dom%u.sock", f->dir,
		 GUEST);
	assert_int_equal(sendto(s, "garbage", 7, 0, (struct sockaddr *)&sa,
				sizeof(sa)), 7);
	close(s);
	assert_int_equal(hv_sim_evtchn_pending(f->dom, &p), -EAGAIN);
	bp = connect_port(f, &gp);
	assert_int_equal(hv_evtchn_notify(f->hv, bp), 0);
	assert_int_equal(hv_sim_evtchn_wait(f->dom, WAIT_MS), 0);
	assert_int_equal(hv_sim_evtchn_pending(f->dom, &p), 0);
	assert_int_equal(p, gp);
}

/* The ring helpers over the sim: a side notifies only when the other side
 * armed its event index before going to sleep. */
static void test_ring_event_suppression(void **state)
{
	struct fx *f = *state;
	struct t_front_ring front;
	struct t_back_ring back;
	struct t_sring *sring;
	unsigned long page;
	grant_ref_t ref = grant_page(f, 50, 0, 0, &page);
	evtchn_port_t gp, bp, p;
	int fnotes = 0, bnotes = 0;
	void *ring;

	bp = connect_port(f, &gp);
	sring = hv_sim_page(f->dom, page);
	SHARED_RING_INIT(sring);
	FRONT_RING_INIT(&front, sring, HV_PAGE_SIZE);
	assert_int_equal(hv_grant_map(f->hv, GUEST, 1, &ref, 1, &ring), 0);
	BACK_RING_INIT(&back, (struct t_sring *)ring, HV_PAGE_SIZE);

	/* The backend finds nothing and arms req_event. */
	assert_int_equal(HV_RING_WAIT_REQUESTS(&back, 1000), 0);
	RING_GET_REQUEST(&front, front.req_prod_pvt++)->id = 7;
	assert_int_equal(HV_RING_PUSH_REQUESTS(&front, (fnotes++,
			 hv_sim_evtchn_notify(f->dom, gp))), 0);
	assert_int_equal(fnotes, 1);
	/* Not re-armed yet: the second push does not notify. */
	RING_GET_REQUEST(&front, front.req_prod_pvt++)->id = 8;
	HV_RING_PUSH_REQUESTS(&front, (fnotes++, hv_sim_evtchn_notify(f->dom, gp)));
	assert_int_equal(fnotes, 1);

	assert_int_equal(hv_evtchn_wait(f->hv, WAIT_MS), 0);
	assert_int_equal(hv_evtchn_pending(f->hv, &p), 0);
	assert_int_equal(p, bp);
	assert_int_equal(hv_evtchn_unmask(f->hv, bp), 0);
	assert_int_not_equal(HV_RING_WAIT_REQUESTS(&back, 0), 0);
	while (RING_HAS_UNCONSUMED_REQUESTS(&back)) {
		struct t_req req = *RING_GET_REQUEST(&back, back.req_cons++);

		RING_GET_RESPONSE(&back, back.rsp_prod_pvt++)->id = req.id;
	}
	/* The frontend never armed rsp_event past its initial value. */
	HV_RING_PUSH_RESPONSES(&back, (bnotes++, hv_evtchn_notify(f->hv, bp)));
	assert_int_equal(bnotes, 1);
	assert_int_not_equal(HV_RING_WAIT_RESPONSES(&front, 0), 0);
	assert_int_equal(RING_GET_RESPONSE(&front, front.rsp_cons++)->id, 7);
	assert_int_equal(RING_GET_RESPONSE(&front, front.rsp_cons++)->id, 8);
	assert_int_equal(HV_RING_WAIT_RESPONSES(&front, 1000), 0);
	assert_int_equal(hv_grant_unmap(f->hv, ring, 1), 0);

	/* The spin: 0 when nothing came within the budget, 1 when there was
	 * no need to spin. */
	assert_int_equal(HV_SPIN_UNTIL(fnotes == 99, 2000), 0);
	assert_int_equal(HV_SPIN_UNTIL(fnotes == 1, 2000), 1);
}

static void test_open_selection(void **state)
{
	struct fx *f = *state;
	struct hv_config cfg = { .impl = "bogus", .rundir = f->dir };
	struct hv *hv = (struct hv *)1;

	assert_int_equal(hv_open(&hv, &cfg), -EINVAL);
	assert_null(hv);
	cfg.impl = NULL;
	setenv("PVD_HV", "sim", 1);
	assert_int_equal(hv_open(&hv, &cfg), 0);
	assert_string_equal(hv_impl_name(hv), "sim");
	hv_close(hv);
	unsetenv("PVD_HV");
	hv_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_ref_out_of_range),
		T(test_not_permitted),
		T(test_granted_to_other_domain),
		T(test_readonly_for_write),
		T(test_end_access_while_mapped),
		T(test_reading_writing_flags),
		T(test_frame_captured_at_pin),
		T(test_grant_copy_both_directions),
		T(test_grant_copy_bad_segment),
		T(test_copy_pin_of_dead_process),
		T(test_multi_page_map),
		T(test_map_per_grant_mode),
		T(test_reserved_grants),
		T(test_domain_lifecycle),
		T(test_domain_alive),
		T(test_killed_guest_released_on_unmap),
		T(test_unsealed_files_refused),
		T(test_evtchn_notify_pending), T(test_evtchn_many),
		T(test_evtchn_backend_alloc_unbound),
		T(test_evtchn_bad_port),
		T(test_evtchn_port_of_other_domain),
		T(test_evtchn_peer_close), T(test_evtchn_rebind_before_guest_looks),
		T(test_evtchn_garbage_on_socket),
		T(test_ring_event_suppression),
		T(test_open_selection),
#undef T
	};

	log_init("test_hv_sim", LOG_LVL_ERR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
