/* The node table, paths and the tree operations (design in tree.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xs_wire.h>

#include "journal.h"
#include "quota.h"
#include "tree.h"
#include "txn.h"

/* ---- hash table ---------------------------------------------------- */

static size_t hash_path(const char *s)
{
	size_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

int nodetab_init(struct nodetab *t, size_t nb)
{
	t->b = calloc(nb, sizeof(*t->b));
	t->nb = nb;
	t->count = 0;
	return t->b ? 0 : -ENOMEM;
}

void nodetab_destroy(struct nodetab *t)
{
	for (size_t i = 0; t->b && i < t->nb; i++) {
		struct node *n = t->b[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			node_free(n);
		}
	}
	free(t->b);
	t->b = NULL;
	t->nb = t->count = 0;
}

struct node *nodetab_get(const struct nodetab *t, const char *path)
{
	struct node *n = t->b[hash_path(path) % t->nb];

	while (n && strcmp(n->path, path) != 0)
		n = n->hnext;
	return n;
}

static void nodetab_grow(struct nodetab *t)
{
	size_t nb = t->nb * 2;
	struct node **b = calloc(nb, sizeof(*b));

	if (!b)
		return;		/* keep going with longer chains */
	for (size_t i = 0; i < t->nb; i++) {
		struct node *n = t->b[i], *next;

		for (; n; n = next) {
			size_t h = hash_path(n->path) % nb;

			next = n->hnext;
			n->hnext = b[h];
			b[h] = n;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

struct node *nodetab_put(struct nodetab *t, struct node *n)
{
	struct node **pp = &t->b[hash_path(n->path) % t->nb];
	struct node *old;

	for (; *pp; pp = &(*pp)->hnext) {
		if (strcmp((*pp)->path, n->path) == 0) {
			old = *pp;
			n->hnext = old->hnext;
			*pp = n;
			old->hnext = NULL;
			return old;
		}
	}
	n->hnext = NULL;
	*pp = n;
	if (++t->count > t->nb * 2)
		nodetab_grow(t);
	return NULL;
}

struct node *nodetab_remove(struct nodetab *t, const char *path)
{
	struct node **pp = &t->b[hash_path(path) % t->nb];

	for (; *pp; pp = &(*pp)->hnext) {
		if (strcmp((*pp)->path, path) == 0) {
			struct node *n = *pp;

			*pp = n->hnext;
			n->hnext = NULL;
			t->count--;
			return n;
		}
	}
	return NULL;
}

/* ---- nodes ------------------------------------------------------------ */

struct node *node_new(const char *path, const struct perms *perms,
		      const char *value, unsigned vlen)
{
	struct node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->path = strdup(path);
	n->value = malloc(vlen ? vlen : 1);
	if (!n->path || !n->value)
		goto fail;
	memcpy(n->value, value, vlen);
	n->vlen = vlen;
	if (perms && perms_dup(perms, &n->perms) < 0)
		goto fail;
	return n;
fail:
	node_free(n);
	return NULL;
}

struct node *node_dup(const struct node *src)
{
	struct node *n = node_new(src->path, &src->perms, src->value, src->vlen);

	if (!n)
		return NULL;
	if (src->childlen) {
		n->children = malloc(src->childlen);
		if (!n->children) {
			node_free(n);
			return NULL;
		}
		memcpy(n->children, src->children, src->childlen);
		n->childlen = src->childlen;
	}
	n->gen = src->gen;
	n->seen_gen = src->seen_gen;
	n->absent = src->absent;
	n->dirty = src->dirty;
	return n;
}

void node_free(struct node *n)
{
	if (!n)
		return;
	free(n->path);
	free(n->value);
	free(n->children);
	perms_free(&n->perms);
	free(n);
}

static long child_find(const struct node *n, const char *name)
{
	for (unsigned off = 0; off < n->childlen;) {
		const char *c = n->children + off;
		size_t l = strlen(c);

		if (strcmp(c, name) == 0)
			return off;
		off += l + 1;
	}
	return -1;
}

int node_add_child(struct node *n, const char *name)
{
	size_t l = strlen(name) + 1;
	char *c;

	if (child_find(n, name) >= 0)
		return 0;
	c = realloc(n->children, n->childlen + l);
	if (!c)
		return -ENOMEM;
	memcpy(c + n->childlen, name, l);
	n->children = c;
	n->childlen += l;
	return 0;
}

void node_del_child(struct node *n, const char *name)
{
	long off = child_find(n, name);
	size_t l = strlen(name) + 1;

	if (off < 0)
		return;
	memmove(n->children + off, n->children + off + l,
		n->childlen - off - l);
	n->childlen -= l;
}

/* ---- paths ---------------------------------------------------------- */

bool path_valid(const char *path, size_t max)
{
	size_t len = strlen(path);

	if (len == 0 || len > max || path[0] != '/')
		return false;
	if (len > 1 && path[len - 1] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = path[i];

		if (c == '/' && path[i + 1] == '/')
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '/' ||
		      c == '_' || c == '@'))
			return false;
	}
	return true;
}

const char *path_split(const char *path, char *parent, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t plen = slash == path ? 1 : (size_t)(slash - path);

	if (plen >= len)
		plen = len - 1;
	memcpy(parent, path, plen);
	parent[plen] = '\0';
	return slash + 1;
}

bool path_is_child(const char *child, const char *parent)
{
	size_t l = strlen(parent);

	if (strcmp(parent, "/") == 0)
		return child[0] == '/';
	return strncmp(child, parent, l) == 0 &&
	       (child[l] == '\0' || child[l] == '/');
}

/* ---- the store ------------------------------------------------------- */

int store_init(struct store *st)
{
	memset(st, 0, sizeof(*st));
	return nodetab_init(&st->nodes, 1024);
}

void store_destroy(struct store *st)
{
	nodetab_destroy(&st->nodes);
	for (size_t i = 0; i < sizeof(st->owned) / sizeof(st->owned[0]); i++) {
		free(st->owned[i]);
		st->owned[i] = NULL;
	}
}

/* A quota refused the request: counted for the metrics, then ENOSPC. */
static int view_refuse(struct view *v, enum quota_kind k)
{
	if (v->refusals)
		v->refusals[k]++;
	return -ENOSPC;
}

static unsigned node_owner(const struct node *n)
{
	return n->perms.n ? n->perms.p[0].id & 0xffff : 0;
}

unsigned store_owned(const struct store *st, unsigned domid)
{
	const uint32_t *pg = st->owned[(domid & 0xffff) / OWNED_PAGE];

	return pg ? pg[domid % OWNED_PAGE] : 0;
}

/* The counter of domid, its page allocated on first use. */
static uint32_t *owned_slot(struct store *st, unsigned domid)
{
	uint32_t **pg = &st->owned[(domid & 0xffff) / OWNED_PAGE];

	if (!*pg)
		*pg = calloc(OWNED_PAGE, sizeof(**pg));
	return *pg ? &(*pg)[domid % OWNED_PAGE] : NULL;
}

/* A node being removed was counted, so its page exists. */
static void owned_drop(struct store *st, const struct node *n)
{
	uint32_t *c = owned_slot(st, node_owner(n));

	if (c && *c)
		(*c)--;
}

int store_install(struct store *st, struct node *n)
{
	uint32_t *count = owned_slot(st, node_owner(n));
	struct node *old;
	int rc = 0;

	if (!count) {
		node_free(n);
		return -ENOMEM;
	}
	n->gen = ++st->gen;
	n->seen_gen = 0;
	n->absent = n->dirty = false;
	if (st->journal)
		rc = journal_log_node(st->journal, n);
	old = nodetab_put(&st->nodes, n);
	if (old) {
		owned_drop(st, old);
		node_free(old);
	}
	(*count)++;
	return rc;
}

int store_set_value(struct store *st, struct node *n, const char *val,
		    unsigned vlen)
{
	char *v = vlen > n->vlen ? realloc(n->value, vlen) : n->value;

	if (!v)
		return -ENOMEM;
	memcpy(v, val, vlen);
	n->value = v;
	n->vlen = vlen;
	n->gen = ++st->gen;
	return st->journal ? journal_log_node(st->journal, n) : 0;
}

int store_delete(struct store *st, const char *path)
{
	struct node *old = nodetab_remove(&st->nodes, path);

	if (!old)
		return 0;
	st->gen++;
	owned_drop(st, old);
	node_free(old);
	return st->journal ? journal_log_delete(st->journal, path) : 0;
}

/* Every owner was counted by store_install, so no page is missing. */
void store_recount(struct store *st)
{
	for (size_t i = 0; i < sizeof(st->owned) / sizeof(st->owned[0]); i++)
		if (st->owned[i])
			memset(st->owned[i], 0, OWNED_PAGE * sizeof(uint32_t));
	for (size_t i = 0; i < st->nodes.nb; i++) {
		for (struct node *n = st->nodes.b[i]; n; n = n->hnext) {
			uint32_t *c = owned_slot(st, node_owner(n));

			if (c)
				(*c)++;
		}
	}
}

/* ---- string vectors ---------------------------------------------------- */

int strv_take(struct strv *sv, char *s)
{
	if (sv->n == sv->cap) {
		size_t nc = sv->cap ? sv->cap * 2 : 16;
		char **nv = realloc(sv->v, nc * sizeof(*nv));

		if (!nv) {
			free(s);
			return -ENOMEM;
		}
		sv->v = nv;
		sv->cap = nc;
	}
	sv->v[sv->n++] = s;
	return 0;
}

int strv_push(struct strv *sv, const char *s)
{
	char *d = strdup(s);

	return d ? strv_take(sv, d) : -ENOMEM;
}

void strv_free(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	*sv = (struct strv){ 0 };
}

/* ---- change lists ---------------------------------------------------- */

void changes_init(struct changes *c)
{
	c->head = NULL;
	c->tail = &c->head;
	c->count = 0;
}

void changes_clear(struct changes *c)
{
	struct change *ch, *next;

	for (ch = c->head; ch; ch = next) {
		next = ch->next;
		free(ch->path);
		perms_free(&ch->perms);
		free(ch);
	}
	changes_init(c);
}

int changes_add(struct changes *c, const char *path, enum change_kind kind,
		const struct perms *perms)
{
	struct change *ch;

	if (!c)
		return 0;
	ch = calloc(1, sizeof(*ch));
	if (!ch || !(ch->path = strdup(path)) ||
	    perms_dup(perms, &ch->perms) < 0) {
		if (ch)
			free(ch->path);
		free(ch);
		return -ENOMEM;
	}
	ch->kind = kind;
	*c->tail = ch;
	c->tail = &ch->next;
	c->count++;
	return 0;
}

void changes_splice(struct changes *dst, struct changes *src)
{
	if (!src->head)
		return;
	*dst->tail = src->head;
	dst->tail = src->tail;
	dst->count += src->count;
	changes_init(src);
}

/* ---- views ------------------------------------------------------------ */

int view_get(struct view *v, const char *path, const struct node **out)
{
	const struct node *n;
	int rc;

	if (v->tx) {
		rc = txn_get(v->tx, v->st, path, &n);
		if (rc < 0)
			return rc;
	} else {
		n = nodetab_get(&v->st->nodes, path);
	}
	if (!n)
		return -ENOENT;
	*out = n;
	return 0;
}

static int view_put(struct view *v, struct node *n)
{
	if (v->tx)
		return txn_put(v->tx, n);
	return store_install(v->st, n);
}

static int view_del(struct view *v, const char *path)
{
	if (v->tx)
		return txn_del(v->tx, path);
	return store_delete(v->st, path);
}

static unsigned view_owned(struct view *v, unsigned domid)
{
	long n = store_owned(v->st, domid);

	if (v->tx)
		n += txn_owned_delta(v->tx, domid);
	return n < 0 ? 0 : (unsigned)n;
}

/* ---- operations ------------------------------------------------------- */

int tree_read(struct view *v, const char *path, const struct node **out)
{
	const struct node *n;
	int rc = view_get(v, path, &n);

	if (rc < 0)
		return rc;
	if (!(perms_check(&n->perms, v->who) & XS_PERM_READ))
		return -EACCES;
	*out = n;
	return 0;
}

/* Creates path and any missing ancestors, inheriting the permissions of
 * the nearest existing ancestor; unprivileged creators own what they
 * create.  Iterative: the ancestors are collected first (XSA-418). */
static int create_path(struct view *v, const char *path, const char *val,
		       unsigned vlen)
{
	char cur[XENSTORE_ABS_PATH_MAX + 1], parent[XENSTORE_ABS_PATH_MAX + 1];
	const char *missing[XENSTORE_ABS_PATH_MAX / 2 + 1];
	unsigned nmissing = 0;
	const struct node *anc = NULL;
	struct perms perms = { 0, NULL };
	int rc;

	/* Walk up until an existing ancestor; remember where each name
	 * starts so the missing nodes can be made top-down. */
	strcpy(cur, path);
	for (;;) {
		rc = view_get(v, cur, &anc);
		if (rc == 0)
			break;
		if (rc != -ENOENT)
			return rc;
		missing[nmissing++] = path + strlen(cur);
		path_split(cur, parent, sizeof(parent));
		strcpy(cur, parent);
	}
	if (!(perms_check(&anc->perms, v->who) & XS_PERM_WRITE))
		return -EACCES;
	if (!v->who->privileged &&
	    view_owned(v, v->who->domid) + nmissing > v->q->nodes)
		return view_refuse(v, QK_NODES);
	rc = perms_dup(&anc->perms, &perms);
	if (rc < 0)
		return rc;
	if (!v->who->privileged && perms.n)
		perms.p[0].id = v->who->domid;

	/* missing[] holds end offsets, deepest first. */
	while (nmissing--) {
		size_t end = (size_t)(missing[nmissing] - path);
		const struct node *pn;
		struct node *n, *np;
		bool leaf = nmissing == 0;

		memcpy(cur, path, end);
		cur[end] = '\0';
		n = node_new(cur, &perms, leaf ? val : "", leaf ? vlen : 0);
		if (!n) {
			rc = -ENOMEM;
			goto fail;
		}
		rc = view_put(v, n);
		if (rc < 0)
			goto fail;
		/* Link into the parent (a fresh copy: nodes are immutable
		 * once installed, so a transaction's reads stay stable). */
		const char *name = path_split(cur, parent, sizeof(parent));

		rc = view_get(v, parent, &pn);
		if (rc < 0)
			goto fail;
		np = node_dup(pn);
		if (!np || node_add_child(np, name) < 0) {
			node_free(np);
			rc = -ENOMEM;
			goto fail;
		}
		rc = view_put(v, np);
		if (rc < 0)
			goto fail;
	}
	rc = changes_add(v->changes, path, CHANGE_NODE, &perms);
fail:
	perms_free(&perms);
	return rc;
}

int tree_write(struct view *v, const char *path, const char *val,
	       unsigned vlen)
{
	const struct node *old;
	struct node *n;
	int rc;

	if (vlen > v->q->value_size && !v->who->privileged)
		return view_refuse(v, QK_VALUE_SIZE);
	rc = view_get(v, path, &old);
	if (rc == -ENOENT)
		return create_path(v, path, val, vlen);
	if (rc < 0)
		return rc;
	if (!(perms_check(&old->perms, v->who) & XS_PERM_WRITE))
		return -EACCES;
	if (!v->tx) {
		/* Transactions copy what they touch, so the store's own node
		 * may change in place: the common write costs no node copy. */
		rc = store_set_value(v->st, (struct node *)old, val, vlen);
		if (rc < 0)
			return rc;
		return changes_add(v->changes, path, CHANGE_NODE, &old->perms);
	}
	n = node_dup(old);
	if (!n)
		return -ENOMEM;
	free(n->value);
	n->value = malloc(vlen ? vlen : 1);
	if (!n->value) {
		node_free(n);
		return -ENOMEM;
	}
	memcpy(n->value, val, vlen);
	n->vlen = vlen;
	rc = view_put(v, n);
	if (rc < 0)
		return rc;
	return changes_add(v->changes, path, CHANGE_NODE, &n->perms);
}

int tree_mkdir(struct view *v, const char *path)
{
	const struct node *old;
	int rc = view_get(v, path, &old);

	if (rc == -ENOENT)
		return create_path(v, path, "", 0);
	if (rc < 0)
		return rc;
	return perms_check(&old->perms, v->who) & XS_PERM_WRITE ? 0 : -EACCES;
}

static int rm_subtree(struct view *v, const char *path);

/* Removes the subtree iteratively: collect every path breadth-first, then
 * delete them (XSA-418: no recursion a deep tree could exhaust).  The
 * events are collected aside and handed over only once everything is
 * removed: a removal that fails half-way announces nothing. */
int tree_rm(struct view *v, const char *path)
{
	struct changes ch;
	struct changes *dst = v->changes;
	int rc;

	changes_init(&ch);
	v->changes = dst ? &ch : NULL;
	rc = rm_subtree(v, path);
	v->changes = dst;
	if (rc == 0 && dst)
		changes_splice(dst, &ch);
	changes_clear(&ch);
	return rc;
}

static int rm_subtree(struct view *v, const char *path)
{
	char parent[XENSTORE_ABS_PATH_MAX + 1];
	const struct node *n, *pn;
	struct strv below = { 0 };
	size_t i;
	struct node *np;
	const char *name;
	int rc;

	if (strcmp(path, "/") == 0)
		return -EINVAL;
	name = path_split(path, parent, sizeof(parent));
	rc = view_get(v, path, &n);
	if (rc == -ENOENT) {
		rc = view_get(v, parent, &pn);
		return rc == -ENOENT ? -ENOENT : rc < 0 ? rc : 0;
	}
	if (rc < 0)
		return rc;
	if (!(perms_check(&n->perms, v->who) & XS_PERM_WRITE))
		return -EACCES;
	rc = changes_add(v->changes, path, CHANGE_REMOVED, &n->perms);
	if (rc < 0)
		return rc;

	for (i = 0; i <= below.n; i++) {
		const char *p = i == 0 ? path : below.v[i - 1];

		rc = view_get(v, p, &n);
		if (rc == -ENOENT)
			continue;
		if (rc < 0)
			goto out;
		if (i > 0 && changes_add(v->changes, p, CHANGE_EXACT,
					 &n->perms) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		for (unsigned off = 0; off < n->childlen;) {
			const char *c = n->children + off;
			char *cp;

			off += (unsigned)strlen(c) + 1;
			if (asprintf(&cp, "%s%s%s", p,
				     strcmp(p, "/") ? "/" : "", c) < 0 ||
			    strv_take(&below, cp) < 0) {
				rc = -ENOMEM;
				goto out;
			}
		}
	}
	/* Children first, then the node, then unlink it from its parent. */
	for (i = below.n; i-- > 0;) {
		rc = view_del(v, below.v[i]);
		if (rc < 0)
			goto out;
	}
	rc = view_del(v, path);
	if (rc < 0)
		goto out;
	rc = view_get(v, parent, &pn);
	if (rc < 0)
		goto out;
	np = node_dup(pn);
	if (!np) {
		rc = -ENOMEM;
		goto out;
	}
	node_del_child(np, name);
	rc = view_put(v, np);
out:
	strv_free(&below);
	return rc;
}

int tree_set_perms(struct view *v, const char *path, const struct perms *p)
{
	const struct node *old;
	struct node *n;
	int rc = view_get(v, path, &old);

	if (rc < 0)
		return rc;
	/* Only the owner (or dom0) may change permissions, and an
	 * unprivileged owner may not give the node away. */
	if (!v->who->privileged) {
		if (!(perms_check(&old->perms, v->who) & XS_PERM_WRITE) ||
		    !old->perms.n || old->perms.p[0].id != v->who->domid)
			return -EACCES;
		if (p->p[0].id != old->perms.p[0].id)
			return -EPERM;
	}
	n = node_dup(old);
	if (!n)
		return -ENOMEM;
	perms_free(&n->perms);
	if (perms_dup(p, &n->perms) < 0) {
		node_free(n);
		return -ENOMEM;
	}
	if (!v->who->privileged && n->perms.p[0].id != old->perms.p[0].id &&
	    view_owned(v, n->perms.p[0].id) >= v->q->nodes) {
		node_free(n);
		return view_refuse(v, QK_NODES);
	}
	rc = view_put(v, n);
	if (rc < 0)
		return rc;
	return changes_add(v->changes, path, CHANGE_NODE, p);
}
