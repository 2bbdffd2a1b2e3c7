/* Request dispatch and the handlers (core.h).  Start at the ops[] table
 * near the end: each message type's handler and the checks done for it
 * before it runs.  Every argument comes from a client that may be
 * hostile: numbers are read strictly (pvd_parse_uint), paths checked by
 * canon_path, and nothing asserts on them. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "core.h"
#include "domain.h"
#include "journal.h"
#include "metrics.h"
#include "pvd/log.h"
#include "pvd/num.h"
#include "ring.h"
#include "stored.h"
#include "txn.h"
#include "watch.h"

#define MAX_ARGS 16

struct req {
	struct conn *c;
	const struct xsd_sockmsg *hdr;
	char *body;
	unsigned len;
	const char *argv[MAX_ARGS];
	unsigned argc;
	struct txn *tx;
	struct changes changes;
	const char *special;	/* special watch to fire after the reply */
	/* Reply payload. */
	char out[XENSTORE_PAYLOAD_MAX];
	unsigned outlen;
};

enum {
	F_PRIV = 1,		/* dom0 only */
	F_TXN = 2,		/* may carry a transaction id */
	F_NOTXN = 4,		/* a transaction id is an error (XSA-425) */
	F_MOD = 8,		/* changes nodes: undone in its transaction if it fails */
};

struct op {
	const char *name;
	int (*fn)(struct req *r);
	unsigned flags;
	unsigned min_args;
};

/* ---- helpers ---------------------------------------------------------- */

/* Splits the payload into NUL-terminated strings; a trailing part without
 * a NUL (WRITE's value) is left out of argc. */
static void split_args(struct req *r)
{
	unsigned off = 0;

	r->argc = 0;
	while (off < r->len && r->argc < MAX_ARGS) {
		const char *s = r->body + off;
		size_t l = strnlen(s, r->len - off);

		if (off + l == r->len)
			break;	/* unterminated */
		r->argv[r->argc++] = s;
		off += (unsigned)l + 1;
	}
}

static int reply_str(struct req *r, const char *s)
{
	size_t l = strlen(s) + 1;

	if (l > sizeof(r->out))
		return -E2BIG;
	memcpy(r->out, s, l);
	r->outlen = (unsigned)l;
	return 0;
}

static int reply_ok(struct req *r)
{
	return reply_str(r, "OK");
}

/* Resolves a client path to an absolute one: relative paths live under
 * the caller's /local/domain/<domid>. */
static int canon_path(struct req *r, const char *in, char *out, size_t len,
		      unsigned *prefix)
{
	const struct quota *q = &r->c->sd->quota;
	int n;

	if (in[0] == '/') {
		if (strlen(in) > XENSTORE_ABS_PATH_MAX)
			return -EINVAL;
		n = snprintf(out, len, "%s", in);
		if (prefix)
			*prefix = 0;
	} else {
		if (strlen(in) > q->path_max || strlen(in) > XENSTORE_REL_PATH_MAX)
			return -EINVAL;
		n = snprintf(out, len, "/local/domain/%u/%s", r->c->who.domid, in);
		if (prefix)
			*prefix = (unsigned)(n - strlen(in));
	}
	if (n < 0 || (size_t)n >= len || !path_valid(out, XENSTORE_ABS_PATH_MAX))
		return -EINVAL;
	return 0;
}

static bool is_special(const char *p)
{
	return strcmp(p, "@introduceDomain") == 0 ||
	       strcmp(p, "@releaseDomain") == 0;
}

static struct view req_view(struct req *r)
{
	return (struct view){ &r->c->sd->store, r->tx, &r->c->sd->quota,
			      &r->c->who, &r->changes,
			      r->c->sd->quota_refusals };
}

static int cmp_len(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? -1 : la > lb;
}

/* Numbers on the wire: decimal digits only, as every client formats them
 * ("%u"); a sign, a blank, a trailing byte or an overflow is EINVAL. */
static int wire_uint(const char *s, uint64_t max, uint64_t *out)
{
	return s && pvd_parse_uint(s, max, out) == 0 ? 0 : -EINVAL;
}

static int parse_domid(const char *s, unsigned *out)
{
	uint64_t v;
	int rc = wire_uint(s, 0xffff, &v);

	if (rc == 0)
		*out = (unsigned)v;
	return rc;
}

