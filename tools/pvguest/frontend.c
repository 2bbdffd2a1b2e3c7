/* Device probing for the guest's frontends; see frontend.h.
 *
 * One relative watch on "device".  An event names a path; its first
 * three components say which device (device/<type>/<id>).  For a type we
 * have ops for, an unknown device or an event on the device node itself
 * (created or removed) makes us list device/<type> and reconcile: probe
 * what is new, remove what is gone.  Deeper changes of a known device go
 * to its changed callback.  Listings of one type never overlap: an event
 * during one asks for another after it (the toolstack writes a device's
 * nodes in a burst). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xs_wire.h>

#include "blkfront.h"
#include "frontend.h"
#include "netfront.h"
#include "pvd/log.h"
#include "xenbus_xs.h"

#define ROUTE "f:"
#define WATCH_PATH "device"

struct frontends;

struct ftype {
	struct frontends *fe;
	const struct frontend_ops *ops;
	bool scanning, again;
	struct frontend_dev *devs;
	unsigned ndevs;
};

struct frontends {
	struct frontend_env env;
	struct ftype *types;
	unsigned ntypes;
	bool watching;
};

/* The console frontend is not a device of device/: consfront.c. */
static const struct frontend_ops *const builtin[] = { &blkfront_ops, &netfront_ops };

const struct frontend_ops *const *frontend_builtin(unsigned *n)
{
	*n = sizeof(builtin) / sizeof(builtin[0]);
	return builtin;
}

static bool name_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char ch = s[n];

		if (n == max || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return n > 0;
}

static struct ftype *type_find(struct frontends *fe, const char *type, size_t len)
{
	for (unsigned i = 0; i < fe->ntypes; i++)
		if (strlen(fe->types[i].ops->type) == len &&
		    memcmp(fe->types[i].ops->type, type, len) == 0)
			return &fe->types[i];
	return NULL;
}

static struct frontend_dev *dev_find(struct ftype *t, const char *id, size_t len)
{
	for (struct frontend_dev *d = t->devs; d; d = d->next)
		if (strlen(d->id) == len && memcmp(d->id, id, len) == 0)
			return d;
	return NULL;
}

static void dev_remove(struct ftype *t, struct frontend_dev *d)
{
	for (struct frontend_dev **pp = &t->devs; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	t->ndevs--;
	if (d->probed) {
		log_info("%s: removed", d->nodename);
		if (t->ops->remove)
			t->ops->remove(&t->fe->env, d);
	}
	free(d);
}

static void dev_add(struct ftype *t, const char *id)
{
	struct frontend_dev *d;
	int rc;

	if (t->ndevs >= FRONTEND_DEVS_MAX) {
		log_warn("more than %u %s devices: device/%s/%s ignored",
			 FRONTEND_DEVS_MAX, t->ops->type, t->ops->type, id);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		log_err("out of memory: device/%s/%s ignored", t->ops->type, id);
		return;
	}
	d->ops = t->ops;
	strcpy(d->type, t->ops->type);
	strcpy(d->id, id);
	snprintf(d->nodename, sizeof(d->nodename), WATCH_PATH "/%s/%s",
		 d->type, d->id);
	d->next = t->devs;
	t->devs = d;
	t->ndevs++;
	rc = t->ops->probe(&t->fe->env, d);
	if (rc < 0) {
		log_warn("%s: probe failed: %s", d->nodename, strerror(-rc));
		return;
	}
	d->probed = true;
	log_info("%s: probed", d->nodename);
}

static void scan_type(struct ftype *t);

/* The listing of device/<type>: NUL-separated names. */
static void on_dir(void *arg, const struct xsd_sockmsg *hdr, const char *body)
{
	struct ftype *t = arg;
	const char *names[FRONTEND_DEVS_MAX];
	unsigned n = 0;

	t->scanning = false;
	if (hdr->type == XS_ERROR) {
		if (strcmp(body, "ENOENT") != 0) {
			log_warn("cannot list %s/%s: %s", WATCH_PATH, t->ops->type, body);
			goto again;
		}
	} else if (hdr->type != XS_DIRECTORY) {
		log_warn("listing %s/%s: unexpected reply type %u", WATCH_PATH,
			 t->ops->type, hdr->type);
		goto again;
	} else {
		for (const char *s = body; s < body + hdr->len; s += strlen(s) + 1) {
			if (!name_ok(s, FRONTEND_ID_MAX)) {
				if (*s)
					log_warn("%s/%s: bad device id ignored",
						 WATCH_PATH, t->ops->type);
				continue;
			}
			if (n < FRONTEND_DEVS_MAX)
				names[n++] = s;
		}
	}
	/* Gone first, then new. */
	for (struct frontend_dev *d = t->devs, *next; d; d = next) {
		bool found = false;

		next = d->next;
		for (unsigned i = 0; i < n && !found; i++)
			found = strcmp(names[i], d->id) == 0;
		if (!found)
			dev_remove(t, d);
	}
	for (unsigned i = 0; i < n; i++)
		if (!dev_find(t, names[i], strlen(names[i])))
			dev_add(t, names[i]);
again:
	if (t->again)
		scan_type(t);
}

static void scan_type(struct ftype *t)
{
	char path[sizeof(WATCH_PATH) + FRONTEND_TYPE_MAX + 1];
	int n, rc;

	if (t->scanning) {
		t->again = true;
		return;
	}
	t->again = false;
	n = snprintf(path, sizeof(path), WATCH_PATH "/%s", t->ops->type);
	rc = xenbus_request(t->fe->env.xb, XS_DIRECTORY, 0, path, (uint32_t)n + 1,
			    on_dir, t);
	if (rc < 0) {
		log_warn("cannot list %s: %s", path, strerror(-rc));
		return;
	}
	t->scanning = true;
}

static void on_device_event(void *arg, const char *path, const char *token)
{
	struct frontends *fe = arg;
	const char *type, *id, *end;
	struct frontend_dev *d;
	struct ftype *t;
	size_t tlen, ilen;

	if (strcmp(path, WATCH_PATH) == 0) {
		for (unsigned i = 0; i < fe->ntypes; i++)
			scan_type(&fe->types[i]);
		return;
	}
	if (strncmp(path, WATCH_PATH "/", sizeof(WATCH_PATH)) != 0)
		return;
	type = path + sizeof(WATCH_PATH);
	end = strchr(type, '/');
	tlen = end ? (size_t)(end - type) : strlen(type);
	t = type_find(fe, type, tlen);
	if (!t)
		return;
	if (!end) {
		scan_type(t);
		return;
	}
	id = end + 1;
	end = strchr(id, '/');
	ilen = end ? (size_t)(end - id) : strlen(id);
	d = dev_find(t, id, ilen);
	if (!d || !end) {
		/* New, or the device node itself came or went. */
		scan_type(t);
		return;
	}
	if (d->probed && t->ops->changed)
		t->ops->changed(&fe->env, d, path);
}

static void ignore_reply(void *arg, const struct xsd_sockmsg *hdr,
			 const char *body)
{
}

bool frontend_backend_path_ok(const char *p)
{
	size_t n = strlen(p);

	if (n < 2 || n > FRONTEND_PATH_LEN - 64 || p[0] != '/' || p[n - 1] == '/')
		return false;
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '/' || *p == '-' ||
		      *p == '_' || *p == '.' || *p == '@'))
			return false;
	return true;
}

