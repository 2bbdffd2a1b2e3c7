/* pvctl: a daemon's control-socket answer read with libjansson.  The
 * text comes from another process: it is bounded (JSON_TEXT_MAX bytes;
 * jansson bounds nesting at 2048 levels), duplicate member names are
 * refused (a document that says two things is not chosen between), and
 * values are taken only when they have the type asked for.  Counters are
 * JSON integers 0..2^63-1 (jansson's json_int_t): a larger integer fails
 * the whole answer ("too big integer"); a negative one or a real is not a
 * counter. */
#ifndef PVCTL_JSON_H
#define PVCTL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define JSON_TEXT_MAX   (64u << 20)   /* bytes of input */

/* Exactly one value (surrounding white space allowed) from len bytes.
 * 0 and *out (the caller's reference), or -EINVAL (err says where and
 * why), -E2BIG. */
int pvctl_json_parse(const char *text, size_t len, json_t **out, char *err,
		     size_t errlen);

/* The member key of obj as a counter, a string or a bool: false (NULL)
 * when obj is not an object, the member is absent or of another type. */
bool pvctl_json_u64(const json_t *obj, const char *key, uint64_t *v);
const char *pvctl_json_str(const json_t *obj, const char *key);
bool pvctl_json_bool(const json_t *obj, const char *key, bool *v);
/* The same with a default: 0 (u32: saturated at UINT32_MAX) and "" when
 * the member is absent or of another type, for optional fields. */
uint64_t pvctl_json_u64_or0(const json_t *obj, const char *key);
unsigned pvctl_json_u32_or0(const json_t *obj, const char *key);
const char *pvctl_json_str_or_empty(const json_t *obj, const char *key);
/* The array member key of a daemon's stats answer doc, at most max long,
 * or NULL with err set: "not a JSON object", "DAEMON answered: ERROR"
 * (the daemon refused), "no KEY array", "too many KEY". */
const json_t *pvctl_json_stats_array(const json_t *doc, const char *daemon,
				     const char *key, size_t max, char *err,
				     size_t errlen);
/* A counter at least 0, as json_integer takes it (saturated at 2^63-1). */
json_t *pvctl_json_counter(uint64_t v);

/* j as one line of compact JSON and a new line; 0 or -ENOMEM/-EIO. */
int pvctl_json_print(FILE *f, const json_t *j);

#endif