/* ---- database operations --------------------------------------------- */

/* READ, DIRECTORY, DIRECTORY_PART: the node at the first argument, if
 * the caller may read it. */
static int read_arg_node(struct req *r, const struct node **n)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct view v = req_view(r);
	int rc = canon_path(r, r->argv[0], path, sizeof(path), NULL);

	return rc < 0 ? rc : tree_read(&v, path, n);
}

static int do_read(struct req *r)
{
	const struct node *n;
	int rc = read_arg_node(r, &n);

	if (rc < 0)
		return rc;
	if (n->vlen)
		memcpy(r->out, n->value, n->vlen);
	r->outlen = n->vlen;
	return 0;
}

static int do_write(struct req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct view v = req_view(r);
	size_t plen = strlen(r->argv[0]) + 1;
	int rc = canon_path(r, r->argv[0], path, sizeof(path), NULL);

	if (rc == 0)
		rc = tree_write(&v, path, r->body + plen, r->len - (unsigned)plen);
	return rc < 0 ? rc : reply_ok(r);
}

/* MKDIR and RM: a path, an operation, "OK". */
static int path_op(struct req *r, int (*op)(struct view *, const char *))
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct view v = req_view(r);
	int rc = canon_path(r, r->argv[0], path, sizeof(path), NULL);

	if (rc == 0)
		rc = op(&v, path);
	return rc < 0 ? rc : reply_ok(r);
}

static int do_mkdir(struct req *r)
{
	return path_op(r, tree_mkdir);
}

static int do_rm(struct req *r)
{
	return path_op(r, tree_rm);
}

static int do_directory(struct req *r)
{
	const struct node *n;
	int rc = read_arg_node(r, &n);

	if (rc < 0)
		return rc;
	if (n->childlen > sizeof(r->out))
		return -E2BIG;	/* clients then use DIRECTORY_PART */
	if (n->childlen)
		memcpy(r->out, n->children, n->childlen);
	r->outlen = n->childlen;
	return 0;
}

/* Reply: generation (hex) NUL, then the names from byte offset on that
 * fit, and one more NUL when the list is complete. */
static int do_directory_part(struct req *r)
{
	const struct node *n;
	uint64_t off;
	unsigned len, end;
	int rc = read_arg_node(r, &n);

	if (rc < 0)
		return rc;
	/* The offset must start a name: libxenstore sends back the byte
	 * count it has read so far. */
	if (wire_uint(r->argv[1], n->childlen, &off) < 0 ||
	    (off > 0 && n->children[off - 1] != '\0'))
		return -EINVAL;
	len = (unsigned)snprintf(r->out, sizeof(r->out), "%" PRIx64, n->gen) + 1;
	end = (unsigned)off;
	while (end < n->childlen) {
		unsigned l = (unsigned)strlen(n->children + end) + 1;

		if (len + (end - off) + l + 1 > sizeof(r->out))
			break;
		end += l;
	}
	if (end > off)
		memcpy(r->out + len, n->children + off, end - off);
	len += end - (unsigned)off;
	if (end == n->childlen)
		r->out[len++] = '\0';
	r->outlen = len;
	return 0;
}

/* Special nodes (@introduceDomain, @releaseDomain) carry permissions but
 * are not part of the tree; only their permissions may be read or set. */
static int perms_target(struct req *r, char *path, size_t len)
{
	if (is_special(r->argv[0])) {
		snprintf(path, len, "%s", r->argv[0]);
		return 0;
	}
	return canon_path(r, r->argv[0], path, len, NULL);
}

static int do_get_perms(struct req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct view v = req_view(r);
	const struct node *n;
	int rc = perms_target(r, path, sizeof(path));

	if (rc == 0)
		rc = tree_read(&v, path, &n);
	if (rc < 0)
		return rc;
	rc = perms_format(&n->perms, r->out, sizeof(r->out));
	if (rc < 0)
		return rc;
	r->outlen = (unsigned)rc;
	return 0;
}

