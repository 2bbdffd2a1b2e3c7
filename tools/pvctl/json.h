/* pvctl: a small JSON reader and writer (RFC 8259) for pvd-blkback's
 * control socket answers.  The input comes from another process: it is
 * bounded (JSON_TEXT_MAX bytes, JSON_DEPTH_MAX levels of nesting), every
 * error is reported, never trusted.  Integers that fit are kept exactly
 * (counters are 64-bit); other numbers as doubles. */
#ifndef PVCTL_JSON_H
#define PVCTL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_TEXT_MAX   (64u << 20)   /* bytes of input */
#define JSON_DEPTH_MAX  32            /* nested arrays and objects */

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

struct json {
	enum json_type type;
	bool b;                 /* JSON_BOOL */
	bool is_u64;            /* JSON_NUM: a non-negative integer that fits u */
	uint64_t u;
	double d;               /* JSON_NUM: always set */
	char *s;                /* JSON_STR: decoded, no NUL inside */
	char *key;              /* a member of an object: its name */
	struct json *child;     /* JSON_ARR, JSON_OBJ: first element or member */
	struct json *next;      /* the next sibling */
	unsigned n;             /* JSON_ARR, JSON_OBJ: number of children */
};

/* Parses exactly one value (surrounding white space allowed) from len
 * bytes.  0 and *out, or -EINVAL (err says where and why), -E2BIG,
 * -ENOMEM. */
int json_parse(const char *text, size_t len, struct json **out, char *err,
	       size_t errlen);
void json_free(struct json *j);

/* The member key of an object (the first, if repeated), or NULL. */
const struct json *json_get(const struct json *obj, const char *key);
/* The member as a u64, a string or a bool: false when absent or of
 * another type. */
bool json_get_u64(const struct json *obj, const char *key, uint64_t *v);
const char *json_get_str(const struct json *obj, const char *key);
bool json_get_bool(const struct json *obj, const char *key, bool *v);

/* Compact JSON for j (a member's key is not written). */
void json_write(FILE *f, const struct json *j);
/* A JSON string literal for s. */
void json_write_str(FILE *f, const char *s);

#endif
