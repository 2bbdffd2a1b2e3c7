/* Strict number parsing (include/pvd/num.h). */
#include <errno.h>
#include <string.h>

#include "pvd/log.h"
#include "pvd/num.h"

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

int pvd_parse_uint_n(const char *s, size_t len, unsigned base, uint64_t max,
		     uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (base == PVD_BASE_XL) {
		base = 10;
		if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
			base = 16;
			i = 2;
		} else if (len > 1 && s[0] == '0') {
			base = 8;
			i = 1;
		}
	}
	if (len == 0 || (base != 8 && base != 10 && base != 16))
		return -EINVAL;
	for (; i < len; i++) {
		unsigned d = (unsigned)digit_value(s[i]);

		if (d >= base)
			return -EINVAL;
		if (d > max || v > (max - d) / base) {
			/* Over max; still reject a malformed tail as such. */
			for (; i < len; i++)
				if ((unsigned)digit_value(s[i]) >= base)
					return -EINVAL;
			return -ERANGE;
		}
		v = v * base + d;
	}
	*out = v;
	return 0;
}

int pvd_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	return pvd_parse_uint_n(s, strlen(s), 10, max, out);
}

int pvd_parse_range(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t v;
	int rc = pvd_parse_uint(s, hi, &v);

	if (rc < 0)
		return rc;
	if (v < lo)
		return -ERANGE;
	*out = v;
	return 0;
}

int pvd_parse_size(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	size_t len = strlen(s);
	unsigned shift = 0;
	uint64_t v;
	int rc;

	if (len > 1) {
		switch (s[len - 1]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		case 't': case 'T': shift = 40; break;
		default: break;
		}
	}
	rc = pvd_parse_uint_n(s, len - (shift ? 1 : 0), 10, hi >> shift, &v);
	if (rc < 0)
		return rc;
	if ((v << shift) < lo)
		return -ERANGE;
	*out = v << shift;
	return 0;
}

uint64_t pvd_opt_range(const char *opt, const char *s, uint64_t lo,
		       uint64_t hi)
{
	uint64_t v;

	if (pvd_parse_range(s, lo, hi, &v) < 0)
		fatal("--%s: want a number in [%llu, %llu], got %s", opt,
		      (unsigned long long)lo, (unsigned long long)hi, s);
	return v;
}

uint64_t pvd_opt_size(const char *opt, const char *s, uint64_t lo,
		      uint64_t hi)
{
	uint64_t v;

	if (pvd_parse_size(s, lo, hi, &v) < 0)
		fatal("--%s: want a size from %llu to %llu (K, M, G, T suffixes), got %s",
		      opt, (unsigned long long)lo, (unsigned long long)hi, s);
	return v;
}
