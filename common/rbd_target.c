/* RBD targets in QEMU's syntax (see include/pvd/rbd_target.h).  As
 * QEMU's qemu_rbd_next_tok and qemu_rbd_unescape: the string is split at
 * unescaped separators first, and each part unescaped after. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pvd/rbd_target.h"

static int bad(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (len)
		vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

bool pvd_rbd_is_target(const char *s)
{
	return strncmp(s, PVD_RBD_PREFIX, strlen(PVD_RBD_PREFIX)) == 0;
}

/* The first unescaped delim in p (or its end); NULL: a lone `\` ends p. */
static char *tok_end(char *p, char delim)
{
	for (; *p && *p != delim; p++)
		if (*p == '\\' && !*++p)
			return NULL;
	return p;
}

/* Cuts p at its first unescaped delim: what follows it, or NULL. */
static char *cut(char *p, char delim)
{
	char *e = tok_end(p, delim);

	if (!e || !*e)
		return NULL;
	*e = '\0';
	return e + 1;
}

static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (*s == '\\')
			s++;
		*w++ = *s;
	}
	*w = '\0';
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* POOL[/NAMESPACE]/IMAGE[@SNAP], cut in place. */
static int parse_image(char *s, struct pvd_rbd_target *t, char *err, size_t len)
{
	char *img, *more;

	t->snap = cut(s, '@');
	img = cut(s, '/');
	if (!img)
		return bad(err, len, "want rbd:POOL/IMAGE (no '/' after the pool)");
	more = cut(img, '/');
	if (more) {
		t->nspace = img;
		img = more;
		if (tok_end(img, '/') && *tok_end(img, '/'))
			return bad(err, len, "too many '/' (want POOL[/NAMESPACE]/IMAGE)");
		unescape((char *)t->nspace);
	}
	unescape(s);
	unescape(img);
	t->pool = s;
	t->image = img;
	if (t->snap)
		unescape((char *)t->snap);
	if (!*t->pool || !*t->image || (t->nspace && !*t->nspace) ||
	    (t->snap && !*t->snap))
		return bad(err, len, "empty pool, namespace, image or snapshot name");
	return 0;
}

/* KEY=VALUE, cut in place. */
static int parse_opt(char *s, struct pvd_rbd_target *t, char *err, size_t len)
{
	char *v = cut(s, '=');

	unescape(s);
	if (!v || !*s || !*v)
		return bad(err, len, "option '%.40s' is not KEY=VALUE", s);
	unescape(v);
	if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_ ") != strlen(s))
		return bad(err, len, "option name '%.40s' is not a Ceph option name", s);
	if (strcmp(s, "key") == 0)
		return bad(err, len, "option key= puts a secret in the store: name a keyring file (conf= or keyring=) instead");
	if (strcmp(s, "id") == 0 || strcmp(s, "conf") == 0) {
		const char **slot = s[0] == 'i' ? &t->id : &t->conf;

		if (*slot)
			return bad(err, len, "option %s= given twice", s);
		*slot = v;
		return 0;
	}
	if (t->nopts == PVD_RBD_MAX_OPTS)
		return bad(err, len, "more than %u options", PVD_RBD_MAX_OPTS);
	t->opt[t->nopts].key = s;
	t->opt[t->nopts++].val = v;
	return 0;
}

int pvd_rbd_parse(const char *s, struct pvd_rbd_target *t, char *err,
		  size_t errlen)
{
	size_t plen = strlen(PVD_RBD_PREFIX);
	char *p, *next;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!pvd_rbd_is_target(s))
		return bad(err, errlen, "not an rbd: target");
	if (strlen(s + plen) > PVD_RBD_TARGET_MAX)
		return bad(err, errlen, "longer than %u bytes", PVD_RBD_TARGET_MAX);
	if (!printable(s))
		return bad(err, errlen, "contains control characters");
	memcpy(t->buf, s + plen, strlen(s + plen) + 1);
	if (!tok_end(t->buf, '\0'))
		return bad(err, errlen, "ends with a lone '\\'");
	p = t->buf;
	next = cut(p, ':');
	rc = parse_image(p, t, err, errlen);
	while (rc == 0 && next) {
		p = next;
		next = cut(p, ':');
		rc = parse_opt(p, t, err, errlen);
	}
	return rc;
}
