/* The simulated hypervisor: grants for backends (the "sim" struct hv) and
 * the guest side (struct hv_sim_domain, include/pvd/hv_sim.h).
 *
 * Grant rules are Xen's (xen/common/grant_table.c), not a looser version:
 * - a backend opens a domain's files once and keeps them mapped; every
 *   grant is checked on every use;
 * - pinning a grant reads the guest's {flags, domid} word once, checks the
 *   copy (GTF_permit_access, granted to us, not GTF_readonly for a write)
 *   and sets GTF_reading (and GTF_writing) with a cmpxchg on that word,
 *   retried at most four times as Xen's _set_status_v1 does, so the guest's
 *   own cmpxchg in end-access cannot slip between check and set; the frame
 *   is read once after that and captured, like Xen's active entry;
 * - pin counts live in dom<N>.act, shared by every backend process, so that
 *   GTF_reading/GTF_writing are cleared only when the last user unpins.
 *   Each entry has a lock bit; the guest can write that file too, so a
 *   lock that stays taken makes our operation fail with -EAGAIN (bounded
 *   wait) instead of hanging, and every value read from it is checked.
 *
 * Cheap mappings: the domain's memory is mapped twice per handle, read-write
 * and read-only, when the domain is first used.  A single-page map, or a
 * multi-page map of consecutive frames, is a pointer into the right view:
 * no system call.  Other multi-page maps reserve an address range and
 * mmap the frames into it with MAP_FIXED, one mmap per run of consecutive
 * frames.  HV_F_SIM_MAP_PER_GRANT gives every map its own mmap, so that use
 * after unmap faults as on Xen.  Figures: docs/hypervisor-layer.md.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pvd/daemon.h"
#include "pvd/hv_sim.h"
#include "pvd/log.h"
#include "hv_impl.h"
#include "hv_sim_priv.h"

/* {flags, domid} of a v1 entry as one word, as Xen's union grant_combo. */
union gcombo {
	uint32_t raw;
	struct {
		uint16_t flags;
		domid_t domid;
	} s;
};

_Static_assert(sizeof(grant_entry_v1_t) == 8, "grant_entry_v1_t layout");
_Static_assert(offsetof(grant_entry_v1_t, domid) == 2, "grant_entry_v1_t layout");

/* ---------------------------------------------------------------------- */
/* Grant pinning, shared by map and copy                                  */
/* ---------------------------------------------------------------------- */

