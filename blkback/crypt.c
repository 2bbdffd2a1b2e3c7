/* Encrypted disks: the crypt layer between the pipeline and an engine
 * (crypt.h).
 *
 * Follows dm-crypt (drivers/md/dm-crypt.c): reads are submitted to the
 * backing and decrypted in place in the caller's pages at completion
 * (kcryptd_crypt_read_convert); writes are encrypted into bounce pages
 * from a bounded pool (crypt_alloc_buffer, its mempool) and the pages
 * submitted (kcryptd_crypt_write_convert).  A write that finds the pool
 * empty waits in FIFO order for pages that writes in flight give back,
 * as dm-crypt's allocation sleeps on the mempool; nothing is allocated
 * per request once the pool has grown.
 *
 * An encryption sector of 4096 (LUKS2 sector_size) makes the disk's
 * logical sector 4096 (advertised in "sector-size", which Linux's
 * blkfront takes as the queue's logical block size): a request not
 * aligned to it is refused (-EINVAL, BLKIF_RSP_ERROR), as dm-crypt
 * refuses a bio misaligned to its sector_size.  The guest's segments are
 * whole 512-byte sectors, so a 4096-byte sector may straddle two of them:
 * it is gathered into a buffer, decrypted and scattered back.
 *
 * The header is read at attach through a private instance of the engine
 * (its own engine and backing, reaped synchronously here), never through
 * the loop's engine, whose completions belong to other disks.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pvd/log.h"
#include "crypt.h"
#include "eng_util.h"
#include "luks.h"

#define PAGE 4096u
#define REQ_PAGES 256u              /* BLK_MAX_INDIRECT_SEGS: 1 MiB */
#define CHUNK_PAGES 64u             /* the pool grows by 256 KiB */
#define MAX_CHUNKS ((BLK_CRYPT_POOL_PAGES * 4 + CHUNK_PAGES - 1) / CHUNK_PAGES)
#define HDR_CHUNK (64u * 1024)      /* header reads, per submission */
#define HDR_TIMEOUT_MS 30000

struct crypt_dev;

/* One request in flight to the inner backing. */
struct crypt_req {
	struct blk_io io;               /* to the inner backing */
	struct blk_io *outer;           /* the pipeline's */
	struct crypt_dev *cd;
	unsigned npages;
	/* The bounce pages, [REQ_PAGES]: allocated by the request's first
	 * write and kept (the free list is LIFO: few requests ever write). */
	struct iovec *iov;
	struct crypt_req *next_free;
};

struct crypt_dev {
	struct blk_backing base;
	const struct blk_backend_ops *iops;
	struct blk_backing *inner;
	struct luks_volume *v;
	uint64_t poff;                  /* payload offset, bytes */
	uint64_t fixed;                 /* LUKS2 fixed segment size; 0: dynamic */
	unsigned ssize;
	bool discard;
	struct crypt_req *reqs, *free;
	struct blk_ioq wait;            /* outer ios waiting for a req or pages */
	void **pg;                      /* free pages (a stack) */
	unsigned npg, pg_total, pg_max;
	void *chunk[MAX_CHUNKS];
	unsigned nchunks;
	uint64_t bounce_waits;
};

static struct crypt_dev *cd_of(const struct blk_backing *b)
{
	return container_of(b, struct crypt_dev, base);
}

/* ------------------------------------------------------------ the pool */

static int pool_grow(struct crypt_dev *cd)
{
	void *c;

	if (cd->pg_total + CHUNK_PAGES > cd->pg_max || cd->nchunks >= MAX_CHUNKS)
		return -ENOSPC;
	if (posix_memalign(&c, PAGE, (size_t)CHUNK_PAGES * PAGE) != 0)
		return -ENOMEM;
	cd->chunk[cd->nchunks++] = c;
	for (unsigned i = 0; i < CHUNK_PAGES; i++)
		cd->pg[cd->npg++] = (char *)c + (size_t)i * PAGE;
	cd->pg_total += CHUNK_PAGES;
	return 0;
}

