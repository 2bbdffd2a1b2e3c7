/* --persist (the design is in journal.h): records, group commit,
 * replay, compaction. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <event2/buffer.h>

#include "conn.h"
#include "domain.h"
#include "journal.h"
#include "pvd/log.h"
#include "tree.h"
#include "watch.h"

/* Record: u32 length of (type + payload), u32 crc32 of the same, u8 type,
 * payload.  Integers are little-endian (host order on every dom0 we
 * serve; the file never leaves the host). */
enum rec_type { REC_NODE = 1, REC_DELETE, REC_DOMAIN, REC_COMMIT, REC_WATCHES };

#define MAGIC "PVDSTORE1\n"
#define MAGIC_LEN 10
#define REC_MAX (64u << 20)
#define COMPACT_MIN (1u << 20)
/* Watches in one REC_WATCHES: the list was within the watch quota when it
 * was written; this only bounds what a replay allocates. */
#define WATCHES_MAX 4096u

struct journal {
	char *path;
	int fd;
	struct evbuffer *batch;	/* records not yet sealed */
	struct evbuffer *sealed;	/* sealed, not yet on disk */
	uint64_t size;		/* bytes in the file */
	uint64_t live;		/* size of the last snapshot */
	/* The fd's offset is the file's end.  Not after open, replay or a
	 * cut tail (ftruncate leaves the offset), nor after a failed write;
	 * then the next sync seeks once, not every sync (a system call a
	 * write request, at tens of us on a PV dom0). */
	bool at_end;
};