struct sim_dom {
	struct sim_dom *next;
	domid_t domid;
	int memfd;
	uint8_t *rw, *ro;
	size_t npages;
	grant_entry_v1_t *gnt;
	size_t gnt_len;
	struct simgnt_hdr *hdr;
	struct simgnt_act *act;
	size_t act_len;
	uint32_t nr_grants;
	unsigned nmaps;
	dev_t mem_dev;		/* which incarnation of the domain: its */
	ino_t mem_ino;		/* memfd, new for every creation */
	uint64_t checked_ns;	/* when that was last checked */
	bool stale;		/* a new incarnation (or none) holds the id */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Takes an entry's lock; returns the word without the lock bit, or -1 if
 * it stayed taken (a guest scribbling on its .act file, or a backend that
 * died holding it). */
static int64_t act_lock(struct simgnt_act *a)
{
	for (unsigned i = 0; i < 2000; i++) {
		uint32_t w = __atomic_load_n(&a->word, __ATOMIC_RELAXED);

		if (!(w & SIMGNT_LOCK) &&
		    __atomic_compare_exchange_n(&a->word, &w, w | SIMGNT_LOCK, 0,
						__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return w;
		if (i < 1000)
			cpu_relax();
		else
			sched_yield();
	}
	return -1;
}

static void act_unlock(struct simgnt_act *a, uint32_t w)
{
	__atomic_store_n(&a->word, w & ~SIMGNT_LOCK, __ATOMIC_RELEASE);
}

static void gnt_clear(grant_entry_v1_t *e, uint16_t bits)
{
	union gcombo m = { .s = { .flags = (uint16_t)~bits, .domid = (domid_t)~0 } };

	__atomic_fetch_and((uint32_t *)e, m.raw, __ATOMIC_RELEASE);
}

/* Xen's _set_status_v1. */
static int gnt_set_status(grant_entry_v1_t *e, domid_t self, int pinned,
			  int writable, int mapflag)
{
	uint32_t *raw = (uint32_t *)e;
	uint16_t mask = GTF_type_mask | (mapflag ? GTF_sub_page : 0);
	union gcombo cur, nw;

	cur.raw = __atomic_load_n(raw, __ATOMIC_ACQUIRE);
	for (int retries = 0; ; retries++) {
		if (!pinned && ((cur.s.flags & mask) != GTF_permit_access ||
				cur.s.domid != self))
			return GNTST_general_error;
		nw = cur;
		nw.s.flags |= GTF_reading;
		if (writable) {
			nw.s.flags |= GTF_writing;
			if (cur.s.flags & GTF_readonly)
				return GNTST_general_error;
		}
		if (__atomic_compare_exchange_n(raw, &cur.raw, nw.raw, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return GNTST_okay;
		if (retries == 4)
			return GNTST_general_error; /* entry unstable */
	}
}

/* A grant copy's pin, for the process after this one (see "A copy in
 * progress" below): written under the pin's lock, so that it says
 * PINNED exactly while the pin it names is counted. */
enum { SIMCOPY_FREE, SIMCOPY_PINNED };

struct simcopy_rec {
	uint32_t state;
	uint32_t domid, ref, writable;
	uint64_t dev, ino;    /* which incarnation of the domain (its memfd) */
};

static void simcopy_note(struct simcopy_rec *rec, const struct sim_dom *d,
			 grant_ref_t ref, int writable)
{
	if (!rec)
		return;
	rec->domid = d->domid;
	rec->ref = ref;
	rec->writable = (uint32_t)writable;
	rec->dev = d->mem_dev;
	rec->ino = d->mem_ino;
	__atomic_store_n(&rec->state, SIMCOPY_PINNED, __ATOMIC_RELEASE);
}

static void simcopy_clear(struct simcopy_rec *rec)
{
	if (rec)
		__atomic_store_n(&rec->state, SIMCOPY_FREE, __ATOMIC_RELEASE);
}

/* rec: a copy's pin is noted there (NULL for a map). */
static int simgnt_pin(struct sim_dom *d, grant_ref_t ref, domid_t self,
		      int writable, int mapflag, uint32_t *frame,
		      struct simcopy_rec *rec)
{
	struct simgnt_act *a;
	uint32_t ro, rw, f;
	int64_t lw;
	int st;

	if (ref >= d->nr_grants)
		return GNTST_bad_gntref;
	a = &d->act[ref];
	lw = act_lock(a);
	if (lw < 0) {
		log_warn("dom%u grant %u: pin lock stuck", (unsigned)d->domid, ref);
		return GNTST_eagain;
	}
	ro = SIMGNT_RO((uint32_t)lw);
	rw = SIMGNT_RW((uint32_t)lw);
	if ((ro + rw) && a->domid != self) {
		st = GNTST_general_error;
		goto out;
	}
	if ((writable ? rw : ro) >= SIMGNT_PIN_MAX - 1) {
		st = GNTST_general_error; /* pin count would overflow */
		goto out;
	}
	if (!(ro + rw) || (writable && !rw)) {
		st = gnt_set_status(&d->gnt[ref], self, (ro + rw) != 0,
				    writable, mapflag);
		if (st != GNTST_okay)
			goto out;
	}
	if (!(ro + rw)) {
		a->frame = __atomic_load_n(&d->gnt[ref].frame, __ATOMIC_RELAXED);
		a->domid = self;
	}
	f = a->frame;
	if (f >= d->npages) {
		/* Undo what this pin set. */
		if (writable && !rw)
			gnt_clear(&d->gnt[ref], GTF_writing);
		if (!(ro + rw))
			gnt_clear(&d->gnt[ref], GTF_reading);
		st = GNTST_bad_page;
		goto out;
	}
	lw += writable ? (1u << 15) : 1u;
	*frame = f;
	simcopy_note(rec, d, ref, writable);
	st = GNTST_okay;
out:
	act_unlock(a, (uint32_t)lw);
	return st;
}

static void simgnt_unpin(struct sim_dom *d, grant_ref_t ref, int writable,
			 struct simcopy_rec *rec)
{
	struct simgnt_act *a = &d->act[ref];
	uint32_t w;
	int64_t lw;

	lw = act_lock(a);
	if (lw < 0) {
		log_warn("dom%u grant %u: pin lock stuck; flags left set",
			 (unsigned)d->domid, ref);
		return;
	}
	w = (uint32_t)lw;
	if ((writable ? SIMGNT_RW(w) : SIMGNT_RO(w)) == 0) {
		log_warn("dom%u grant %u: pin count underflow", (unsigned)d->domid,
			 ref);
		act_unlock(a, w);
		return;
	}
	w -= writable ? (1u << 15) : 1u;
	if (writable && !SIMGNT_RW(w))
		gnt_clear(&d->gnt[ref], GTF_writing);
	if (!SIMGNT_RW(w) && !SIMGNT_RO(w))
		gnt_clear(&d->gnt[ref], GTF_reading);
	simcopy_clear(rec);
	act_unlock(a, w);
}

/* ---------------------------------------------------------------------- */
/* The backend handle                                                     */
/* ---------------------------------------------------------------------- */

struct sim_map {
	struct sim_map *next;
	void *addr;
	struct sim_dom *dom;
	unsigned count;
	uint8_t writable;
	uint8_t own;      /* an mmap of ours, to munmap */
	grant_ref_t refs[];
};

struct hv_sim {
	struct hv base;
	char hvdir[PATH_MAX];
	domid_t self;
	unsigned flags;
	struct sim_dom *doms;
	struct sim_dom *last;
	struct sim_map **buckets;
	unsigned nbuckets;
	unsigned nmaps;
	struct simev *ev;
	struct simcopy_rec *copy;	/* this handle's copy pin (or NULL) */
	int copyfd;			/* its file, flocked while we live */
	char copypath[PATH_MAX];
};

static struct hv_sim *to_sim(struct hv *hv)
{
	return (struct hv_sim *)hv;
}

static void simdom_close(struct sim_dom *d)
{
	if (d->rw && d->rw != MAP_FAILED)
		munmap(d->rw, d->npages << HV_PAGE_SHIFT);
	if (d->ro && d->ro != MAP_FAILED)
		munmap(d->ro, d->npages << HV_PAGE_SHIFT);
	if (d->gnt && (void *)d->gnt != MAP_FAILED)
		munmap(d->gnt, d->gnt_len);
	if (d->hdr && (void *)d->hdr != MAP_FAILED)
		munmap(d->hdr, d->act_len);
	if (d->memfd >= 0)
		close(d->memfd);
	free(d);
}

static void *map_file(int fd, size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Opening a domain: its three files in a row of stages (grant
 * bookkeeping, grant table, memory), each mapped and checked.  Sizes come
 * from the sealed files, never from what the guest wrote alone.  The
 * mappings outlive the descriptors, which each stage closes (the memory
 * file's stays open: grant copies pread it). */

/* "dom<id>.<ext>" in the hypervisor directory, opened writable. */
static int simdom_file(struct hv_sim *s, domid_t domid, const char *ext,
		       int *fd, size_t *size)
{
	char name[SIM_NAME_MAX];

	snprintf(name, sizeof(name), "dom%u.%s", (unsigned)domid, ext);
	return simfile_open(s->hvdir, name, 1, fd, size);
}

/* -errno of the mmap that just failed, logged. */
static int mmap_error(const struct sim_dom *d)
{
	int rc = -errno;

	log_err("dom%u: mmap: %s", (unsigned)d->domid, strerror(-rc));
	return rc;
}

static bool act_header_valid(const struct simgnt_hdr *h, domid_t domid,
			     size_t asz)
{
	return h->magic == SIMGNT_MAGIC && h->version == SIMGNT_VERSION &&
	       h->domid == domid && h->nr_grants != 0 &&
	       h->nr_grants <= HV_SIM_NR_GRANTS && h->npages != 0 &&
	       h->npages <= HV_SIM_MAX_PAGES &&
	       asz >= sizeof(*h) + (size_t)h->nr_grants * sizeof(struct simgnt_act);
}

/* dom<id>.act: the header (grant and page counts) and the active-grant
 * entries.  -ESRCH once the domain is dead. */
static int simdom_map_act(struct hv_sim *s, struct sim_dom *d)
{
	struct simgnt_hdr h;
	size_t asz;
	int fd, rc = simdom_file(s, d->domid, "act", &fd, &asz);

	if (rc < 0)
		return rc;
	if (asz < sizeof(h)) {
		close(fd);
		return -EINVAL;
	}
	d->act_len = asz;
	d->hdr = map_file(fd, asz, PROT_READ | PROT_WRITE);
	rc = d->hdr ? 0 : mmap_error(d);
	close(fd);
	if (rc < 0)
		return rc;
	memcpy(&h, d->hdr, sizeof(h));
	if (!act_header_valid(&h, d->domid, asz)) {
		log_warn("dom%u: bad grant bookkeeping header", (unsigned)d->domid);
		return -EINVAL;
	}
	if (h.dead)
		return -ESRCH;
	d->act = (struct simgnt_act *)(d->hdr + 1);
	d->nr_grants = h.nr_grants;
	d->npages = h.npages;
	return 0;
}

/* dom<id>.gnt: the grant table, as many entries as the header says. */
static int simdom_map_gnt(struct hv_sim *s, struct sim_dom *d)
{
	size_t gsz;
	int fd, rc = simdom_file(s, d->domid, "gnt", &fd, &gsz);

	if (rc < 0)
		return rc;
	d->gnt_len = (size_t)d->nr_grants * sizeof(grant_entry_v1_t);
	if (gsz < d->gnt_len) {
		close(fd);
		return -EINVAL;
	}
	d->gnt = map_file(fd, d->gnt_len, PROT_READ | PROT_WRITE);
	rc = d->gnt ? 0 : mmap_error(d);
	close(fd);
	return rc;
}

/* dom<id>.mem: the pages, mapped writable and read-only; the file's
 * identity is kept to notice a new domain with the same id. */
static int simdom_map_mem(struct hv_sim *s, struct sim_dom *d)
{
	size_t len = d->npages << HV_PAGE_SHIFT;
	struct stat st;
	size_t msz;
	int rc = simdom_file(s, d->domid, "mem", &d->memfd, &msz);

	if (rc < 0)
		return rc;
	if (fstat(d->memfd, &st) < 0)
		return -errno;
	d->mem_dev = st.st_dev;
	d->mem_ino = st.st_ino;
	if (msz < len)
		return -EINVAL;
	d->rw = map_file(d->memfd, len, PROT_READ | PROT_WRITE);
	if (!d->rw)
		return mmap_error(d);
	d->ro = map_file(d->memfd, len, PROT_READ);
	return d->ro ? 0 : mmap_error(d);
}

static int simdom_open(struct hv_sim *s, domid_t domid, struct sim_dom **out)
{
	struct sim_dom *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	d->memfd = -1;
	d->domid = domid;
	rc = simdom_map_act(s, d);
	if (rc == 0)
		rc = simdom_map_gnt(s, d);
	if (rc == 0)
		rc = simdom_map_mem(s, d);
	if (rc < 0)
		goto fail;
	*out = d;
	return 0;
fail:
	simdom_close(d);
	if (rc != -ESRCH)
		log_warn("dom%u: cannot open its memory: %s", (unsigned)domid,
			 strerror(-rc));
	return rc;
}

static void simdom_forget(struct hv_sim *s, struct sim_dom *d)
{
	for (struct sim_dom **pp = &s->doms; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	if (s->last == d)
		s->last = NULL;
	simdom_close(d);
}

/* The cached domain, reopened if it was destroyed and nothing of it is
 * mapped any more (a new domain may have taken its id). */
/* Whether d is still the domain that holds its id: a guest killed with
 * SIGKILL never sets hdr->dead, and a new guest may take its id; its
 * memory file (a link to the creator's memfd) then leads elsewhere or
 * nowhere. */
static bool simdom_current(const struct hv_sim *s, const struct sim_dom *d)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/dom%u.mem", s->hvdir,
		     (unsigned)d->domid) >= (int)sizeof(path))
		return false;
	return stat(path, &st) == 0 && st.st_dev == d->mem_dev &&
	       st.st_ino == d->mem_ino;
}

/* The identity check costs a stat: made at most every 100 ms per domain
 * on the map and copy paths, or whenever asked (hv_domain_alive). */
#define SIMDOM_CHECK_NS (100ull * 1000 * 1000)

static bool simdom_stale(const struct hv_sim *s, struct sim_dom *d, bool force)
{
	struct timespec ts;
	uint64_t now;

	if (d->stale)
		return true;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (!force && now - d->checked_ns < SIMDOM_CHECK_NS)
		return false;
	/* Only the map and copy paths' own checks start a 100 ms window: an
	 * asked-for check (pvd-stored's, once a second) that found the guest
	 * alive just before it was killed would otherwise keep its memory
	 * open at the last unmap until its id is reused. */
	if (!force)
		d->checked_ns = now;
	d->stale = !simdom_current(s, d);
	return d->stale;
}

/* Forgets every cached domain with nothing mapped that died or whose id
 * now leads elsewhere.  A domain whose last mapping went while it was
 * still alive (a backend that halted its rings, a vif detached before the
 * guest was destroyed) is otherwise kept, with its memory file open and
 * mapped, until its id is used again: one descriptor and the pages it
 * touched per such guest, for ever. */
static void simdom_sweep(struct hv_sim *s)
{
	for (struct sim_dom *d = s->doms, *nx; d; d = nx) {
		nx = d->next;
		if (!d->nmaps && (__atomic_load_n(&d->hdr->dead, __ATOMIC_ACQUIRE) ||
				  simdom_stale(s, d, true)))
			simdom_forget(s, d);
	}
}

static int simdom_get(struct hv_sim *s, domid_t domid, struct sim_dom **out)
{
	struct sim_dom *d = s->last;
	int rc;

	if (!d || d->domid != domid) {
		for (d = s->doms; d && d->domid != domid; d = d->next)
			;
	}
	/* While mapped, a stale domain is the caller's to notice (through
	 * hv_domain_alive); unmapped, it is replaced here. */
	if (d && (__atomic_load_n(&d->hdr->dead, __ATOMIC_ACQUIRE) ||
		  (d->nmaps == 0 && simdom_stale(s, d, false)))) {
		if (d->nmaps)
			return -ESRCH;   /* dying: unmaps only */
		simdom_forget(s, d);
		d = NULL;
	}
	if (!d) {
		simdom_sweep(s);
		rc = simdom_open(s, domid, &d);
		if (rc < 0)
			return rc;
		d->next = s->doms;
		s->doms = d;
	}
	s->last = d;
	*out = d;
	return 0;
}

static unsigned map_hash(const struct hv_sim *s, const void *addr)
{
	uintptr_t a = (uintptr_t)addr >> HV_PAGE_SHIFT;

	return (unsigned)((a * 0x9E3779B97F4A7C15ull) >> 40) & (s->nbuckets - 1);
}

static int maps_grow(struct hv_sim *s)
{
	unsigned nb = s->nbuckets ? s->nbuckets * 2 : 64;
	struct sim_map **b = calloc(nb, sizeof(*b));
	struct sim_map **old = s->buckets;
	unsigned on = s->nbuckets;

	if (!b)
		return -ENOMEM;
	s->buckets = b;
	s->nbuckets = nb;
	for (unsigned i = 0; i < on; i++) {
		for (struct sim_map *m = old[i], *nx; m; m = nx) {
			unsigned h = map_hash(s, m->addr);

			nx = m->next;
			m->next = b[h];
			b[h] = m;
		}
	}
	free(old);
	return 0;
}

static int map_region(struct hv_sim *s, struct sim_dom *d,
		      const uint32_t *frames, unsigned count, int writable,
		      void **addr, int *own)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	int contiguous = 1;
	uint8_t *base;

	for (unsigned i = 1; i < count && contiguous; i++)
		contiguous = frames[i] == frames[0] + i;
	if (contiguous && !(s->flags & HV_F_SIM_MAP_PER_GRANT)) {
		*addr = (writable ? d->rw : d->ro) +
			((size_t)frames[0] << HV_PAGE_SHIFT);
		*own = 0;
		return 0;
	}
	if (count == 1) {
		base = mmap(NULL, HV_PAGE_SIZE, prot, MAP_SHARED, d->memfd,
			    (off_t)frames[0] << HV_PAGE_SHIFT);
		if (base == MAP_FAILED)
			return -errno;
	} else {
		base = mmap(NULL, (size_t)count << HV_PAGE_SHIFT, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (base == MAP_FAILED)
			return -errno;
		for (unsigned i = 0, run; i < count; i += run) {
			for (run = 1; i + run < count &&
			     frames[i + run] == frames[i] + run; run++)
				;
			if (mmap(base + ((size_t)i << HV_PAGE_SHIFT),
				 (size_t)run << HV_PAGE_SHIFT, prot,
				 MAP_SHARED | MAP_FIXED, d->memfd,
				 (off_t)frames[i] << HV_PAGE_SHIFT) == MAP_FAILED) {
				int rc = -errno;

				munmap(base, (size_t)count << HV_PAGE_SHIFT);
				return rc;
			}
		}
	}
	*addr = base;
	*own = 1;
	return 0;
}

static int sim_grant_map(struct hv *hv, domid_t domid, unsigned count,
			 const grant_ref_t *refs, int writable, void **addr)
{
	struct hv_sim *s = to_sim(hv);
	uint32_t fstack[16], *frames = fstack;
	struct sim_map *m = NULL;
	struct sim_dom *d;
	unsigned pinned = 0, h;
	int rc, own = 0;

	rc = simdom_get(s, domid, &d);
	if (rc < 0)
		return rc;
	if (s->nmaps >= s->nbuckets && maps_grow(s) < 0)
		return -ENOMEM;
	m = malloc(sizeof(*m) + count * sizeof(grant_ref_t));
	if (count > 16)
		frames = malloc(count * sizeof(*frames));
	if (!m || !frames) {
		rc = -ENOMEM;
		goto fail;
	}
	for (; pinned < count; pinned++) {
		int st = simgnt_pin(d, refs[pinned], s->self, writable, 1,
				    &frames[pinned], NULL);

		if (st != GNTST_okay) {
			rc = hv_gntst_to_errno(st);
			log_debug("dom%u grant %u: GNTST %d", (unsigned)domid,
				  refs[pinned], st);
			goto fail;
		}
		m->refs[pinned] = refs[pinned];
	}
	rc = map_region(s, d, frames, count, writable, addr, &own);
	if (rc < 0) {
		log_err("dom%u: mapping %u grants: %s", (unsigned)domid, count,
			strerror(-rc));
		goto fail;
	}
	m->addr = *addr;
	m->dom = d;
	m->count = count;
	m->writable = writable != 0;
	m->own = (uint8_t)own;
	h = map_hash(s, m->addr);
	m->next = s->buckets[h];
	s->buckets[h] = m;
	s->nmaps++;
	d->nmaps++;
	if (frames != fstack)
		free(frames);
	return 0;
fail:
	while (pinned--)
		simgnt_unpin(d, refs[pinned], writable, NULL);
	if (frames != fstack)
		free(frames);
	free(m);
	return rc;
}

static void map_release(struct hv_sim *s, struct sim_map *m)
{
	struct sim_dom *d = m->dom;

	for (unsigned i = 0; i < m->count; i++)
		simgnt_unpin(d, m->refs[i], m->writable, NULL);
	if (m->own)
		munmap(m->addr, (size_t)m->count << HV_PAGE_SHIFT);
	s->nmaps--;
	d->nmaps--;
	free(m);
	/* A dead domain's memory must not stay pinned here: forget it with
	 * its last mapping (SIGKILL leaves no dead flag; the stat tells). */
	if (!d->nmaps && (__atomic_load_n(&d->hdr->dead, __ATOMIC_ACQUIRE) ||
			  simdom_stale(s, d, false)))
		simdom_forget(s, d);
}

static int sim_grant_unmap(struct hv *hv, void *addr, unsigned count)
{
	struct hv_sim *s = to_sim(hv);
	struct sim_map **pp;

	if (!s->nbuckets)
		return -EINVAL;
	for (pp = &s->buckets[map_hash(s, addr)]; *pp; pp = &(*pp)->next) {
		struct sim_map *m = *pp;

		if (m->addr == addr && m->count == count) {
			*pp = m->next;
			map_release(s, m);
			return 0;
		}
	}
	log_warn("no grant mapping of %u pages at %p", count, addr);
	return -EINVAL;
}

static int copy_one(struct hv_sim *s, struct hv_copy_seg *seg)
{
	int to = seg->dir == HV_COPY_TO_GRANT;
	struct sim_dom *d;
	uint32_t frame;
	uint8_t *page;
	int rc, st;

	if (seg->dir != HV_COPY_FROM_GRANT && !to)
		return -EINVAL;
	if ((unsigned)seg->offset + seg->len > HV_PAGE_SIZE)
		return hv_gntst_to_errno(GNTST_bad_copy_arg);
	if (!seg->local)
		return hv_gntst_to_errno(GNTST_bad_virt_addr);
	rc = simdom_get(s, seg->domid, &d);
	if (rc < 0)
		return rc;
	st = simgnt_pin(d, seg->ref, s->self, to, 0, &frame, s->copy);
	if (st != GNTST_okay)
		return hv_gntst_to_errno(st);
	page = d->rw + ((size_t)frame << HV_PAGE_SHIFT) + seg->offset;
	if (to)
		memcpy(page, seg->local, seg->len);
	else
		memcpy(seg->local, page, seg->len);
	simgnt_unpin(d, seg->ref, to, s->copy);
	return 0;
}

static int sim_grant_copy(struct hv *hv, struct hv_copy_seg *segs, unsigned n)
{
	struct hv_sim *s = to_sim(hv);
	int first = 0;

	for (unsigned i = 0; i < n; i++) {
		segs[i].status = copy_one(s, &segs[i]);
		if (segs[i].status && !first)
			first = segs[i].status;
	}
	return first;
}

static int sim_evtchn_fd(struct hv *hv)
{
	return simev_fd(to_sim(hv)->ev);
}

static int sim_bind_interdomain(struct hv *hv, domid_t domid,
				evtchn_port_t remote_port, evtchn_port_t *local)
{
	struct hv_sim *s = to_sim(hv);

	/* A new connection: if nothing of the domain is mapped, drop what we
	 * cached of it, in case it is a new domain with a reused id. */
	for (struct sim_dom *d = s->doms; d; d = d->next) {
		if (d->domid == domid && !d->nmaps) {
			simdom_forget(s, d);
			break;
		}
	}
	return simev_bind_interdomain(s->ev, domid, remote_port, local);
}

static int sim_alloc_unbound(struct hv *hv, domid_t remote, evtchn_port_t *port)
{
	return simev_alloc_unbound(to_sim(hv)->ev, remote, port);
}

static int sim_notify(struct hv *hv, evtchn_port_t port)
{
	return simev_notify(to_sim(hv)->ev, port);
}

static int sim_pending(struct hv *hv, evtchn_port_t *port)
{
	return simev_pending(to_sim(hv)->ev, port);
}

static int sim_unmask(struct hv *hv, evtchn_port_t port)
{
	return simev_unmask(to_sim(hv)->ev, port);
}

static int sim_unbind(struct hv *hv, evtchn_port_t port)
{
	return simev_unbind(to_sim(hv)->ev, port);
}

static int sim_domain_alive(struct hv *hv, domid_t domid)
{
	struct hv_sim *s = to_sim(hv);
	char path[PATH_MAX];
	int fd, rc;

	/* The incarnation this handle knows may be gone even though the id
	 * lives again: for the caller, its domain is dead. */
	for (struct sim_dom *d = s->doms; d; d = d->next)
		if (d->domid == domid && simdom_stale(s, d, true))
			return 0;
	if (snprintf(path, sizeof(path), "%s/dom%u.lock", s->hvdir,
		     (unsigned)domid) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* The creator holds LOCK_EX for the domain's life; the kernel drops
	 * it when the creator exits, however it exits. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		rc = 0;
	else
		rc = errno == EWOULDBLOCK ? 1 : -errno;
	close(fd);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* A copy in progress, for the process after this one                     */
/* ---------------------------------------------------------------------- */

/* Xen copies inside a hypercall: a process killed during a grant copy
 * leaves no pin behind, and Linux's gntdev unmaps a dead process's
 * grants.  Here a copy is this process's own memcpy between a pin and an
 * unpin in dom<N>.act, which a kill -9 can split: the grant stayed
 * GTF_reading/GTF_writing for ever and the guest could never end its
 * access (pvguest's netfront, as Linux's, then disables the NIC: "grant
 * still in use").  So each handle notes its one copy pin in a file
 * copy.<pid>.XXXXXX of the hv directory, which it holds with flock for its
 * life; a handle opened later undoes the pin of every record whose holder
 * is gone.  (A dead process's grant maps are not undone: a restarted
 * backend maps its rings again, and the pins go with the domain.) */
static void simcopy_undo(struct hv_sim *s, const struct simcopy_rec *r)
{
	struct sim_dom *d;

	if (r->domid >= DOMID_FIRST_RESERVED ||
	    simdom_get(s, (domid_t)r->domid, &d) < 0 ||
	    d->mem_dev != (dev_t)r->dev || d->mem_ino != (ino_t)r->ino ||
	    r->ref >= d->nr_grants)
		return;		/* that domain is gone, and its pins with it */
	simgnt_unpin(d, r->ref, r->writable != 0, NULL);
	log_info("sim: dom%u grant %u: the copy pin of a process that died, "
		 "undone", (unsigned)r->domid, r->ref);
}

static void simcopy_recover(struct hv_sim *s)
{
	DIR *dir = opendir(s->hvdir);
	struct dirent *e;

	if (!dir)
		return;
	while ((e = readdir(dir))) {
		struct simcopy_rec r;
		int fd;

		if (strncmp(e->d_name, "copy.", 5) != 0)
			continue;
		fd = openat(dirfd(dir), e->d_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* Held: its process lives.  Taken: ours to undo, once (FREE
		 * is written before the name goes). */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			if (pread(fd, &r, sizeof(r), 0) == (ssize_t)sizeof(r) &&
			    r.state == SIMCOPY_PINNED) {
				simcopy_undo(s, &r);
				r.state = SIMCOPY_FREE;
				if (pwrite(fd, &r, sizeof(r), 0) < 0)
					log_warn("sim: %s: %s", e->d_name,
						 strerror(errno));
			}
			unlinkat(dirfd(dir), e->d_name, 0);
		}
		close(fd);
	}
	closedir(dir);
}

/* This handle's record: made under a name recovery ignores, locked, then
 * renamed, so that no recovery takes it for a dead process's.  Without
 * one the handle works as before (a kill may then leave a pin). */
static void simcopy_start(struct hv_sim *s)
{
	char tmp[PATH_MAX];
	void *p;
	int fd;

	s->copyfd = -1;
	if (snprintf(tmp, sizeof(tmp), "%s/new-copy.%d.XXXXXX", s->hvdir,
		     (int)getpid()) >= (int)sizeof(tmp) ||
	    snprintf(s->copypath, sizeof(s->copypath), "%s/copy.%d.%s",
		     s->hvdir, (int)getpid(), "XXXXXX") >= (int)sizeof(s->copypath))
		return;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		goto fail;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 ||
	    ftruncate(fd, sizeof(struct simcopy_rec)) < 0)
		goto fail;
	p = mmap(NULL, sizeof(struct simcopy_rec), PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	/* copy.<pid>.<the same six characters> */
	memcpy(s->copypath + strlen(s->copypath) - 6, tmp + strlen(tmp) - 6, 6);
	if (rename(tmp, s->copypath) < 0) {
		munmap(p, sizeof(struct simcopy_rec));
		goto fail;
	}
	s->copy = p;
	s->copyfd = fd;
	return;
fail:
	log_warn("sim: no copy record in %s: %s", s->hvdir, strerror(errno));
	if (fd >= 0) {
		unlink(tmp);
		close(fd);
	}
	s->copypath[0] = '\0';
}

static void simcopy_stop(struct hv_sim *s)
{
	if (!s->copy)
		return;
	unlink(s->copypath);
	munmap(s->copy, sizeof(*s->copy));
	close(s->copyfd);
	s->copy = NULL;
	s->copyfd = -1;
}

static void sim_close(struct hv *hv)
{
	struct hv_sim *s = to_sim(hv);

	for (unsigned i = 0; i < s->nbuckets; i++) {
		while (s->buckets[i]) {
			struct sim_map *m = s->buckets[i];

			s->buckets[i] = m->next;
			map_release(s, m);
		}
	}
	free(s->buckets);
	simcopy_stop(s);
	while (s->doms)
		simdom_forget(s, s->doms);
	simev_destroy(s->ev);
	free(s);
}

static const struct hv_ops sim_ops = {
	.name = "sim",
	.close = sim_close,
	.grant_map = sim_grant_map,
	.grant_unmap = sim_grant_unmap,
	.grant_copy = sim_grant_copy,
	.evtchn_fd = sim_evtchn_fd,
	.evtchn_bind_interdomain = sim_bind_interdomain,
	.evtchn_alloc_unbound = sim_alloc_unbound,
	.evtchn_notify = sim_notify,
	.evtchn_pending = sim_pending,
	.evtchn_unmask = sim_unmask,
	.evtchn_unbind = sim_unbind,
	.domain_alive = sim_domain_alive,
};

int hv_sim_open(struct hv **out, const struct hv_config *cfg)
{
	const char *mode = getenv("PVD_HV_SIM_MAP");
	struct hv_sim *s;
	int rc;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.ops = &sim_ops;
	s->self = cfg ? cfg->domid : 0;
	s->flags = cfg ? cfg->flags : 0;
	if (mode && strcmp(mode, "mmap") == 0)
		s->flags |= HV_F_SIM_MAP_PER_GRANT;
	if (s->self >= DOMID_FIRST_RESERVED) {
		log_err("sim: invalid domain id %u", (unsigned)s->self);
		rc = -EINVAL;
		goto fail;
	}
	rc = simfile_dir(s->hvdir, sizeof(s->hvdir), cfg ? cfg->rundir : NULL);
	if (rc == 0)
		rc = pvd_mkdir_p(s->hvdir, 0750);
	if (rc < 0) {
		log_err("sim: %s: %s", s->hvdir, strerror(-rc));
		goto fail;
	}
	rc = maps_grow(s);
	if (rc < 0)
		goto fail;
	rc = simev_create(&s->ev, s->hvdir, s->self, 0);
	if (rc < 0)
		goto fail;
	simcopy_recover(s);
	simcopy_start(s);
	*out = &s->base;
	return 0;
fail:
	free(s->buckets);
	free(s);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* The guest side                                                         */
/* ---------------------------------------------------------------------- */

struct hv_sim_domain {
	char hvdir[PATH_MAX];
	domid_t domid;
	int lockfd;
	size_t npages;
	struct simfile mem, gnt, act;
	struct simgnt_hdr *hdr;
	grant_entry_v1_t *entries;
	uint64_t *used;          /* page allocation bitmap */
	unsigned long console_page, xenstore_page;
	struct simev *ev;
};

void hv_sim_domain_destroy(struct hv_sim_domain *dom)
{
	if (!dom)
		return;
	if (dom->hdr)
		__atomic_store_n(&dom->hdr->dead, 1, __ATOMIC_RELEASE);
	simev_destroy(dom->ev);
	simfile_destroy(&dom->act);
	simfile_destroy(&dom->gnt);
	simfile_destroy(&dom->mem);
	if (dom->lockfd >= 0) {
		char path[PATH_MAX];

		/* Unlinked while still held: nobody can take a stale file. */
		if (snprintf(path, sizeof(path), "%s/dom%u.lock", dom->hvdir,
			     (unsigned)dom->domid) < (int)sizeof(path))
			unlink(path);
		close(dom->lockfd);
	}
	free(dom->used);
	free(dom);
}

int hv_sim_domain_cleanup(const char *rundir, domid_t domid)
{
	static const char *const sfx[] = { "mem", "gnt", "act", "evt", "sock", "lock" };
	char hvdir[PATH_MAX], name[SIM_NAME_MAX], path[PATH_MAX + SIM_NAME_MAX];
	int fd, rc;

	rc = simfile_dir(hvdir, sizeof(hvdir), rundir);
	if (rc < 0)
		return rc;
	snprintf(name, sizeof(name), "dom%u.lock", (unsigned)domid);
	rc = simfile_lock(hvdir, name, &fd);
	if (rc == -EEXIST)
		return -EBUSY;		/* alive */
	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	/* Holding the lock, nobody can be creating the domain meanwhile. */
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(path, sizeof(path), "%s/dom%u.%s", hvdir,
			 (unsigned)domid, sfx[i]);
		unlink(path);
	}
	close(fd);
	return 0;
}

int hv_sim_domain_create(const char *rundir, domid_t domid, size_t npages,
			 struct hv_sim_domain **out)
{
	char name[SIM_NAME_MAX];
	struct hv_sim_domain *dom;
	int rc;

	*out = NULL;
	if (domid == 0 || domid >= DOMID_FIRST_RESERVED || npages < 2 ||
	    npages > HV_SIM_MAX_PAGES)
		return -EINVAL;
	dom = calloc(1, sizeof(*dom));
	if (!dom)
		return -ENOMEM;
	dom->domid = domid;
	dom->npages = npages;
	dom->lockfd = -1;
	dom->mem.fd = dom->gnt.fd = dom->act.fd = -1;
	dom->mem.addr = dom->gnt.addr = dom->act.addr = MAP_FAILED;
	dom->used = calloc((npages + 63) / 64, sizeof(uint64_t));
	if (!dom->used) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = simfile_dir(dom->hvdir, sizeof(dom->hvdir), rundir);
	if (rc == 0)
		rc = pvd_mkdir_p(dom->hvdir, 0750);
	if (rc < 0)
		goto fail;
	snprintf(name, sizeof(name), "dom%u.lock", (unsigned)domid);
	rc = simfile_lock(dom->hvdir, name, &dom->lockfd);
	if (rc < 0) {
		if (rc == -EEXIST)
			log_err("dom%u already exists", (unsigned)domid);
		goto fail;
	}
	snprintf(name, sizeof(name), "dom%u.mem", (unsigned)domid);
	rc = simfile_create(&dom->mem, dom->hvdir, name,
			    npages << HV_PAGE_SHIFT, 0);
	if (rc < 0)
		goto fail;
	snprintf(name, sizeof(name), "dom%u.gnt", (unsigned)domid);
	rc = simfile_create(&dom->gnt, dom->hvdir, name,
			    HV_SIM_NR_GRANTS * sizeof(grant_entry_v1_t), 0);
	if (rc < 0)
		goto fail;
	snprintf(name, sizeof(name), "dom%u.act", (unsigned)domid);
	rc = simfile_create(&dom->act, dom->hvdir, name,
			    sizeof(struct simgnt_hdr) +
			    HV_SIM_NR_GRANTS * sizeof(struct simgnt_act), 0);
	if (rc < 0)
		goto fail;
	dom->entries = dom->gnt.addr;
	dom->hdr = dom->act.addr;
	*dom->hdr = (struct simgnt_hdr){
		.magic = SIMGNT_MAGIC, .version = SIMGNT_VERSION,
		.npages = (uint32_t)npages, .nr_grants = HV_SIM_NR_GRANTS,
		.domid = domid, .pid = (uint32_t)getpid(),
	};
	/* The header is the last thing a backend reads: publish it last. */
	if ((rc = simfile_publish(&dom->mem)) < 0 ||
	    (rc = simfile_publish(&dom->gnt)) < 0 ||
	    (rc = simfile_publish(&dom->act)) < 0)
		goto fail;
	rc = simev_create(&dom->ev, dom->hvdir, domid, 1);
	if (rc < 0)
		goto fail;
	if ((rc = hv_sim_page_alloc(dom, &dom->console_page)) < 0 ||
	    (rc = hv_sim_page_alloc(dom, &dom->xenstore_page)) < 0 ||
	    (rc = hv_sim_grant(dom, GNTTAB_RESERVED_CONSOLE, dom->console_page,
			       0, 0)) < 0 ||
	    (rc = hv_sim_grant(dom, GNTTAB_RESERVED_XENSTORE,
			       dom->xenstore_page, 0, 0)) < 0)
		goto fail;
	*out = dom;
	return 0;
fail:
	hv_sim_domain_destroy(dom);
	return rc;
}

domid_t hv_sim_domain_id(const struct hv_sim_domain *dom)
{
	return dom->domid;
}

size_t hv_sim_domain_npages(const struct hv_sim_domain *dom)
{
	return dom->npages;
}

unsigned long hv_sim_console_page(const struct hv_sim_domain *dom)
{
	return dom->console_page;
}

unsigned long hv_sim_xenstore_page(const struct hv_sim_domain *dom)
{
	return dom->xenstore_page;
}

void *hv_sim_page(struct hv_sim_domain *dom, unsigned long page)
{
	if (page >= dom->npages)
		return NULL;
	return (uint8_t *)dom->mem.addr + (page << HV_PAGE_SHIFT);
}

int hv_sim_page_alloc(struct hv_sim_domain *dom, unsigned long *page)
{
	for (size_t w = 0; w < (dom->npages + 63) / 64; w++) {
		uint64_t free_bits = ~dom->used[w];
		unsigned long p;

		if (!free_bits)
			continue;
		p = w * 64 + (unsigned long)__builtin_ctzll(free_bits);
		if (p >= dom->npages)
			break;
		dom->used[w] |= 1ull << (p % 64);
		memset(hv_sim_page(dom, p), 0, HV_PAGE_SIZE);
		*page = p;
		return 0;
	}
	return -ENOMEM;
}

int hv_sim_page_free(struct hv_sim_domain *dom, unsigned long page)
{
	if (page >= dom->npages || !(dom->used[page / 64] & (1ull << (page % 64))))
		return -EINVAL;
	dom->used[page / 64] &= ~(1ull << (page % 64));
	return 0;
}

grant_entry_v1_t *hv_sim_grant_entry(struct hv_sim_domain *dom,
				     grant_ref_t ref)
{
	return ref < HV_SIM_NR_GRANTS ? &dom->entries[ref] : NULL;
}

int hv_sim_grant(struct hv_sim_domain *dom, grant_ref_t ref,
		 unsigned long page, domid_t to_domid, int readonly)
{
	grant_entry_v1_t *e = hv_sim_grant_entry(dom, ref);
	union gcombo cur, nw;

	if (!e || page >= dom->npages || to_domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	cur.raw = __atomic_load_n((uint32_t *)e, __ATOMIC_ACQUIRE);
	if (cur.s.flags & (GTF_type_mask | GTF_reading | GTF_writing))
		return -EBUSY;
	__atomic_store_n(&e->frame, (uint32_t)page, __ATOMIC_RELAXED);
	nw.s.domid = to_domid;
	nw.s.flags = GTF_permit_access | (readonly ? GTF_readonly : 0);
	/* Frame and domid before the flags that make them valid. */
	if (!__atomic_compare_exchange_n((uint32_t *)e, &cur.raw, nw.raw, 0,
					 __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		return -EBUSY;
	return 0;
}

int hv_sim_end_access(struct hv_sim_domain *dom, grant_ref_t ref)
{
	grant_entry_v1_t *e = hv_sim_grant_entry(dom, ref);
	union gcombo cur, nw;

	if (!e)
		return -EINVAL;
	cur.raw = __atomic_load_n((uint32_t *)e, __ATOMIC_ACQUIRE);
	do {
		if (cur.s.flags & (GTF_reading | GTF_writing))
			return -EBUSY;
		nw = cur;
		nw.s.flags = 0;
	} while (!__atomic_compare_exchange_n((uint32_t *)e, &cur.raw, nw.raw, 0,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return 0;
}

int hv_sim_evtchn_fd(struct hv_sim_domain *dom)
{
	return simev_fd(dom->ev);
}

int hv_sim_evtchn_alloc_unbound(struct hv_sim_domain *dom,
				domid_t remote_domid, evtchn_port_t *port)
{
	return simev_alloc_unbound(dom->ev, remote_domid, port);
}

int hv_sim_evtchn_bind_interdomain(struct hv_sim_domain *dom,
				   domid_t remote_domid,
				   evtchn_port_t remote_port,
				   evtchn_port_t *local)
{
	return simev_bind_interdomain(dom->ev, remote_domid, remote_port, local);
}

int hv_sim_evtchn_notify(struct hv_sim_domain *dom, evtchn_port_t port)
{
	return simev_notify(dom->ev, port);
}

int hv_sim_evtchn_pending(struct hv_sim_domain *dom, evtchn_port_t *port)
{
	return simev_pending(dom->ev, port);
}

int hv_sim_evtchn_unmask(struct hv_sim_domain *dom, evtchn_port_t port)
{
	return simev_unmask(dom->ev, port);
}

int hv_sim_evtchn_unbind(struct hv_sim_domain *dom, evtchn_port_t port)
{
	return simev_unbind(dom->ev, port);
}

int hv_sim_evtchn_wait(struct hv_sim_domain *dom, int timeout_ms)
{
	return hv_wait_readable(simev_fd(dom->ev), timeout_ms);
}