/* n pages for r, or -EAGAIN (wait for some to come back). */
static int pool_take(struct crypt_dev *cd, struct crypt_req *r, unsigned n)
{
	if (!r->iov && !(r->iov = calloc(REQ_PAGES, sizeof(*r->iov))))
		return -ENOMEM;
	while (cd->npg < n)
		if (pool_grow(cd) < 0)
			return -EAGAIN;
	for (unsigned i = 0; i < n; i++)
		r->iov[i].iov_base = cd->pg[--cd->npg];
	r->npages = n;
	return 0;
}

static void req_put(struct crypt_dev *cd, struct crypt_req *r)
{
	for (unsigned i = 0; i < r->npages; i++)
		cd->pg[cd->npg++] = r->iov[i].iov_base;
	r->npages = 0;
	r->outer = NULL;
	r->next_free = cd->free;
	cd->free = r;
}

/* ------------------------------------------------------- en/decryption */

/* Copies len bytes from iov (starting skip bytes in) to dst. */
static void iov_gather(const struct iovec *iov, unsigned n, uint64_t skip,
		       void *dst, size_t len)
{
	char *d = dst;

	for (unsigned i = 0; i < n && len; i++) {
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		memcpy(d, (char *)iov[i].iov_base + skip, l);
		d += l;
		len -= l;
		skip = 0;
	}
}

