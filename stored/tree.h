/* The node tree: a hash table of nodes keyed by absolute path.  Each node
 * carries its value, permissions, the NUL-separated names of its children
 * (in creation order, as DIRECTORY returns them) and a generation number.
 *
 * Every read and write goes through a view: the store itself, or a
 * transaction layered on it (see txn.c).  The operations here (write with
 * parent creation, mkdir, recursive rm, set perms) are written once against
 * a view and so behave identically inside and outside transactions. */
#ifndef STORED_TREE_H
#define STORED_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perms.h"

struct node {
	char *path;
	struct perms perms;
	char *value;
	unsigned vlen;
	char *children;		/* "a\0b\0" */
	unsigned childlen;
	uint64_t gen;		/* store generation of the last change */
	struct node *hnext;
	/* Transaction bookkeeping (unused in the store's own table). */
	uint64_t seen_gen;	/* gen when first read; 0 = did not exist */
	bool absent;		/* known not to exist in this view */
	bool dirty;		/* modified in the transaction */
};

struct nodetab {
	struct node **b;
	size_t nb, count;
};

int nodetab_init(struct nodetab *t, size_t nb);
void nodetab_destroy(struct nodetab *t);	/* frees every node */
struct node *nodetab_get(const struct nodetab *t, const char *path);
/* Inserts n, replacing (and returning) any node of the same path. */
struct node *nodetab_put(struct nodetab *t, struct node *n);
struct node *nodetab_remove(struct nodetab *t, const char *path);

struct node *node_new(const char *path, const struct perms *perms,
		      const char *value, unsigned vlen);
struct node *node_dup(const struct node *n);
void node_free(struct node *n);
int node_add_child(struct node *n, const char *name);
void node_del_child(struct node *n, const char *name);

struct journal;
struct txn;

/* Per-domain node counts for the nodes quota (owner = perms.p[0].id),
 * in pages of OWNED_PAGE domids allocated when a domain in them first owns
 * a node: a store costs nothing for the domids nobody uses. */
#define OWNED_PAGE 256u
struct store {
	struct nodetab nodes;
	uint64_t gen;
	uint32_t *owned[65536 / OWNED_PAGE];
	struct journal *journal;	/* NULL: in memory only */
};

int store_init(struct store *st);
void store_destroy(struct store *st);
/* Installs n (taking ownership, even on failure) or deletes path, bumping
 * the generation, keeping quota counts and journalling the change. */
int store_install(struct store *st, struct node *n);
int store_delete(struct store *st, const char *path);
/* Replaces a stored node's value in place (no transaction holds store
 * nodes: they copy what they touch). */
int store_set_value(struct store *st, struct node *n, const char *val,
		    unsigned vlen);
/* Counts in a fresh table built from journal replay. */
void store_recount(struct store *st);
/* Nodes owned by domid. */
unsigned store_owned(const struct store *st, unsigned domid);

/* Change notifications collected by the operations below; fired after
 * the request (or at commit, for a transaction). */
/* CHANGE_NODE and CHANGE_REMOVED fire watches at or above the path;
 * CHANGE_EXACT, for each node below a removed one, fires watches on
 * exactly that node (event path = the watch's path, as xenstore.txt
 * specifies for the recursive removal of a watch's ancestor). */
enum change_kind { CHANGE_NODE, CHANGE_REMOVED, CHANGE_EXACT };
struct change {
	char *path;
	enum change_kind kind;
	struct perms perms;	/* node's perms at the change (XSA-115) */
	struct change *next;
};
struct changes {
	struct change *head, **tail;
	unsigned count;
};
void changes_init(struct changes *c);
void changes_clear(struct changes *c);
int changes_add(struct changes *c, const char *path, enum change_kind kind,
		const struct perms *perms);
void changes_splice(struct changes *dst, struct changes *src);

struct quota;

struct view {
	struct store *st;
	struct txn *tx;
	const struct quota *q;
	const struct who *who;
	struct changes *changes;
	/* Counted by the quota that refused (quota.h's enum quota_kind);
	 * may be NULL. */
	uint64_t *refusals;
};

/* Lookup: 0 and *out, -ENOENT, or another -errno (transaction limits). */
int view_get(struct view *v, const char *path, const struct node **out);

/* Operations with xenstored's semantics and permission checks. */
int tree_read(struct view *v, const char *path, const struct node **out);
int tree_write(struct view *v, const char *path, const char *val,
	       unsigned vlen);
int tree_mkdir(struct view *v, const char *path);
int tree_rm(struct view *v, const char *path);
int tree_set_perms(struct view *v, const char *path, const struct perms *p);

/* A growable vector of owned strings. */
struct strv {
	char **v;
	size_t n, cap;
};
int strv_take(struct strv *sv, char *s);	/* takes s, even on failure */
int strv_push(struct strv *sv, const char *s);	/* copies s */
void strv_free(struct strv *sv);

/* Path helpers. */
bool path_valid(const char *path, size_t max);
/* "/a/b/c" -> writes "/a/b" into parent and returns a pointer into path
 * at "c"; root's parent is itself. */
const char *path_split(const char *path, char *parent, size_t len);
bool path_is_child(const char *child, const char *parent);

#endif
