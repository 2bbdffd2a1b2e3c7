/* Strict decimal numbers, as read from the store: digits only, no sign,
 * no spaces, no overflow.  A guest writes these nodes, so strtoul's
 * leniency (leading spaces, "+", "-1" wrapping) is not wanted. */
#ifndef PVD_NUM_H
#define PVD_NUM_H

#include <errno.h>
#include <stdint.h>

/* 0 and *out, or -EINVAL for anything but a number in 0..max. */
static inline int pvd_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

#endif