static int do_set_perms(struct req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct view v = req_view(r);
	size_t plen = strlen(r->argv[0]) + 1;
	struct perms p;
	int rc = perms_target(r, path, sizeof(path));

	if (rc < 0)
		return rc;
	if (is_special(path)) {
		if (!r->c->who.privileged)
			return -EACCES;
		v.changes = NULL;	/* not an event of its own */
	}
	rc = perms_parse(r->body + plen, r->len - plen,
			 r->c->who.privileged ? 1024 : r->c->sd->quota.perms, &p);
	if (rc == -E2BIG) {
		r->c->sd->quota_refusals[QK_PERMS]++;
		return -ENOSPC;
	}
	if (rc < 0)
		return rc;
	rc = tree_set_perms(&v, path, &p);
	perms_free(&p);
	return rc < 0 ? rc : reply_ok(r);
}

/* ---- watches ----------------------------------------------------------- */

static int watch_args(struct req *r, char *path, size_t len,
		      unsigned *prefix)
{
	const char *token = r->argv[1];

	/* An event carries path and token; both must fit one payload
	 * (XSA-324: a huge token is refused, not truncated). */
	if (strlen(token) + 1 + XENSTORE_ABS_PATH_MAX + 1 > XENSTORE_PAYLOAD_MAX)
		return -E2BIG;
	if (r->argv[0][0] == '@') {
		if (strlen(r->argv[0]) > 64)
			return -EINVAL;
		for (const char *s = r->argv[0] + 1; *s; s++)
			if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
				return -EINVAL;
		snprintf(path, len, "%s", r->argv[0]);
		*prefix = 0;
		return 0;
	}
	return canon_path(r, r->argv[0], path, len, prefix);
}

static int do_watch(struct req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	unsigned prefix;
	char ev[XENSTORE_PAYLOAD_MAX];
	size_t pl, tl;
	int rc = watch_args(r, path, sizeof(path), &prefix);

	if (rc == 0)
		rc = watch_add(r->c, path, r->argv[1], prefix);
	if (rc < 0)
		return rc;
	rc = reply_ok(r);
	/* The initial event follows the reply: the caller sends the reply
	 * first, then this. */
	pl = strlen(r->argv[0]) + 1;
	tl = strlen(r->argv[1]) + 1;
	memcpy(ev, r->argv[0], pl);
	memcpy(ev + pl, r->argv[1], tl);
	conn_send(r->c, r->hdr->type, r->hdr->req_id, r->hdr->tx_id,
		  r->out, r->outlen, false);
	conn_send(r->c, XS_WATCH_EVENT, 0, 0, ev, (unsigned)(pl + tl), true);
	r->outlen = 0;
	return 1;		/* already replied */
}

static int do_unwatch(struct req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	unsigned prefix;
	int rc = watch_args(r, path, sizeof(path), &prefix);

	if (rc == 0)
		rc = watch_remove(r->c, path, r->argv[1]);
	return rc < 0 ? rc : reply_ok(r);
}

static int do_reset_watches(struct req *r)
{
	watch_remove_all(r->c);
	core_txn_abort_all(r->c);
	return reply_ok(r);
}

/* ---- transactions -------------------------------------------------- */