int journal_open(const char *path, struct journal **out)
{
	struct journal *j = calloc(1, sizeof(*j));
	struct stat st;
	int rc;

	if (!j)
		return -ENOMEM;
	j->fd = -1;
	j->path = strdup(path);
	j->batch = evbuffer_new();
	j->sealed = evbuffer_new();
	if (!j->path || !j->batch || !j->sealed) {
		rc = -ENOMEM;
		goto fail;
	}
	j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->fd < 0 || fstat(j->fd, &st) < 0) {
		rc = -errno;
		log_err("cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	j->size = (uint64_t)st.st_size;
	*out = j;
	return 0;
fail:
	journal_close(j);
	return rc;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	if (j->batch)
		evbuffer_free(j->batch);
	if (j->sealed)
		evbuffer_free(j->sealed);
	free(j->path);
	free(j);
}

static int put_rec(struct evbuffer *b, uint8_t type, const void *p1,
		   size_t l1, const void *p2, size_t l2, const void *p3,
		   size_t l3)
{
	uint32_t len = (uint32_t)(1 + l1 + l2 + l3);
	uint32_t crc = (uint32_t)crc32(0, &type, 1);

	/* crc32() with a NULL buffer returns the initial value: skip
	 * empty parts rather than reset the sum. */
	if (l1)
		crc = (uint32_t)crc32(crc, p1, (uInt)l1);
	if (l2)
		crc = (uint32_t)crc32(crc, p2, (uInt)l2);
	if (l3)
		crc = (uint32_t)crc32(crc, p3, (uInt)l3);
	if (evbuffer_add(b, &len, 4) < 0 || evbuffer_add(b, &crc, 4) < 0 ||
	    evbuffer_add(b, &type, 1) < 0 || evbuffer_add(b, p1, l1) < 0 ||
	    evbuffer_add(b, p2, l2) < 0 || evbuffer_add(b, p3, l3) < 0)
		return -ENOMEM;
	return 0;
}

/* NODE: u32 vlen, u32 childlen, u32 nperms, perms (u32 id, u32 bits)...,
 * path NUL, value, children. */
static int encode_node(struct evbuffer *b, const struct node *n)
{
	size_t plen = strlen(n->path) + 1;
	size_t hlen = 12 + 8 * (size_t)n->perms.n + plen;
	uint8_t *h = malloc(hlen);
	uint32_t *u = (uint32_t *)h;
	int rc;

	if (!h)
		return -ENOMEM;
	u[0] = n->vlen;
	u[1] = n->childlen;
	u[2] = n->perms.n;
	for (unsigned i = 0; i < n->perms.n; i++) {
		u[3 + 2 * i] = n->perms.p[i].id;
		u[4 + 2 * i] = n->perms.p[i].perms;
	}
	memcpy(h + 12 + 8 * n->perms.n, n->path, plen);
	rc = put_rec(b, REC_NODE, h, hlen, n->value, n->vlen, n->children,
		     n->childlen);
	free(h);
	return rc;
}

int journal_log_node(struct journal *j, const struct node *n)
{
	return encode_node(j->batch, n);
}

int journal_log_delete(struct journal *j, const char *path)
{
	return put_rec(j->batch, REC_DELETE, path, strlen(path) + 1, NULL, 0,
		       NULL, 0);
}

/* DOMAIN: u32 domid, u32 introduced, u32 target, u32 port, u64 mfn. */
static int encode_domain(struct evbuffer *b, const struct domain *d)
{
	uint32_t u[6] = { d->domid, d->introduced, d->target, d->port };

	memcpy(&u[4], &d->mfn, 8);
	return put_rec(b, REC_DOMAIN, u, sizeof(u), NULL, 0, NULL, 0);
}

int journal_log_domain(struct journal *j, const struct domain *d)
{
	return encode_domain(j->batch, d);
}

/* WATCHES: u32 domid, u32 count, then count times: u32 relative, path
 * NUL, token NUL.  The whole list, head first. */
static int encode_watches(struct evbuffer *b, unsigned domid,
			  const struct watch *list)
{
	struct evbuffer *body = evbuffer_new();
	uint32_t u[2] = { domid, 0 };
	size_t len;
	int rc = -ENOMEM;

	if (!body)
		return -ENOMEM;
	for (const struct watch *w = list; w; w = w->next) {
		uint32_t rel = w->relative;

		if (evbuffer_add(body, &rel, 4) < 0 ||
		    evbuffer_add(body, w->path, strlen(w->path) + 1) < 0 ||
		    evbuffer_add(body, w->token, strlen(w->token) + 1) < 0)
			goto out;
		u[1]++;
	}
	len = evbuffer_get_length(body);
	rc = put_rec(b, REC_WATCHES, u, sizeof(u), len ? evbuffer_pullup(body, -1) : NULL,
		     len, NULL, 0);
out:
	evbuffer_free(body);
	return rc;
}

int journal_log_watches(struct journal *j, unsigned domid,
			const struct watch *list)
{
	return encode_watches(j->batch, domid, list);
}

void journal_seal(struct journal *j)
{
	if (evbuffer_get_length(j->batch) == 0)
		return;
	if (put_rec(j->batch, REC_COMMIT, NULL, 0, NULL, 0, NULL, 0) < 0 ||
	    evbuffer_add_buffer(j->sealed, j->batch) < 0)
		log_err("out of memory sealing a journal batch");
}

bool journal_pending(const struct journal *j)
{
	return evbuffer_get_length(j->sealed) > 0;
}

uint64_t journal_size(const struct journal *j)
{
	return j->size;
}

static int write_all_buf(int fd, struct evbuffer *b, uint64_t *size)
{
	while (evbuffer_get_length(b)) {
		int n = evbuffer_write(b, fd);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		*size += (uint64_t)n;
	}
	return 0;
}

int journal_sync(struct journal *j)
{
	int rc;

	if (!journal_pending(j))
		return 0;
	if (j->size == 0) {
		/* At 0 whatever the offset, so that a retry rewrites it. */
		if (pwrite(j->fd, MAGIC, MAGIC_LEN, 0) != MAGIC_LEN)
			return -EIO;
		j->size = MAGIC_LEN;
		j->at_end = false;
	}
	if (!j->at_end) {
		if (lseek(j->fd, 0, SEEK_END) < 0)
			return -errno;
		j->at_end = true;
	}
	rc = write_all_buf(j->fd, j->sealed, &j->size);
	if (rc < 0)
		j->at_end = false;
	if (rc == 0 && fdatasync(j->fd) < 0)
		rc = -errno;
	if (rc < 0)
		log_err("journal %s: %s", j->path, strerror(-rc));
	return rc;
}

/* ---- replay ------------------------------------------------------------ */

struct pending {
	uint8_t type;
	uint8_t *data;
	uint32_t len;
};

/* Records follow a one-byte type, so fields are unaligned. */
static uint32_t get32(const uint8_t *p, size_t i)
{
	uint32_t v;

	memcpy(&v, p + 4 * i, 4);
	return v;
}

/* A node's path as the store holds it: an absolute path, or a special
 * node's name ("@introduceDomain"). */
static bool node_path_valid(const char *path)
{
	if (path[0] != '@')
		return path_valid(path, XENSTORE_ABS_PATH_MAX);
	for (const char *s = path + 1; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return false;
	return path[1] != '\0';
}

/* Children: NUL-terminated names, none empty and none with a '/' (the
 * tree code walks them with strlen and builds paths from them). */
static bool children_valid(const char *c, uint32_t len)
{
	if (len && c[len - 1] != '\0')
		return false;
	for (uint32_t off = 0; off < len;) {
		size_t l = strlen(c + off);

		if (l == 0 || memchr(c + off, '/', l))
			return false;
		off += (uint32_t)l + 1;
	}
	return true;
}

/* A record the daemon could have written, whatever its CRC says: the
 * store trusts the shape of what it replays. */
static int check_node_rec(const uint8_t *p, uint32_t len, size_t *hlen,
			  size_t *plen)
{
	uint32_t vlen, clen, np;

	if (len < 12)
		return -EINVAL;
	vlen = get32(p, 0);
	clen = get32(p, 1);
	np = get32(p, 2);
	if (np > 4096 || 12 + 8 * (size_t)np > len ||
	    vlen > XENSTORE_PAYLOAD_MAX)
		return -EINVAL;
	*hlen = 12 + 8 * (size_t)np;
	*plen = strnlen((const char *)p + *hlen, len - *hlen);
	if (*hlen + *plen + 1 + (size_t)vlen + clen != len ||
	    !node_path_valid((const char *)p + *hlen) ||
	    !children_valid((const char *)p + *hlen + *plen + 1 + vlen, clen))
		return -EINVAL;
	return 0;
}

static int apply_node(struct store *st, const uint8_t *p, uint32_t len)
{
	uint32_t vlen, clen, np;
	size_t hlen, plen;
	struct node *n;

	if (check_node_rec(p, len, &hlen, &plen) < 0)
		return -EINVAL;
	vlen = get32(p, 0);
	clen = get32(p, 1);
	np = get32(p, 2);
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->path = strndup((const char *)p + hlen, plen);
	n->value = malloc(vlen ? vlen : 1);
	n->children = clen ? malloc(clen) : NULL;
	n->perms.p = calloc(np ? np : 1, sizeof(*n->perms.p));
	if (!n->path || !n->value || (clen && !n->children) || !n->perms.p) {
		node_free(n);
		return -ENOMEM;
	}
	n->perms.n = np;
	for (unsigned i = 0; i < np; i++) {
		n->perms.p[i].id = get32(p, 3 + 2 * i);
		n->perms.p[i].perms = get32(p, 4 + 2 * i);
	}
	memcpy(n->value, p + hlen + plen + 1, vlen);
	n->vlen = vlen;
	if (clen)
		memcpy(n->children, p + hlen + plen + 1 + vlen, clen);
	n->childlen = clen;
	return store_install(st, n);
}

static int apply_domain(struct domains *ds, const uint8_t *p, uint32_t len)
{
	uint32_t u[6];
	struct domain *d;

	if (len != sizeof(u))
		return -EINVAL;
	memcpy(u, p, sizeof(u));
	if (u[0] > 0xffff)
		return -EINVAL;
	d = domain_get(ds, u[0], true);
	if (!d)
		return -ENOMEM;
	d->introduced = u[1];
	d->target = u[2];
	d->port = u[3];
	memcpy(&d->mfn, &u[4], 8);
	domain_put(ds, d);
	return 0;
}

/* One watch at *off: a shape WATCH could have accepted (watch_args in
 * core.c), prepended to *list. */
static int parse_watch(const uint8_t *p, uint32_t len, uint32_t *off,
		       struct watch **list)
{
	const char *path, *token;
	size_t pl, tl;
	uint32_t rel;
	struct watch *w;

	if (len - *off < 4)
		return -EINVAL;
	memcpy(&rel, p + *off, 4);
	path = (const char *)p + *off + 4;
	pl = strnlen(path, len - *off - 4);
	if (pl == len - *off - 4)
		return -EINVAL;
	token = path + pl + 1;
	tl = strnlen(token, len - *off - 4 - pl - 1);
	if (tl == len - *off - 4 - pl - 1 || !node_path_valid(path) ||
	    rel > pl || tl + 1 + XENSTORE_ABS_PATH_MAX + 1 > XENSTORE_PAYLOAD_MAX)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(path)) || !(w->token = strdup(token))) {
		if (w)
			free(w->path);
		free(w);
		return -ENOMEM;
	}
	w->relative = rel;
	w->next = *list;
	*list = w;
	*off += 4 + (uint32_t)(pl + tl + 2);
	return 0;
}