/* A sector that straddles segments: gathered, decrypted, scattered. */
static int decrypt_straddling(struct crypt_dev *cd, uint64_t off,
			      const struct iovec *iov, unsigned n, uint64_t pos)
{
	unsigned char buf[PAGE];
	uint64_t skip = pos;
	size_t left = cd->ssize;
	int rc;

	iov_gather(iov, n, pos, buf, cd->ssize);
	rc = luks_decrypt(cd->v, off, buf, cd->ssize);
	for (unsigned i = 0; rc == 0 && i < n && left; i++) {
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > left)
			l = left;
		memcpy((char *)iov[i].iov_base + skip, buf + (cd->ssize - left), l);
		left -= l;
		skip = 0;
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* Decrypts a read in place: off is the payload offset of iov's first
 * byte.  Whole sectors inside a segment in one call each; a sector
 * across segments through decrypt_straddling. */
static int decrypt_iov(struct crypt_dev *cd, uint64_t off,
		       const struct iovec *iov, unsigned n)
{
	uint64_t pos = 0, in = 0;   /* bytes done; bytes of iov[i] done */
	unsigned i = 0;
	int rc = 0;

	while (rc == 0 && i < n) {
		size_t room = iov[i].iov_len - in;
		size_t whole = room - room % cd->ssize;

		if (room == 0) {
			i++;
			in = 0;
		} else if (whole) {
			rc = luks_decrypt(cd->v, off + pos,
					  (char *)iov[i].iov_base + in, whole);
			pos += whole;
			in += whole;
		} else {
			size_t step = cd->ssize;

			rc = decrypt_straddling(cd, off + pos, iov + i, n - i, in);
			pos += step;
			/* Past the sector in the following segments. */
			step -= room;
			for (i++, in = 0; i < n && step >= iov[i].iov_len; i++)
				step -= iov[i].iov_len;
			in = step;
		}
	}
	return rc;
}

/* Fills r's pages with the outer write's data, encrypted, and r's iov. */
static int encrypt_into(struct crypt_dev *cd, struct crypt_req *r,
			const struct blk_io *o)
{
	uint64_t done = 0;
	int rc = 0;

	for (unsigned p = 0; rc == 0 && p < r->npages; p++) {
		size_t l = o->len - done < PAGE ? (size_t)(o->len - done) : PAGE;

		iov_gather(o->iov, o->iovcnt, done, r->iov[p].iov_base, l);
		rc = luks_encrypt(cd->v, o->offset + done, r->iov[p].iov_base, l);
		r->iov[p].iov_len = l;
		done += l;
	}
	return rc;
}

/* ------------------------------------------------------------ requests */

static void req_done(struct blk_io *io, int res);

static bool aligned(const struct crypt_dev *cd, uint64_t off, uint64_t len)
{
	return off % cd->ssize == 0 && len % cd->ssize == 0;
}

/* Starts o with r: 0, -EAGAIN (no pages: r is given back), or -errno
 * (r is given back; o not answered). */
static int req_start(struct crypt_dev *cd, struct crypt_req *r, struct blk_io *o)
{
	int rc;

	r->outer = o;
	r->io = (struct blk_io){
		.op = o->op, .offset = cd->poff + o->offset, .len = o->len,
		.done = req_done,
	};
	if (o->op == BLK_IO_READ) {
		r->io.iov = o->iov;
		r->io.iovcnt = o->iovcnt;
	} else {
		rc = pool_take(cd, r, (unsigned)((o->len + PAGE - 1) / PAGE));
		if (rc == 0)
			rc = encrypt_into(cd, r, o);
		if (rc < 0) {
			req_put(cd, r);
			return rc;
		}
		r->io.iov = r->iov;
		r->io.iovcnt = r->npages;
	}
	rc = cd->iops->submit_rw(cd->inner, &r->io);
	if (rc < 0)
		req_put(cd, r);
	return rc;
}

/* Starts waiting writes while requests and pages last (FIFO: the head
 * first, so that a large write is not starved by small ones).  Runs in
 * a completion: a failure is answered at once. */
static void wait_drain(struct crypt_dev *cd)
{
	while (cd->wait.head && cd->free) {
		struct crypt_req *r = cd->free;
		struct blk_io *o = cd->wait.head;
		int rc;

		cd->free = r->next_free;
		rc = req_start(cd, r, o);
		/* No pages and none in flight: none will come back. */
		if (rc == -EAGAIN && cd->npg != cd->pg_total)
			return;
		ioq_pop(&cd->wait);
		if (rc == -EAGAIN)
			rc = -ENOMEM;
		if (rc < 0)
			o->done(o, rc);
	}
}

static void req_done(struct blk_io *io, int res)
{
	struct crypt_req *r = container_of(io, struct crypt_req, io);
	struct crypt_dev *cd = r->cd;
	struct blk_io *o = r->outer;

	if (res == 0 && o->op == BLK_IO_READ)
		res = decrypt_iov(cd, o->offset, o->iov, o->iovcnt);
	req_put(cd, r);
	wait_drain(cd);
	o->done(o, res);
}

static int crypt_submit_rw(struct blk_backing *b, struct blk_io *o)
{
	struct crypt_dev *cd = cd_of(b);
	struct crypt_req *r = cd->free;
	int rc;

	if (!aligned(cd, o->offset, o->len) || (o->op == BLK_IO_WRITE &&
	    o->len > (uint64_t)REQ_PAGES * PAGE))
		return -EINVAL;
	o->backing = b;
	if (!r || cd->wait.head) {
		ioq_push(&cd->wait, o);
		return 0;
	}
	cd->free = r->next_free;
	rc = req_start(cd, r, o);
	if (rc == -EAGAIN) {
		cd->bounce_waits++;
		/* The pool is out: unless writes in flight will give pages
		 * back, this one never gets any. */
		if (cd->npg == cd->pg_total)
			return -ENOMEM;
		ioq_push(&cd->wait, o);
		return 0;
	}
	return rc;
}

static int crypt_flush(struct blk_backing *b, struct blk_io *o)
{
	struct crypt_dev *cd = cd_of(b);

	return cd->iops->flush(cd->inner, o);
}

static int crypt_discard(struct blk_backing *b, struct blk_io *o)
{
	struct crypt_dev *cd = cd_of(b);

	if (!cd->discard)
		return -EOPNOTSUPP;
	if (!aligned(cd, o->offset, o->len))
		return -EINVAL;
	o->offset += cd->poff;
	return cd->iops->discard(cd->inner, o);
}

/* The payload grows with the backing (LUKS1, LUKS2's "dynamic" segment);
 * a LUKS2 segment of fixed size keeps it. */
static int payload_size(const struct crypt_dev *cd, uint64_t dev, uint64_t *out)
{
	uint64_t n;

	if (dev < cd->poff)
		return -EIO;
	n = dev - cd->poff;
	if (cd->fixed && cd->fixed < n)
		n = cd->fixed;
	*out = n - n % cd->ssize;
	return 0;
}

static int crypt_size(struct blk_backing *b, uint64_t *bytes)
{
	struct crypt_dev *cd = cd_of(b);
	uint64_t dev;
	int rc = cd->iops->size(cd->inner, &dev);

	return rc < 0 ? rc : payload_size(cd, dev, bytes);
}

static void crypt_close(struct blk_backing *b)
{
	struct crypt_dev *cd;

	if (!b)
		return;
	cd = cd_of(b);
	luks_close(cd->v);
	if (cd->inner)
		cd->iops->close(cd->inner);
	for (unsigned i = 0; i < cd->nchunks; i++)
		free(cd->chunk[i]);
	for (unsigned i = 0; cd->reqs && i < BLK_CRYPT_REQS; i++)
		free(cd->reqs[i].iov);
	free(cd->pg);
	free(cd->reqs);
	free(cd);
}

/* Opened only through blk_crypt_open (it needs a key). */
static int crypt_open_refused(struct blk_engine *e, const char *path,
			      bool readonly, struct blk_backing **out,
			      struct blk_backing_info *info)
{
	return -EOPNOTSUPP;
}

const struct blk_backend_ops blk_backend_crypt = {
	.name = "luks",
	.open = crypt_open_refused,
	.close = crypt_close,
	.submit_rw = crypt_submit_rw,
	.flush = crypt_flush,
	.discard = crypt_discard,
	.size = crypt_size,
};

/* ------------------------------------------------------------ the key */

int blk_crypt_read_key(const char *path, void *buf, size_t cap, char *err,
		       size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	struct stat st;
	size_t got = 0;
	ssize_t n = 1;
	int rc;

	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		goto out;
	}
	rc = -EPERM;
	if (!S_ISREG(st.st_mode))
		snprintf(err, errlen, "key file %s is not a regular file", path);
	else if (st.st_uid != 0 && st.st_uid != geteuid())
		snprintf(err, errlen, "key file %s is owned by uid %u, not root",
			 path, (unsigned)st.st_uid);
	else if (st.st_mode & 077)
		snprintf(err, errlen, "key file %s is open to group or others (mode %04o; want 0400 or 0600)",
			 path, (unsigned)(st.st_mode & 07777));
	else
		rc = 0;
	while (rc == 0 && n > 0 && got <= cap) {
		char extra;

		n = got < cap ? read(fd, (char *)buf + got, cap - got) : read(fd, &extra, 1);
		if (n < 0 && errno != EINTR) {
			rc = -errno;
			snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		} else if (n > 0) {
			got += (size_t)n;
		}
	}
	if (rc == 0 && got > cap) {
		rc = -EFBIG;
		snprintf(err, errlen, "key file %s is larger than %zu bytes", path, cap);
	} else if (rc == 0 && got == 0) {
		rc = -EINVAL;
		snprintf(err, errlen, "key file %s is empty", path);
	}
out:
	if (fd >= 0)
		close(fd);
	return rc < 0 ? rc : (int)got;
}