static struct txn *txn_find(struct conn *c, uint32_t id)
{
	for (struct txn *t = c->txns; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

static int do_txn_start(struct req *r)
{
	struct conn *c = r->c;
	struct stored *sd = c->sd;
	struct txn *tx;
	uint32_t id;
	char buf[16];

	if (!c->who.privileged && c->dom->ntxns >= sd->quota.transactions) {
		sd->quota_refusals[QK_TRANSACTIONS]++;
		return -ENOSPC;
	}
	do {
		id = ++sd->next_txn_id;
	} while (id == 0 || txn_find(c, id));
	tx = txn_new(id, c->who.domid,
		     c->who.privileged ? 1u << 20 : sd->quota.trans_nodes);
	if (!tx)
		return -ENOMEM;
	tx->refusals = sd->quota_refusals;
	tx->next = c->txns;
	c->txns = tx;
	c->ntxns++;
	c->dom->ntxns++;
	snprintf(buf, sizeof(buf), "%u", id);
	return reply_str(r, buf);
}

static void txn_unlink(struct conn *c, struct txn *tx)
{
	for (struct txn **pp = &c->txns; *pp; pp = &(*pp)->next) {
		if (*pp == tx) {
			*pp = tx->next;
			break;
		}
	}
	c->ntxns--;
	c->dom->ntxns--;
	txn_free(tx);
}

static int do_txn_end(struct req *r)
{
	struct stored *sd = r->c->sd;
	struct txn *tx = r->tx;
	const char *arg = r->argv[0];
	int rc = 0;

	if (strcmp(arg, "T") != 0 && strcmp(arg, "F") != 0)
		return -EINVAL;
	r->tx = NULL;
	if (arg[0] == 'T') {
		rc = txn_commit(tx, &sd->store, r->c->who.privileged ?
				UINT_MAX : sd->quota.nodes);
		if (rc == 0)
			changes_splice(&r->changes, &tx->changes);
		else if (rc == -ENOSPC)
			sd->quota_refusals[QK_NODES]++;
	}
	txn_unlink(r->c, tx);
	return rc < 0 ? rc : reply_ok(r);
}

void core_txn_abort_all(struct conn *c)
{
	while (c->txns)
		txn_unlink(c, c->txns);
}

/* ---- domains ---------------------------------------------------------- */

static int do_get_domain_path(struct req *r)
{
	unsigned domid;
	char buf[32];

	if (parse_domid(r->argv[0], &domid) < 0)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "/local/domain/%u", domid);
	return reply_str(r, buf);
}

static int do_is_introduced(struct req *r)
{
	unsigned domid;
	struct domain *d;

	if (parse_domid(r->argv[0], &domid) < 0)
		return -EINVAL;
	d = domain_get(&r->c->sd->domains, domid, false);
	return reply_str(r, domid == 0 || (d && d->introduced) ? "T" : "F");
}

static int do_introduce(struct req *r)
{
	struct stored *sd = r->c->sd;
	unsigned domid;
	uint64_t mfn, port;
	struct domain *d;

	/* libxenstore sends the mfn (or gfn) as "%lu", the port as "%u". */
	if (parse_domid(r->argv[0], &domid) < 0 || domid == 0 ||
	    domid > DOMID_MAX_REAL || wire_uint(r->argv[1], UINT64_MAX, &mfn) < 0 ||
	    wire_uint(r->argv[2], UINT32_MAX, &port) < 0)
		return -EINVAL;
	d = domain_get(&sd->domains, domid, true);
	if (!d)
		return -ENOMEM;
	if (d->introduced) {
		/* The same introduction again is harmless (a toolstack
		 * retrying); a different one is a mistake. */
		return d->mfn == mfn && d->port == port ?
			reply_ok(r) : -EEXIST;
	}
	d->introduced = true;
	d->shutdown = false;
	d->mfn = mfn;
	d->port = (unsigned)port;
	if (sd->hv) {
		int rc = ring_attach(sd, d);

		if (rc < 0) {
			d->introduced = false;
			domain_put(&sd->domains, d);
			return -EINVAL;
		}
	}
	if (sd->journal)
		journal_log_domain(sd->journal, d);
	r->special = "@introduceDomain";
	log_info("domain %u introduced", domid);
	return reply_ok(r);
}

static bool refers_to(const struct node *nd, unsigned domid)
{
	for (unsigned k = 0; k < nd->perms.n; k++)
		if (nd->perms.p[k].id == domid)
			return true;
	return false;
}

static bool owned_by(const struct node *nd, unsigned domid)
{
	return nd->perms.n && nd->perms.p[0].id == domid && nd->path[0] == '/';
}

/* The paths of the nodes matching pred, collected first because the
 * callers then replace or remove nodes in the table. */
static int collect_paths(struct stored *sd, bool (*pred)(const struct node *, unsigned),
			 unsigned domid, struct strv *out)
{
	struct nodetab *t = &sd->store.nodes;

	for (size_t i = 0; i < t->nb; i++)
		for (struct node *nd = t->b[i]; nd; nd = nd->hnext)
			if (pred(nd, domid) && strv_push(out, nd->path) < 0)
				return -ENOMEM;
	return 0;
}

int core_revoke_domain(struct stored *sd, unsigned domid)
{
	struct strv paths = { 0 };
	int rc = collect_paths(sd, refers_to, domid, &paths);

	for (size_t i = 0; i < paths.n && rc == 0; i++) {
		struct node *copy = node_dup(nodetab_get(&sd->store.nodes, paths.v[i]));

		if (!copy) {
			rc = -ENOMEM;
			break;
		}
		perms_revoke(&copy->perms, domid);
		rc = store_install(&sd->store, copy);
	}
	strv_free(&paths);
	return rc;
}

/* Removes every node the domain owns, with what lies below: its home's
 * device, data and control directories, and whatever else it created.
 * Shortest paths first, so a subtree goes in one removal. */
static int remove_owned(struct stored *sd, unsigned domid)
{
	struct who dom0 = { 0, DOMID_NONE, true };
	struct strv paths = { 0 };
	struct changes ch;
	int rc = collect_paths(sd, owned_by, domid, &paths);

	if (paths.n)
		qsort(paths.v, paths.n, sizeof(*paths.v), cmp_len);
	changes_init(&ch);
	for (size_t i = 0; i < paths.n; i++) {
		struct view v = { &sd->store, NULL, &sd->quota, &dom0, &ch, NULL };

		if (nodetab_get(&sd->store.nodes, paths.v[i]))
			tree_rm(&v, paths.v[i]);
	}
	watch_fire_changes(sd, &ch);
	strv_free(&paths);
	return rc;
}

int core_release_domain(struct stored *sd, unsigned domid, bool fire)
{
	struct domain *d = domain_get(&sd->domains, domid, false);
	int rc, rc2;

	if (!d || !d->introduced)
		return -ENOENT;
	for (struct conn *c = sd->conns; c; c = c->next)
		if (c->who.domid == domid)
			conn_close(c, "domain released");
	d->introduced = false;
	d->target = DOMID_NONE;
	rc = remove_owned(sd, domid);
	rc2 = core_revoke_domain(sd, domid);
	if (sd->journal) {
		journal_log_domain(sd->journal, d);
		journal_seal(sd->journal);
	}
	domain_put(&sd->domains, d);
	if (fire)
		watch_fire_special(sd, "@releaseDomain");
	log_info("domain %u released", domid);
	return rc < 0 ? rc : rc2;
}

static int do_release(struct req *r)
{
	unsigned domid;
	int rc;

	if (parse_domid(r->argv[0], &domid) < 0 || domid == 0)
		return -EINVAL;
	rc = core_release_domain(r->c->sd, domid, false);
	if (rc == -ENOENT)
		return rc;
	r->special = "@releaseDomain";
	return rc < 0 ? rc : reply_ok(r);
}

static int do_resume(struct req *r)
{
	unsigned domid;
	struct domain *d;

	if (parse_domid(r->argv[0], &domid) < 0)
		return -EINVAL;
	d = domain_get(&r->c->sd->domains, domid, false);
	if (!d || !d->introduced)
		return -ENOENT;
	d->shutdown = false;
	return reply_ok(r);
}

static int do_set_target(struct req *r)
{
	struct stored *sd = r->c->sd;
	unsigned domid, target;
	struct domain *d;

	if (parse_domid(r->argv[0], &domid) < 0 ||
	    parse_domid(r->argv[1], &target) < 0 || domid == target)
		return -EINVAL;
	d = domain_get(&sd->domains, domid, false);
	if (!d || !d->introduced)
		return -ENOENT;
	d->target = target;
	for (struct conn *c = sd->conns; c; c = c->next)
		if (c->who.domid == domid)
			c->who.target = target;
	if (sd->journal)
		journal_log_domain(sd->journal, d);
	return reply_ok(r);
}

/* ---- control ----------------------------------------------------------- */

struct quota_field {
	const char *name;
	size_t off;
};

#define QF(n) { #n, offsetof(struct quota, n) }
static const struct quota_field quota_fields[] = {
	QF(nodes), QF(value_size), QF(watches), QF(transactions),
	QF(outstanding), QF(path_max), QF(trans_nodes), QF(perms),
	QF(max_conns), QF(event_queue), QF(domain_conns), QF(domain_events),
	QF(domain_output), QF(socket_conns), QF(dom0_reserve),
};

static int control_quota(struct req *r)
{
	struct quota *q = &r->c->sd->quota;
	size_t n = sizeof(quota_fields) / sizeof(quota_fields[0]);
	unsigned len = 0;

	if (r->argc == 1) {
		for (size_t i = 0; i < n; i++) {
			unsigned *v = (unsigned *)((char *)q + quota_fields[i].off);

			len += (unsigned)snprintf(r->out + len, sizeof(r->out) - len,
						  "%-14s %u\n", quota_fields[i].name, *v);
		}
		r->out[len++] = '\0';
		r->outlen = len;
		return 0;
	}
	if (r->argc != 3)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(r->argv[1], quota_fields[i].name) == 0) {
			unsigned *v = (unsigned *)((char *)q + quota_fields[i].off);
			uint64_t val;

			if (wire_uint(r->argv[2], UINT32_MAX, &val) < 0 ||
			    val == 0)
				return -EINVAL;
			*v = (unsigned)val;
			return reply_ok(r);
		}
	}
	return -EINVAL;
}