/* The list replaces what the domain had saved (the last record wins).  It
 * is built in reverse: watch_restore() prepends it back into order. */
static int apply_watches(struct domains *ds, const uint8_t *p, uint32_t len)
{
	struct watch *list = NULL;
	uint32_t off = 8;
	struct domain *d;
	int rc = 0;

	if (len < 8 || get32(p, 0) > 0xffff || get32(p, 1) > WATCHES_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < get32(p, 1) && rc == 0; i++)
		rc = parse_watch(p, len, &off, &list);
	if (rc == 0 && off != len)
		rc = -EINVAL;
	d = rc == 0 ? domain_get(ds, get32(p, 0), true) : NULL;
	if (!d) {
		watch_list_free(list);
		return rc < 0 ? rc : -ENOMEM;
	}
	watch_list_free(d->saved);
	d->saved = list;
	domain_put(ds, d);
	return 0;
}

static int apply(struct store *st, struct domains *ds, struct pending *pd,
		 size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		switch (pd[i].type) {
		case REC_NODE:
			rc = apply_node(st, pd[i].data, pd[i].len);
			break;
		case REC_DELETE:
			if (pd[i].len == 0 || pd[i].data[pd[i].len - 1] ||
			    !node_path_valid((const char *)pd[i].data))
				return -EINVAL;
			rc = store_delete(st, (const char *)pd[i].data);
			break;
		case REC_DOMAIN:
			rc = apply_domain(ds, pd[i].data, pd[i].len);
			break;
		case REC_WATCHES:
			rc = apply_watches(ds, pd[i].data, pd[i].len);
			break;
		default:
			return -EINVAL;
		}
	}
	return rc;
}