/* ------------------------------------------------------ header reading */

/* A private instance of the engine, read synchronously. */
struct hdr_rd {
	const struct blk_backend_ops *ops;
	struct blk_engine *e;
	struct blk_backing *b;
	uint64_t size;
	void *buf;              /* HDR_CHUNK bytes, page-aligned (O_DIRECT) */
	struct blk_io io;
	struct iovec iov;
	int res;
	bool pending;
};

static void hdr_done(struct blk_io *io, int res)
{
	struct hdr_rd *r = container_of(io, struct hdr_rd, io);

	r->res = res;
	r->pending = false;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reaps until r's read completes (bounded: HDR_TIMEOUT_MS). */
static int hdr_wait(struct hdr_rd *r)
{
	uint64_t end = ms_now() + HDR_TIMEOUT_MS;

	r->ops->commit(r->e);
	while (r->pending) {
		int fd = r->ops->engine_fd(r->e);

		if (!r->ops->ready(r->e)) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (fd < 0)
				nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
			else if (poll(&p, 1, 100) > 0)
				r->ops->ack(r->e);
		}
		r->ops->reap(r->e, 8);
		if (r->pending && ms_now() > end)
			return -ETIMEDOUT;
	}
	return r->res;
}

/* luks_read_fn: len bytes at off, through whole aligned sectors. */
static int hdr_read(void *arg, uint64_t off, void *buf, size_t len)
{
	struct hdr_rd *r = arg;
	char *dst = buf;

	while (len) {
		uint64_t a = off & ~(uint64_t)(PAGE - 1), end;
		size_t skip = (size_t)(off - a), take = len, n;
		int rc;

		if (take > HDR_CHUNK - skip)
			take = HDR_CHUNK - skip;
		if (a >= r->size || r->size - a < skip + take)
			return -EIO;
		end = (skip + take + 511) & ~(uint64_t)511;
		n = (size_t)(end <= r->size - a ? end : (r->size - a) & ~(uint64_t)511);
		if (n < skip + take)
			return -EIO;   /* a tail not in whole sectors */
		r->iov = (struct iovec){ r->buf, n };
		r->io = (struct blk_io){ .op = BLK_IO_READ, .iov = &r->iov,
			.iovcnt = 1, .offset = a, .len = n, .done = hdr_done };
		r->pending = true;
		rc = r->ops->submit_rw(r->b, &r->io);
		if (rc < 0) {
			r->pending = false;
			return rc;
		}
		rc = hdr_wait(r);
		if (rc < 0)
			return rc;
		memcpy(dst, (char *)r->buf + skip, take);
		dst += take;
		off += take;
		len -= take;
	}
	return 0;
}