static int do_control(struct req *r)
{
	const char *cmd = r->argv[0];
	enum log_level lvl;

	if (strcmp(cmd, "print") == 0 && r->argc >= 2) {
		log_info("control: %s", r->argv[1]);
		return reply_ok(r);
	}
	if (strcmp(cmd, "log") == 0 && r->argc >= 2) {
		if (strcmp(r->argv[1], "on") == 0)
			log_set_level(LOG_LVL_DEBUG);
		else if (strcmp(r->argv[1], "off") == 0)
			log_set_level(LOG_LVL_WARN);
		else if (log_parse_level(r->argv[1], &lvl) == 0)
			log_set_level(lvl);
		else
			return -EINVAL;
		return reply_ok(r);
	}
	if (strcmp(cmd, "quota") == 0)
		return control_quota(r);
	if (strcmp(cmd, "check") == 0)
		return reply_ok(r);
	if (strcmp(cmd, "stats") == 0) {
		/* The counters metrics.c exports; CONTROL is dom0's only. */
		int n = stored_stats_json(r->c->sd, r->out, sizeof(r->out));

		if (n < 0)
			return n;
		r->outlen = (unsigned)n;
		return 0;
	}
	if (strcmp(cmd, "help") == 0)
		return reply_str(r, "check\nhelp\nlog on|off|LEVEL\nprint STRING\n"
				    "quota [NAME VALUE]\nstats\n");
	return -EINVAL;
}