/* Replay reads record by record, holds a batch's records until its
 * commit record, then applies them together: a batch is all or nothing.
 * The first record that is short, oversized or fails its CRC ends the
 * replay there, and the file is cut after the last whole batch. */
struct replay {
	struct journal *j;
	struct store *st;
	struct domains *ds;
	struct pending *pd;	/* the open batch */
	size_t npd, cap;
	uint64_t off;		/* next record */
	uint64_t good;		/* end of the last applied batch */
	unsigned batches;
};

static int check_magic(struct journal *j)
{
	char magic[MAGIC_LEN];

	if (pread(j->fd, magic, MAGIC_LEN, 0) != MAGIC_LEN ||
	    memcmp(magic, MAGIC, MAGIC_LEN) != 0) {
		log_err("%s is not a pvd-stored journal", j->path);
		return -EINVAL;
	}
	return 0;
}

/* The record at rp->off, type byte first, in *out (malloc'd; its length
 * in *len): 1, or 0 at the end of the good part, or -ENOMEM. */
static int read_record(struct replay *rp, uint8_t **out, uint32_t *len)
{
	uint32_t hdr[2];
	uint8_t *buf;

	if (pread(rp->j->fd, hdr, 8, (off_t)rp->off) != 8)
		return 0;
	if (hdr[0] == 0 || hdr[0] > REC_MAX)
		return 0;
	buf = malloc(hdr[0]);
	if (!buf)
		return -ENOMEM;
	if (pread(rp->j->fd, buf, hdr[0], (off_t)rp->off + 8) != (ssize_t)hdr[0] ||
	    (uint32_t)crc32(0, buf, hdr[0]) != hdr[1]) {
		free(buf);
		return 0;
	}
	rp->off += 8 + hdr[0];
	*out = buf;
	*len = hdr[0];
	return 1;
}

static void drop_batch(struct replay *rp)
{
	for (size_t i = 0; i < rp->npd; i++)
		free(rp->pd[i].data - 1);
	rp->npd = 0;
}

/* Takes buf (type byte first) into the open batch. */
static int hold_record(struct replay *rp, uint8_t *buf, uint32_t len)
{
	if (rp->npd == rp->cap) {
		size_t nc = rp->cap ? rp->cap * 2 : 64;
		struct pending *np = realloc(rp->pd, nc * sizeof(*np));

		if (!np) {
			free(buf);
			return -ENOMEM;
		}
		rp->pd = np;
		rp->cap = nc;
	}
	rp->pd[rp->npd++] = (struct pending){ buf[0], buf + 1, len - 1 };
	return 0;
}