int frontend_watch_state(struct xenbus *xb, const char *backend,
			 const char *route, uint32_t type)
{
	char body[FRONTEND_PATH_LEN + XENBUS_PREFIX_MAX + 16];
	int n = snprintf(body, sizeof(body), "%s/state%c%sstate", backend, 0,
			 route);

	if (n < 0 || (size_t)n + 1 > sizeof(body))
		return -ENAMETOOLONG;
	return xenbus_request(xb, type, 0, body, (uint32_t)n + 1, ignore_reply,
			      NULL);
}

int frontend_start(struct frontends **out, const struct frontend_env *env,
		   const struct frontend_ops *const *table, unsigned n)
{
	static const char watch[] = WATCH_PATH "\0" ROUTE WATCH_PATH;
	struct frontends *fe;
	int rc;

	*out = NULL;
	fe = calloc(1, sizeof(*fe));
	if (!fe)
		return -ENOMEM;
	fe->env = *env;
	if (n) {
		fe->types = calloc(n, sizeof(*fe->types));
		if (!fe->types) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		const struct frontend_ops *ops = table[i];

		if (!ops || !ops->type || !ops->probe ||
		    !name_ok(ops->type, FRONTEND_TYPE_MAX) ||
		    type_find(fe, ops->type, strlen(ops->type))) {
			log_err("frontend %u: bad or duplicate ops", i);
			rc = -EINVAL;
			goto fail;
		}
		fe->types[fe->ntypes++] = (struct ftype){ .fe = fe, .ops = ops };
	}
	if (fe->ntypes) {
		rc = xenbus_route_add(env->xb, ROUTE, on_device_event, fe);
		if (rc < 0)
			goto fail;
		/* Fires once at once: the initial scan. */
		rc = xenbus_request(env->xb, XS_WATCH, 0, watch, sizeof(watch),
				    ignore_reply, NULL);
		if (rc < 0) {
			xenbus_route_del(env->xb, ROUTE);
			goto fail;
		}
		fe->watching = true;
	}
	*out = fe;
	return 0;
fail:
	free(fe->types);
	free(fe);
	return rc;
}

void frontend_stop(struct frontends *fe)
{
	static const char watch[] = WATCH_PATH "\0" ROUTE WATCH_PATH;

	if (!fe)
		return;
	if (fe->watching) {
		xenbus_route_del(fe->env.xb, ROUTE);
		xenbus_request(fe->env.xb, XS_UNWATCH, 0, watch, sizeof(watch),
			       ignore_reply, NULL);
	}
	for (unsigned i = 0; i < fe->ntypes; i++) {
		struct ftype *t = &fe->types[i];

		xenbus_cancel(fe->env.xb, on_dir, t);
		while (t->devs)
			dev_remove(t, t->devs);
	}
	free(fe->types);
	free(fe);
}

struct frontend_dev *frontend_find(struct frontends *fe, const char *type,
				   const char *id)
{
	struct ftype *t = type_find(fe, type, strlen(type));

	return t ? dev_find(t, id, strlen(id)) : NULL;
}