/* ---- dispatch ---------------------------------------------------------- */

static const struct op ops[XS_TYPE_COUNT] = {
	[XS_CONTROL]		= { "CONTROL", do_control, F_PRIV, 1 },
	[XS_DIRECTORY]		= { "DIRECTORY", do_directory, F_TXN, 1 },
	[XS_READ]		= { "READ", do_read, F_TXN, 1 },
	[XS_GET_PERMS]		= { "GET_PERMS", do_get_perms, F_TXN, 1 },
	[XS_WATCH]		= { "WATCH", do_watch, 0, 2 },
	[XS_UNWATCH]		= { "UNWATCH", do_unwatch, 0, 2 },
	[XS_TRANSACTION_START]	= { "TRANSACTION_START", do_txn_start, F_NOTXN, 0 },
	[XS_TRANSACTION_END]	= { "TRANSACTION_END", do_txn_end, F_TXN, 1 },
	[XS_INTRODUCE]		= { "INTRODUCE", do_introduce, F_PRIV, 3 },
	[XS_RELEASE]		= { "RELEASE", do_release, F_PRIV, 1 },
	[XS_GET_DOMAIN_PATH]	= { "GET_DOMAIN_PATH", do_get_domain_path, 0, 1 },
	[XS_WRITE]		= { "WRITE", do_write, F_TXN | F_MOD, 1 },
	[XS_MKDIR]		= { "MKDIR", do_mkdir, F_TXN | F_MOD, 1 },
	[XS_RM]			= { "RM", do_rm, F_TXN | F_MOD, 1 },
	[XS_SET_PERMS]		= { "SET_PERMS", do_set_perms, F_TXN | F_MOD, 1 },
	[XS_IS_DOMAIN_INTRODUCED] = { "IS_DOMAIN_INTRODUCED", do_is_introduced, 0, 1 },
	[XS_RESUME]		= { "RESUME", do_resume, F_PRIV, 1 },
	[XS_SET_TARGET]		= { "SET_TARGET", do_set_target, F_PRIV, 2 },
	[XS_RESET_WATCHES]	= { "RESET_WATCHES", do_reset_watches, F_NOTXN, 0 },
	[XS_DIRECTORY_PART]	= { "DIRECTORY_PART", do_directory_part, F_TXN, 2 },
};

const char *core_type_name(unsigned type)
{
	return type < XS_TYPE_COUNT && ops[type].fn ? ops[type].name : NULL;
}

