/* Permission lists (perms.h): Xen's string form, checks, revocation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perms.h"
#include "pvd/num.h"

/* One entry: a letter and a decimal domid ("r5"), as libxenstore's
 * xs_perm_to_string writes it; nothing else (no sign, blank or tail). */
static int perm_parse_one(const char *s, struct xs_permissions *out)
{
	uint64_t id;

	switch (s[0]) {
	case 'n': out->perms = XS_PERM_NONE; break;
	case 'r': out->perms = XS_PERM_READ; break;
	case 'w': out->perms = XS_PERM_WRITE; break;
	case 'b': out->perms = XS_PERM_READ | XS_PERM_WRITE; break;
	default: return -EINVAL;
	}
	if (pvd_parse_uint(s + 1, 0xffff, &id) < 0)
		return -EINVAL;
	out->id = (unsigned)id;
	return 0;
}

int perms_parse(const char *buf, size_t len, unsigned max, struct perms *out)
{
	unsigned n = 0;
	struct xs_permissions *p;
	size_t off;

	if (len == 0 || buf[len - 1] != '\0')
		return -EINVAL;
	for (off = 0; off < len; off += strlen(buf + off) + 1)
		n++;
	if (n > max)
		return -E2BIG;
	p = calloc(n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	n = 0;
	for (off = 0; off < len; off += strlen(buf + off) + 1) {
		if (perm_parse_one(buf + off, &p[n++]) < 0) {
			free(p);
			return -EINVAL;
		}
	}
	out->n = n;
	out->p = p;
	return 0;
}

int perms_format(const struct perms *p, char *buf, size_t len)
{
	static const char letters[] = "nrwb";
	size_t off = 0;

	for (unsigned i = 0; i < p->n; i++) {
		int w = snprintf(buf + off, len - off, "%c%u",
				 letters[p->p[i].perms & 3], p->p[i].id);
		if (w < 0 || (size_t)w + 1 > len - off)
			return -E2BIG;
		off += (size_t)w + 1;	/* keep the NUL */
	}
	return (int)off;
}

int perms_dup(const struct perms *src, struct perms *dst)
{
	dst->n = 0;
	dst->p = NULL;
	if (src->n == 0)
		return 0;
	dst->p = malloc(src->n * sizeof(*src->p));
	if (!dst->p)
		return -ENOMEM;
	memcpy(dst->p, src->p, src->n * sizeof(*src->p));
	dst->n = src->n;
	return 0;
}

void perms_free(struct perms *p)
{
	free(p->p);
	p->p = NULL;
	p->n = 0;
}

bool perms_equal(const struct perms *a, const struct perms *b)
{
	if (a->n != b->n)
		return false;
	for (unsigned i = 0; i < a->n; i++)
		if (a->p[i].id != b->p[i].id ||
		    (a->p[i].perms & 3) != (b->p[i].perms & 3))
			return false;
	return true;
}

static unsigned perms_for_domid(const struct perms *p, unsigned domid)
{
	if (p->p[0].id == domid)
		return XS_PERM_READ | XS_PERM_WRITE;
	for (unsigned i = 1; i < p->n; i++)
		if (p->p[i].id == domid)
			return p->p[i].perms & 3;
	return DOMID_NONE;	/* not listed */
}

unsigned perms_check(const struct perms *p, const struct who *who)
{
	unsigned mine, theirs;

	if (who->privileged)
		return XS_PERM_READ | XS_PERM_WRITE;
	if (p->n == 0)
		return XS_PERM_NONE;
	mine = perms_for_domid(p, who->domid);
	/* A domain that targets another (a stub domain) has the owner's
	 * rights on its nodes and inherits the rights granted to it. */
	if (who->target != DOMID_NONE) {
		theirs = perms_for_domid(p, who->target);
		if (theirs != DOMID_NONE)
			mine = (mine == DOMID_NONE ? 0 : mine) | theirs;
	}
	return mine == DOMID_NONE ? (p->p[0].perms & 3) : mine;
}

bool perms_revoke(struct perms *p, unsigned domid)
{
	bool changed = false;
	unsigned j = 1;

	if (domid == 0 || p->n == 0)
		return false;
	if (p->p[0].id == domid) {
		p->p[0].id = 0;
		changed = true;
	}
	for (unsigned i = 1; i < p->n; i++) {
		if (p->p[i].id == domid) {
			changed = true;
			continue;
		}
		p->p[j++] = p->p[i];
	}
	p->n = j;
	return changed;
}