static int hdr_open(struct hdr_rd *r, const struct blk_backend_ops *ops,
		    const char *params, char *err, size_t errlen)
{
	struct blk_backing_info info;
	int rc;

	memset(r, 0, sizeof(*r));
	r->ops = ops;
	rc = posix_memalign(&r->buf, PAGE, HDR_CHUNK) ? -ENOMEM : 0;
	if (rc == 0)
		rc = ops->engine_create(4, &r->e);
	if (rc == 0)
		rc = ops->open(r->e, params, true, &r->b, &info);
	if (rc < 0)
		snprintf(err, errlen, "cannot open %s to read its LUKS header: %s",
			 params, strerror(-rc));
	r->size = rc == 0 ? info.size : 0;
	return rc;
}

/* A read still in flight (timed out) keeps the engine and the buffer:
 * freeing them under the kernel would be worse than the leak. */
static void hdr_close(struct hdr_rd *r)
{
	if (r->pending) {
		log_warn("%s: a header read timed out: its engine is left open",
			 __func__);
		return;
	}
	if (r->b)
		r->ops->close(r->b);
	if (r->e)
		r->ops->engine_destroy(r->e);
	free(r->buf);
}

/* ------------------------------------------------------------ opening */

/* The key file into locked memory, luks_open, the key wiped. */
static int unlock(const struct blk_backend_ops *iops, const char *params,
		  uint64_t dev_size, const char *keyfile,
		  struct luks_volume **v, char *err, size_t errlen)
{
	struct hdr_rd rd;
	void *key;
	int rc, len;

	key = mmap(NULL, BLK_CRYPT_KEY_MAX, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (key == MAP_FAILED || mlock(key, BLK_CRYPT_KEY_MAX) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot lock memory for the key: %s",
			 strerror(errno));
		if (key != MAP_FAILED)
			munmap(key, BLK_CRYPT_KEY_MAX);
		return rc;
	}
	madvise(key, BLK_CRYPT_KEY_MAX, MADV_DONTDUMP);
	rc = len = blk_crypt_read_key(keyfile, key, BLK_CRYPT_KEY_MAX, err, errlen);
	if (rc >= 0)
		rc = hdr_open(&rd, iops, params, err, errlen);
	if (len >= 0 && rc == 0)
		rc = luks_open(hdr_read, &rd, dev_size, key, (size_t)len, v, err,
			       errlen);
	if (len >= 0)
		hdr_close(&rd);
	explicit_bzero(key, BLK_CRYPT_KEY_MAX);
	munlock(key, BLK_CRYPT_KEY_MAX);
	munmap(key, BLK_CRYPT_KEY_MAX);
	return rc;
}

/* What pvd-blkback can serve of an opened volume. */
static int check_volume(struct luks_volume *v, uint64_t dev_size, char *err,
			size_t errlen)
{
	unsigned ss = luks_sector_size(v);
	uint64_t off = luks_payload_offset(v);

	if (ss < 512 || ss > PAGE || (ss & (ss - 1))) {
		snprintf(err, errlen, "unsupported LUKS sector size %u", ss);
		return -ENOTSUP;
	}
	if (off % 512 || off > dev_size) {
		snprintf(err, errlen, "LUKS payload offset %llu is outside the device or unaligned",
			 (unsigned long long)off);
		return -EINVAL;
	}
	return 0;
}