static int dispatch(struct req *r, const struct op *op)
{
	struct conn *c = r->c;

	if ((op->flags & F_PRIV) && !c->who.privileged)
		return -EACCES;
	if (r->hdr->tx_id) {
		if (op->flags & F_NOTXN)
			return -EINVAL;
		if (op->flags & F_TXN) {
			r->tx = txn_find(c, r->hdr->tx_id);
			/* A ring connection's transactions ended with the
			 * daemon it was opened with (ring.c): EAGAIN makes
			 * the guest run it again. */
			if (!r->tx)
				return c->reattached ? -EAGAIN : -ENOENT;
		}
	} else if (r->hdr->type == XS_TRANSACTION_END) {
		return -EINVAL;
	}
	if (r->argc < op->min_args)
		return -EINVAL;
	if (r->tx && (op->flags & F_MOD))
		txn_mark(r->tx);
	return op->fn(r);
}

/* A request inside a transaction counts only if it succeeded: a failed one
 * leaves no touched node, change or watch event behind.  (A failed read
 * changes nothing; what it saw, such as a node being absent, stays part
 * of what the commit checks.) */
static void settle_in_txn(struct req *r, int rc)
{
	if (rc < 0) {
		txn_undo(r->tx);
		changes_clear(&r->changes);
	} else {
		txn_keep(r->tx);
		changes_splice(&r->tx->changes, &r->changes);
	}
}

void core_dispatch(struct conn *c, const struct xsd_sockmsg *hdr, char *body)
{
	struct stored *sd = c->sd;
	const struct op *op = hdr->type < XS_TYPE_COUNT ? &ops[hdr->type] : NULL;
	struct req *r;
	int rc;

	/* The request holds a full reply buffer: one per daemon, reused
	 * (requests are handled one at a time). */
	if (!sd->req) {
		sd->req = malloc(sizeof(*r));
		if (!sd->req) {
			conn_send_error(c, hdr, ENOMEM);
			return;
		}
	}
	r = sd->req;
	r->c = c;
	r->hdr = hdr;
	r->body = body;
	r->len = hdr->len;
	r->tx = NULL;
	r->outlen = 0;
	r->special = NULL;
	changes_init(&r->changes);
	split_args(r);

	if (!op || !op->fn) {
		rc = -EINVAL;
	} else {
		sd->requests[hdr->type]++;
		rc = dispatch(r, op);
		log_debug("dom%u %s %s -> %d", c->who.domid, op->name,
			  r->argc ? r->argv[0] : "", rc);
	}
	if (rc < 0) {
		conn_send_error(c, hdr, -rc);
	} else if (rc == 0) {
		conn_send(c, hdr->type, hdr->req_id, hdr->tx_id, r->out,
			  r->outlen, false);
	}
	/* Changes outside a transaction (and commits) take effect now;
	 * inside one they wait for the commit. */
	if (r->tx)
		settle_in_txn(r, rc);
	else
		watch_fire_changes(sd, &r->changes);
	if (r->special)
		watch_fire_special(sd, r->special);
	if (sd->journal)
		journal_seal(sd->journal);
	changes_clear(&r->changes);
}

int core_setup_tree(struct stored *sd)
{
	static const char *const paths[] = {
		"/", "/tool", "/tool/xenstored", "@introduceDomain",
		"@releaseDomain",
	};
	struct xs_permissions p0 = { 0, XS_PERM_NONE };
	struct perms perms = { 1, &p0 };
	int rc = 0;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]) && rc == 0; i++) {
		struct node *n;
		char parent[XENSTORE_ABS_PATH_MAX + 1];
		const char *name;

		if (nodetab_get(&sd->store.nodes, paths[i]))
			continue;
		n = node_new(paths[i], &perms, "", 0);
		if (!n)
			return -ENOMEM;
		rc = store_install(&sd->store, n);
		if (rc < 0 || paths[i][0] != '/' || strcmp(paths[i], "/") == 0)
			continue;
		name = path_split(paths[i], parent, sizeof(parent));
		n = node_dup(nodetab_get(&sd->store.nodes, parent));
		if (!n || node_add_child(n, name) < 0) {
			node_free(n);
			return -ENOMEM;
		}
		rc = store_install(&sd->store, n);
	}
	if (sd->journal)
		journal_seal(sd->journal);
	return rc;
}
