/* The storage backends by name (--engine). */
#include <string.h>

#include "backend.h"

const struct blk_backend_ops *blk_backend_find(const char *name)
{
	const struct blk_backend_ops *all[] = {
		&blk_backend_aio, &blk_backend_uring, &blk_backend_null,
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}
