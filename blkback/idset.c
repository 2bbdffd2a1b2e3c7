#include <errno.h>
#include <stdlib.h>

#include "idset.h"

static unsigned slot_of(const struct idset *s, uint64_t id)
{
	return (unsigned)((id * 0x9E3779B97F4A7C15ull) >> 32) & s->mask;
}

int idset_init(struct idset *s, unsigned max)
{
	unsigned size = 16;

	while (size < 2 * max)
		size *= 2;
	s->ids = calloc(size, sizeof(*s->ids));
	s->used = calloc(size, 1);
	s->mask = size - 1;
	s->n = 0;
	if (!s->ids || !s->used) {
		idset_free(s);
		return -ENOMEM;
	}
	return 0;
}

void idset_free(struct idset *s)
{
	free(s->ids);
	free(s->used);
	s->ids = NULL;
	s->used = NULL;
}

bool idset_add(struct idset *s, uint64_t id)
{
	unsigned i = slot_of(s, id);

	if (s->n >= s->mask)
		return false;
	for (; s->used[i]; i = (i + 1) & s->mask)
		if (s->ids[i] == id)
			return false;
	s->used[i] = 1;
	s->ids[i] = id;
	s->n++;
	return true;
}

void idset_del(struct idset *s, uint64_t id)
{
	unsigned i = slot_of(s, id), j, k;

	for (; s->used[i]; i = (i + 1) & s->mask)
		if (s->ids[i] == id)
			break;
	if (!s->used[i])
		return;
	/* Backward shift: move later entries of the cluster into the hole
	 * when their home slot does not lie cyclically in (i, j]. */
	for (j = i;;) {
		j = (j + 1) & s->mask;
		if (!s->used[j])
			break;
		k = slot_of(s, s->ids[j]);
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		s->ids[i] = s->ids[j];
		i = j;
	}
	s->used[i] = 0;
	s->n--;
}
