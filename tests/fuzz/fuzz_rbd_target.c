/* libFuzzer target: RBD targets (common/rbd_target.c, the parser both
 * pvd-blkback and pvctl run on a disk's params).  The input,
 * NUL-terminated, is parsed; a result that breaks the parser's promises
 * (include/pvd/rbd_target.h) traps. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pvd/rbd_target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(const struct pvd_rbd_target *t, const char *p)
{
	return p >= t->buf && p < t->buf + sizeof(t->buf) &&
	       strlen(p) < sizeof(t->buf) - (size_t)(p - t->buf);
}

static void check(const struct pvd_rbd_target *t)
{
	if (!t->pool || !t->image || !*t->pool || !*t->image ||
	    !inside(t, t->pool) || !inside(t, t->image) ||
	    (t->snap && (!*t->snap || !inside(t, t->snap))) ||
	    (t->nspace && (!*t->nspace || !inside(t, t->nspace))) ||
	    (t->id && !inside(t, t->id)) || (t->conf && !inside(t, t->conf)) ||
	    t->nopts > PVD_RBD_MAX_OPTS)
		__builtin_trap();
	for (unsigned i = 0; i < t->nopts; i++)
		if (!inside(t, t->opt[i].key) || !inside(t, t->opt[i].val) ||
		    !*t->opt[i].key || !*t->opt[i].val || !strcmp(t->opt[i].key, "key"))
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pvd_rbd_target *t = malloc(sizeof(*t));
	char *s = malloc(size + 5), err[160];
	int rc;

	if (!t || !s)
		abort();
	memcpy(s, "rbd:", 4);
	memcpy(s + 4, data, size);
	s[size + 4] = '\0';
	err[0] = '\0';
	rc = pvd_rbd_parse(s, t, err, sizeof(err));
	if (rc == 0)
		check(t);
	else if (rc != -EINVAL || !err[0])
		__builtin_trap();
	free(s);
	free(t);
	return 0;
}
