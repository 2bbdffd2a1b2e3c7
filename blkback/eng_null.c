/* The null engine: no storage.  Every request succeeds at once without
 * touching data, so that the transport (ring, grants, responses) can be
 * measured alone.  A disk's params "null:SIZE" (bytes, or with a K, M, G
 * or T suffix; 1 TiB when absent) selects it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pvd/num.h"
#include "eng_util.h"

struct null_eng {
	struct blk_engine base;
	struct blk_ioq done;
};

struct null_backing {
	struct blk_backing base;
	uint64_t size;
};

static int null_engine_create(unsigned depth, struct blk_engine **out)
{
	struct null_eng *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->base.ops = &blk_backend_null;
	*out = &n->base;
	return 0;
}

static void null_engine_destroy(struct blk_engine *e)
{
	if (e)
		free(container_of(e, struct null_eng, base));
}

static int null_engine_fd(struct blk_engine *e)
{
	return -1;
}

static void null_ack(struct blk_engine *e)
{
}

static void null_commit(struct blk_engine *e)
{
}

static unsigned null_reap(struct blk_engine *e, unsigned max)
{
	return ioq_complete(&container_of(e, struct null_eng, base)->done, max);
}

static bool null_ready(struct blk_engine *e)
{
	return container_of(e, struct null_eng, base)->done.n != 0;
}

/* "SIZE" of "null:SIZE": bytes with an optional K, M, G or T suffix, up
 * to 2^63 - 1, rounded down to whole sectors; empty: 1 TiB. */
static int parse_null_size(const char *s, uint64_t *out)
{
	uint64_t v;

	if (!*s) {
		*out = 1ull << 40;
		return 0;
	}
	if (pvd_parse_size(s, 0, ~0ull >> 1, &v) < 0)
		return -EINVAL;
	*out = v & ~511ull;
	return 0;
}

static int null_open(struct blk_engine *e, const char *path, bool readonly,
		     struct blk_backing **out, struct blk_backing_info *info)
{
	struct null_backing *s;
	uint64_t size;

	if (strncmp(path, "null:", 5) == 0)
		path += 5;
	if (parse_null_size(path, &size) < 0)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.ops = &blk_backend_null;
	s->base.engine = e;
	s->size = size;
	memset(info, 0, sizeof(*info));
	info->size = size;
	info->lbs = 512;
	info->pbs = 4096;
	info->readonly = readonly;
	info->discard = true;
	*out = &s->base;
	return 0;
}

static void null_close(struct blk_backing *s)
{
	if (s)
		free(container_of(s, struct null_backing, base));
}

static int null_submit(struct blk_backing *s, struct blk_io *io)
{
	io->res = 0;
	ioq_push(&container_of(s->engine, struct null_eng, base)->done, io);
	return 0;
}

static int null_size(struct blk_backing *s, uint64_t *bytes)
{
	*bytes = container_of(s, struct null_backing, base)->size;
	return 0;
}

const struct blk_backend_ops blk_backend_null = {
	.name = "null",
	.engine_create = null_engine_create,
	.engine_destroy = null_engine_destroy,
	.engine_fd = null_engine_fd,
	.ack = null_ack,
	.commit = null_commit,
	.reap = null_reap,
	.ready = null_ready,
	.open = null_open,
	.close = null_close,
	.submit_rw = null_submit,
	.flush = null_submit,
	.discard = null_submit,
	.size = null_size,
};
