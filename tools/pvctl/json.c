/* pvctl: a daemon's answer read with libjansson (see json.h).  The
 * writing side is jansson's too (json_dumps, JSON_COMPACT), as every
 * daemon's: one escaping rule from end to end. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int pvctl_json_parse(const char *text, size_t len, json_t **out, char *err,
		     size_t errlen)
{
	json_error_t je;

	*out = NULL;
	if (len > JSON_TEXT_MAX) {
		if (err && errlen)
			snprintf(err, errlen, "longer than %u bytes", JSON_TEXT_MAX);
		return -E2BIG;
	}
	*out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!*out) {
		if (err && errlen)
			snprintf(err, errlen, "offset %d: %s", je.position, je.text);
		return -EINVAL;
	}
	return 0;
}

bool pvctl_json_u64(const json_t *obj, const char *key, uint64_t *v)
{
	const json_t *j = json_object_get(obj, key);

	if (!json_is_integer(j) || json_integer_value(j) < 0)
		return false;
	*v = (uint64_t)json_integer_value(j);
	return true;
}

const char *pvctl_json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

bool pvctl_json_bool(const json_t *obj, const char *key, bool *v)
{
	const json_t *j = json_object_get(obj, key);

	if (!json_is_boolean(j))
		return false;
	*v = json_is_true(j);
	return true;
}

uint64_t pvctl_json_u64_or0(const json_t *obj, const char *key)
{
	uint64_t v = 0;

	pvctl_json_u64(obj, key, &v);
	return v;
}

unsigned pvctl_json_u32_or0(const json_t *obj, const char *key)
{
	uint64_t v = pvctl_json_u64_or0(obj, key);

	return v > UINT32_MAX ? UINT32_MAX : (unsigned)v;
}

const char *pvctl_json_str_or_empty(const json_t *obj, const char *key)
{
	const char *s = pvctl_json_str(obj, key);

	return s ? s : "";
}

const json_t *pvctl_json_stats_array(const json_t *doc, const char *daemon,
				     const char *key, size_t max, char *err,
				     size_t errlen)
{
	const json_t *a = json_object_get(doc, key);
	const char *e = pvctl_json_str(doc, "error");

	if (!err)
		errlen = 0;     /* snprintf then writes nothing */
	if (!json_is_object(doc))
		snprintf(err, errlen, "not a JSON object");
	else if (e)
		snprintf(err, errlen, "%s answered: %s", daemon, e);
	else if (!json_is_array(a))
		snprintf(err, errlen, "no %s array", key);
	else if (json_array_size(a) > max)
		snprintf(err, errlen, "too many %s", key);
	else
		return a;
	return NULL;
}

json_t *pvctl_json_counter(uint64_t v)
{
	return json_integer(v > (uint64_t)LLONG_MAX ? LLONG_MAX : (json_int_t)v);
}

/* Reals with 15 significant digits (0.1, not 0.10000000000000001) when the
 * document reads back as itself so, else with 17, which every double needs
 * (15 printed 1.0022222222222222 as another number: fuzz_pvctl_json's
 * round trip). */
static char *dump_exact(const json_t *j)
{
	const size_t fl = JSON_COMPACT | JSON_ENCODE_ANY;
	char *s = json_dumps(j, fl | JSON_REAL_PRECISION(15));
	json_t *back;
	bool same;

	if (!s)
		return NULL;
	back = json_loads(s, JSON_DECODE_ANY, NULL);
	same = back && json_equal(j, back);
	json_decref(back);
	if (same)
		return s;
	free(s);
	return json_dumps(j, fl | JSON_REAL_PRECISION(17));
}

int pvctl_json_print(FILE *f, const json_t *j)
{
	char *s = dump_exact(j);
	int rc = 0;

	if (!s)
		return -ENOMEM;
	if (fputs(s, f) == EOF || fputc('\n', f) == EOF)
		rc = -EIO;
	free(s);
	return rc;
}