static int commit_batch(struct replay *rp)
{
	int rc = apply(rp->st, rp->ds, rp->pd, rp->npd);

	drop_batch(rp);
	if (rc < 0)
		return rc;
	rp->good = rp->off;
	rp->batches++;
	return 0;
}

static int replay_records(struct replay *rp)
{
	uint8_t *buf;
	uint32_t len;
	int rc;

	while ((rc = read_record(rp, &buf, &len)) > 0) {
		if (buf[0] == REC_COMMIT) {
			free(buf);
			rc = commit_batch(rp);
		} else {
			rc = hold_record(rp, buf, len);
		}
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* Cuts a torn or corrupt tail off, so that new records follow the last
 * whole batch. */
static int cut_tail(struct journal *j, uint64_t good)
{
	if (good >= j->size)
		return 0;
	log_warn("%s: dropping %llu bytes of torn or corrupt tail", j->path,
		 (unsigned long long)(j->size - good));
	j->at_end = false;
	if (ftruncate(j->fd, (off_t)good) < 0)
		return -errno;
	j->size = good;
	return 0;
}

int journal_load(struct journal *j, struct store *st, struct domains *ds)
{
	struct replay rp = { j, st, ds, NULL, 0, 0, MAGIC_LEN, MAGIC_LEN, 0 };
	struct journal *saved = st->journal;
	int rc;

	if (j->size == 0)
		return 0;
	rc = check_magic(j);
	if (rc < 0)
		return rc;
	st->journal = NULL;	/* replay must not re-log */
	rc = replay_records(&rp);
	drop_batch(&rp);
	free(rp.pd);
	st->journal = saved;
	if (rc < 0) {
		log_err("replaying %s: %s", j->path, strerror(-rc));
		return rc;
	}
	rc = cut_tail(j, rp.good);
	if (rc < 0)
		return rc;
	j->live = j->size;
	store_recount(st);
	log_info("replayed %u batches from %s (%zu nodes)", rp.batches, j->path,
		 st->nodes.count);
	return 0;
}

/* ---- compaction -------------------------------------------------------- */

static int fsync_dir(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd, rc = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

static int encode_ring_watches(struct evbuffer *b, const struct conn *conns)
{
	int rc = 0;

	for (const struct conn *c = conns; c && rc == 0; c = c->next)
		if (c->keep_watches && !c->dead && c->watches)
			rc = encode_watches(b, c->who.domid, c->watches);
	return rc;
}

int journal_maybe_compact(struct journal *j, const struct store *st,
			  const struct domains *ds, const struct conn *conns)
{
	struct evbuffer *b;
	char *tmp = NULL;
	int fd = -1, rc;
	uint64_t size = 0;

	if (j->size < COMPACT_MIN || j->size < 4 * j->live ||
	    journal_pending(j) || evbuffer_get_length(j->batch))
		return 0;
	b = evbuffer_new();
	if (!b || asprintf(&tmp, "%s.tmp", j->path) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	evbuffer_add(b, MAGIC, MAGIC_LEN);
	for (size_t i = 0; i < st->nodes.nb; i++)
		for (const struct node *n = st->nodes.b[i]; n; n = n->hnext)
			if ((rc = encode_node(b, n)) < 0)
				goto out;
	for (unsigned d = 0; d < 65536; d++)
		if (ds->d[d] && (rc = encode_domain(b, ds->d[d])) < 0)
			goto out;
	if ((rc = encode_ring_watches(b, conns)) < 0)
		goto out;
	if ((rc = put_rec(b, REC_COMMIT, NULL, 0, NULL, 0, NULL, 0)) < 0)
		goto out;
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = write_all_buf(fd, b, &size);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, j->path) < 0)
		rc = -errno;
	if (rc < 0)
		goto out;
	fsync_dir(j->path);
	close(j->fd);
	j->fd = fd;
	j->at_end = true;	/* written from 0 to its end */
	fd = -1;
	log_info("compacted %s: %llu -> %llu bytes", j->path,
		 (unsigned long long)j->size, (unsigned long long)size);
	j->size = j->live = size;
out:
	if (rc < 0) {
		log_err("compacting %s: %s", j->path, strerror(-rc));
		if (tmp)
			unlink(tmp);
	}
	if (fd >= 0)
		close(fd);
	free(tmp);
	if (b)
		evbuffer_free(b);
	return rc;
}
