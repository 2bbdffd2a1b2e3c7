/* pvctl: JSON reader and writer (see json.h).  A recursive descent
 * parser whose recursion is bounded by JSON_DEPTH_MAX and whose work is
 * linear in the input: every node consumes at least one byte. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pvd/num.h"
#include "json.h"

struct jp {
	const char *s, *end, *start;
	char *err;
	size_t errlen;
	int rc;
};

static void jerr(struct jp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void jerr(struct jp *p, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	if (p->rc < 0)
		return;         /* keep the first error */
	p->rc = -EINVAL;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "offset %zu: %s", (size_t)(p->s - p->start), what);
}

static void ws(struct jp *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' ||
				 *p->s == '\r'))
		p->s++;
}

static struct json *node(struct jp *p, enum json_type t)
{
	struct json *j = calloc(1, sizeof(*j));

	if (!j) {
		if (p->rc == 0) {
			p->rc = -ENOMEM;
			if (p->err && p->errlen)
				snprintf(p->err, p->errlen, "out of memory");
		}
		return NULL;
	}
	j->type = t;
	return j;
}

static int hex4(const char *s, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

static size_t utf8(unsigned cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The bytes between the quotes of the string literal at p->s (escapes
 * skipped over, not checked): the decoded text is at most as long.  -1
 * when it does not end. */
static ptrdiff_t string_span(struct jp *p)
{
	const char *q = p->s + 1;

	for (const char *c = q; c < p->end; c++) {
		if (*c == '"')
			return c - q;
		if (*c == '\\' && ++c >= p->end)
			break;
	}
	jerr(p, "unterminated string");
	return -1;
}

/* Fails the string at q: p->s points there for the error's offset. */
static int string_err(struct jp *p, const char *q, const char *why)
{
	p->s = q;
	jerr(p, "%s", why);
	return -EINVAL;
}

/* A \u escape at *qp (the 'u'): one code point, or a surrogate pair, as
 * UTF-8 at *op (<= 4 bytes out for >= 6 in). */
static int unicode_escape(struct jp *p, const char **qp, char **op)
{
	const char *q = *qp;
	unsigned cp, lo;

	if (p->end - q < 5 || hex4(q + 1, &cp) < 0)
		return string_err(p, q, "bad \\u escape");
	q += 5;
	if (cp >= 0xd800 && cp < 0xdc00) {
		if (p->end - q < 6 || q[0] != '\\' || q[1] != 'u' ||
		    hex4(q + 2, &lo) < 0 || lo < 0xdc00 || lo >= 0xe000)
			return string_err(p, q, "unpaired surrogate");
		q += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	} else if (cp >= 0xdc00 && cp < 0xe000) {
		return string_err(p, q, "unpaired surrogate");
	}
	if (cp == 0)
		return string_err(p, q, "NUL in a string");
	*op += utf8(cp, *op);
	*qp = q;
	return 0;
}

/* The escape at *qp (after the backslash), decoded at *op. */
static int escape(struct jp *p, const char **qp, char **op)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *q = *qp, *e = *q ? strchr(from, *q) : NULL;

	if (*q == 'u')
		return unicode_escape(p, qp, op);
	if (!e)
		return string_err(p, q, "bad escape");
	*(*op)++ = to[e - from];
	*qp = q + 1;
	return 0;
}

/* A string literal at p->s (the opening quote), decoded and malloc'd. */
static char *string(struct jp *p)
{
	ptrdiff_t span = string_span(p);
	const char *q = p->s + 1;
	char *out, *o;

	if (span < 0)
		return NULL;
	out = malloc((size_t)span + 1);
	if (!out) {
		node(p, JSON_NULL);     /* reports ENOMEM */
		return NULL;
	}
	o = out;
	while (*q != '"') {
		unsigned char c = (unsigned char)*q;

		if (c < 0x20) {
			string_err(p, q, "control character in a string");
			goto fail;
		}
		if (c != '\\') {
			*o++ = *q++;
			continue;
		}
		q++;
		if (escape(p, &q, &o) < 0)
			goto fail;
	}
	*o = '\0';
	p->s = q + 1;
	return out;
fail:
	free(out);
	return NULL;
}

static struct json *number(struct jp *p)
{
	const char *q = p->s, *digits;
	char buf[64];
	struct json *j;
	bool neg = false, integer = true;
	size_t n;

	if (*q == '-') {
		neg = true;
		q++;
	}
	digits = q;
	if (q < p->end && *q == '0') {
		q++;
	} else {
		while (q < p->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q == digits) {
		jerr(p, "bad number");
		return NULL;
	}
	if (q < p->end && *q == '.') {
		integer = false;
		if (++q >= p->end || *q < '0' || *q > '9') {
			jerr(p, "bad number");
			return NULL;
		}
		while (q < p->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < p->end && (*q == 'e' || *q == 'E')) {
		integer = false;
		q++;
		if (q < p->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= p->end || *q < '0' || *q > '9') {
			jerr(p, "bad number");
			return NULL;
		}
		while (q < p->end && *q >= '0' && *q <= '9')
			q++;
	}
	n = (size_t)(q - p->s);
	if (n >= sizeof(buf)) {
		jerr(p, "number too long");
		return NULL;
	}
	j = node(p, JSON_NUM);
	if (!j)
		return NULL;
	memcpy(buf, p->s, n);
	buf[n] = '\0';
	j->d = strtod(buf, NULL);
	/* Exactly, when it fits: counters are 64-bit, a double is not. */
	if (integer && !neg)
		j->is_u64 = pvd_parse_uint_n(digits, (size_t)(q - digits), 10, UINT64_MAX,
					     &j->u) == 0;
	p->s = q;
	return j;
}

static bool word(struct jp *p, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(p->end - p->s) < n || memcmp(p->s, w, n) != 0)
		return false;
	p->s += n;
	return true;
}

static struct json *value(struct jp *p, unsigned depth);

/* Elements of an array or members of an object, after the bracket. */
static struct json *container(struct jp *p, unsigned depth, bool obj)
{
	struct json *j = node(p, obj ? JSON_OBJ : JSON_ARR), **tail;
	char close = obj ? '}' : ']';

	if (!j)
		return NULL;
	if (depth >= JSON_DEPTH_MAX) {
		jerr(p, "nested more than %u levels", JSON_DEPTH_MAX);
		goto fail;
	}
	tail = &j->child;
	p->s++;
	ws(p);
	if (p->s < p->end && *p->s == close) {
		p->s++;
		return j;
	}
	for (;;) {
		char *key = NULL;
		struct json *c;

		ws(p);
		if (obj) {
			if (p->s >= p->end || *p->s != '"') {
				jerr(p, "expected a member name");
				goto fail;
			}
			key = string(p);
			if (!key)
				goto fail;
			ws(p);
			if (p->s >= p->end || *p->s != ':') {
				free(key);
				jerr(p, "expected ':'");
				goto fail;
			}
			p->s++;
		}
		c = value(p, depth + 1);
		if (!c) {
			free(key);
			goto fail;
		}
		c->key = key;
		*tail = c;
		tail = &c->next;
		j->n++;
		ws(p);
		if (p->s < p->end && *p->s == ',') {
			p->s++;
			continue;
		}
		if (p->s < p->end && *p->s == close) {
			p->s++;
			return j;
		}
		jerr(p, "expected ',' or '%c'", close);
		goto fail;
	}
fail:
	json_free(j);
	return NULL;
}

static struct json *value(struct jp *p, unsigned depth)
{
	struct json *j;

	ws(p);
	if (p->s >= p->end) {
		jerr(p, "unexpected end of input");
		return NULL;
	}
	switch (*p->s) {
	case '{':
		return container(p, depth, true);
	case '[':
		return container(p, depth, false);
	case '"': {
		char *s = string(p);

		if (!s)
			return NULL;
		j = node(p, JSON_STR);
		if (!j)
			free(s);
		else
			j->s = s;
		return j;
	}
	case 't':
	case 'f': {
		bool b = *p->s == 't';

		if (word(p, b ? "true" : "false")) {
			j = node(p, JSON_BOOL);
			if (j)
				j->b = b;
			return j;
		}
		break;
	}
	case 'n':
		if (word(p, "null"))
			return node(p, JSON_NULL);
		break;
	default:
		if (*p->s == '-' || (*p->s >= '0' && *p->s <= '9'))
			return number(p);
	}
	jerr(p, "unexpected character '%c'",
	     *p->s >= 0x20 && *p->s < 0x7f ? *p->s : '?');
	return NULL;
}

int json_parse(const char *text, size_t len, struct json **out, char *err,
	       size_t errlen)
{
	struct jp p = { .s = text, .start = text, .err = err, .errlen = errlen };
	struct json *j;

	*out = NULL;
	if (len > JSON_TEXT_MAX) {
		if (err && errlen)
			snprintf(err, errlen, "longer than %u bytes", JSON_TEXT_MAX);
		return -E2BIG;
	}
	p.end = text + len;
	j = value(&p, 0);
	if (!j)
		return p.rc < 0 ? p.rc : -EINVAL;
	ws(&p);
	if (p.s != p.end) {
		jerr(&p, "trailing data");
		json_free(j);
		return p.rc;
	}
	*out = j;
	return 0;
}

void json_free(struct json *j)
{
	/* Iterative along siblings, recursive only into children (bounded
	 * by JSON_DEPTH_MAX). */
	while (j) {
		struct json *next = j->next;

		json_free(j->child);
		free(j->s);
		free(j->key);
		free(j);
		j = next;
	}
}

const struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJ)
		return NULL;
	for (const struct json *c = obj->child; c; c = c->next)
		if (c->key && strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

bool json_get_u64(const struct json *obj, const char *key, uint64_t *v)
{
	const struct json *j = json_get(obj, key);

	if (!j || j->type != JSON_NUM || !j->is_u64)
		return false;
	*v = j->u;
	return true;
}

const char *json_get_str(const struct json *obj, const char *key)
{
	const struct json *j = json_get(obj, key);

	return j && j->type == JSON_STR ? j->s : NULL;
}

bool json_get_bool(const struct json *obj, const char *key, bool *v)
{
	const struct json *j = json_get(obj, key);

	if (!j || j->type != JSON_BOOL)
		return false;
	*v = j->b;
	return true;
}

void json_write_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void json_write(FILE *f, const struct json *j)
{
	switch (j->type) {
	case JSON_NULL:
		fputs("null", f);
		break;
	case JSON_BOOL:
		fputs(j->b ? "true" : "false", f);
		break;
	case JSON_NUM:
		if (j->is_u64)
			fprintf(f, "%llu", (unsigned long long)j->u);
		else if (isfinite(j->d))
			fprintf(f, "%.17g", j->d);
		else
			fputs("null", f);
		break;
	case JSON_STR:
		json_write_str(f, j->s);
		break;
	case JSON_ARR:
	case JSON_OBJ:
		fputc(j->type == JSON_OBJ ? '{' : '[', f);
		for (const struct json *c = j->child; c; c = c->next) {
			if (c != j->child)
				fputc(',', f);
			if (j->type == JSON_OBJ) {
				json_write_str(f, c->key ? c->key : "");
				fputc(':', f);
			}
			json_write(f, c);
		}
		fputc(j->type == JSON_OBJ ? '}' : ']', f);
		break;
	}
}
