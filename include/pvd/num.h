/* Strict unsigned numbers: the one parser for every number pvd reads, from
 * the store (a guest writes those nodes), the wire, the command line and
 * config files.  strtoul's leniency is not wanted: it skips leading spaces,
 * takes "+" and "-" ("-1" wraps to ULONG_MAX) and stops at the first
 * stray byte.  Here the whole text must be the number: digits of its base
 * only, no sign, no blanks, no trailing bytes, no overflow. */
#ifndef PVD_NUM_H
#define PVD_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Bases for pvd_parse_uint_n: 10 or 16 (digits only, no "0x"), or
 * PVD_BASE_XL: as xl and strtoul(s, NULL, 0) read one ("0x.." hex,
 * "0.." octal, else decimal). */
#define PVD_BASE_XL 0

/* The len bytes at s (no NUL needed) as a number of the given base in
 * 0..max.  0 and *out; -EINVAL for an empty or malformed text, -ERANGE
 * above max (*out untouched on error). */
int pvd_parse_uint_n(const char *s, size_t len, unsigned base, uint64_t max,
		     uint64_t *out);

/* A NUL-terminated decimal number in 0..max: 0, -EINVAL or -ERANGE. */
int pvd_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* A decimal number in lo..hi: 0, -EINVAL or -ERANGE (below lo too). */
int pvd_parse_range(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* A size: decimal digits and an optional K, M, G or T suffix (either case,
 * powers of 1024), in lo..hi bytes.  0, -EINVAL or -ERANGE. */
int pvd_parse_size(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* Convenience for option parsing at start-up: the value of
 * pvd_parse_range, or fatal("--OPT: want a number in [lo, hi], got S"). */
uint64_t pvd_opt_range(const char *opt, const char *s, uint64_t lo,
		       uint64_t hi);
/* The same for pvd_parse_size. */
uint64_t pvd_opt_size(const char *opt, const char *s, uint64_t lo,
		      uint64_t hi);

#endif