static int dev_create(struct luks_volume *v, const struct blk_backend_ops *iops,
		      struct blk_backing *inner, uint64_t dev_size,
		      const struct blk_crypt_cfg *cfg, struct crypt_dev **out)
{
	struct crypt_dev *cd = calloc(1, sizeof(*cd));
	unsigned max = cfg->pool_pages ? cfg->pool_pages : BLK_CRYPT_POOL_PAGES;

	if (max < REQ_PAGES)
		max = REQ_PAGES;
	if (max > MAX_CHUNKS * CHUNK_PAGES)
		max = MAX_CHUNKS * CHUNK_PAGES;
	if (!cd)
		return -ENOMEM;
	cd->base.ops = &blk_backend_crypt;
	cd->base.engine = inner->engine;
	cd->iops = iops;
	cd->v = v;
	cd->poff = luks_payload_offset(v);
	cd->ssize = luks_sector_size(v);
	if (luks_payload_size(v) != dev_size - cd->poff)
		cd->fixed = luks_payload_size(v);
	cd->discard = cfg->discard;
	cd->pg_max = (max + CHUNK_PAGES - 1) / CHUNK_PAGES * CHUNK_PAGES;
	cd->pg = calloc(cd->pg_max, sizeof(*cd->pg));
	cd->reqs = calloc(BLK_CRYPT_REQS, sizeof(*cd->reqs));
	if (!cd->pg || !cd->reqs) {
		cd->v = NULL;             /* v and inner stay the caller's */
		crypt_close(&cd->base);
		return -ENOMEM;
	}
	for (unsigned i = BLK_CRYPT_REQS; i-- > 0;) {
		cd->reqs[i].cd = cd;
		cd->reqs[i].next_free = cd->free;
		cd->free = &cd->reqs[i];
	}
	cd->inner = inner;
	*out = cd;
	return 0;
}

int blk_crypt_open(const struct blk_backend_ops *iops, const char *params,
		   struct blk_backing *inner, const struct blk_backing_info *iinfo,
		   const struct blk_crypt_cfg *cfg, struct blk_backing **out,
		   struct blk_backing_info *info, char *err, size_t errlen)
{
	struct luks_volume *v = NULL;
	struct crypt_dev *cd = NULL;
	int rc;

	rc = unlock(iops, params, iinfo->size, cfg->keyfile, &v, err, errlen);
	if (rc == 0)
		rc = check_volume(v, iinfo->size, err, errlen);
	if (rc == 0) {
		rc = dev_create(v, iops, inner, iinfo->size, cfg, &cd);
		if (rc < 0)
			snprintf(err, errlen, "%s", strerror(-rc));
	}
	if (rc < 0)
		goto fail;
	*info = *iinfo;
	rc = payload_size(cd, iinfo->size, &info->size);
	if (rc < 0)
		goto fail;
	if (info->lbs < cd->ssize)
		info->lbs = cd->ssize;
	if (info->pbs < info->lbs)
		info->pbs = info->lbs;
	info->discard = iinfo->discard && cfg->discard;
	*out = &cd->base;
	log_info("%s: LUKS%d %s, %u-bit key, %u-byte sectors, payload at %llu",
		 params, luks_version(v), luks_cipher(v), luks_key_bits(v),
		 cd->ssize, (unsigned long long)cd->poff);
	return 0;
fail:
	if (cd) {
		cd->inner = NULL;    /* the caller's until we succeed */
		crypt_close(&cd->base);
	} else {
		luks_close(v);
	}
	return rc;
}

void blk_crypt_describe(const struct blk_backing *b, struct blk_crypt_desc *d)
{
	const struct crypt_dev *cd = cd_of(b);

	d->version = luks_version(cd->v);
	d->cipher = luks_cipher(cd->v);
	d->key_bits = luks_key_bits(cd->v);
	d->sector_size = cd->ssize;
	d->payload_offset = cd->poff;
	d->discard = cd->discard;
	d->bounce_waits = cd->bounce_waits;
}
