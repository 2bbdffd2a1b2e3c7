/* The guest's device listing; see devlist.h.
 *
 * One watch on "device" fires for anything below it.  An event names what
 * may have changed: "device" (list the types), "device/<type>" or
 * "device/<type>/<id>" (list that type's ids); events below a known device
 * ("device/<type>/<id>/state") cost nothing.  One listing per type (and
 * one of the types) is in flight at a time; an event meanwhile asks for
 * one more afterwards.  A listing is compared with what is known:
 * what is new is added, what is gone removed. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xs_wire.h>

#include "devlist.h"
#include "pvd/log.h"
#include "xenbus_xs.h"

#define DL_ROUTE "c:"
#define DL_WATCH_PATH "device"

struct dtype {
	struct devlist *dl;
	char name[DEVLIST_NAME_MAX + 1];
	bool listing, again;
};

struct dev {
	char type[DEVLIST_NAME_MAX + 1];
	char id[DEVLIST_NAME_MAX + 1];
};

struct devlist {
	struct xenbus *xb;
	devlist_fn *fn;
	void *arg;
	bool listing_types, types_again;
	struct dtype types[DEVLIST_TYPES_MAX];
	unsigned ntypes;
	struct dev devs[DEVLIST_MAX];
	unsigned ndevs;
	bool full_said;
};

static bool dev_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= DEVLIST_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static bool numeric(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

static bool dev_is(const struct dev *d, const char *type, const char *id,
		   size_t idlen)
{
	return strcmp(d->type, type) == 0 && strlen(d->id) == idlen &&
	       memcmp(d->id, id, idlen) == 0;
}

static void list_type(struct devlist *dl, struct dtype *t);

/* Known devices of type t missing from names[]: gone. */
static void drop_gone(struct devlist *dl, const struct dtype *t,
		      const char *const *names, unsigned n)
{
	for (unsigned i = 0; i < dl->ndevs;) {
		struct dev *d = &dl->devs[i];
		bool found = strcmp(d->type, t->name) != 0;

		for (unsigned j = 0; j < n && !found; j++)
			found = strcmp(names[j], d->id) == 0;
		if (found) {
			i++;
			continue;
		}
		dl->fn(dl->arg, DEVLIST_REMOVED, d->type, d->id);
		*d = dl->devs[--dl->ndevs];
	}
}

/* names[] of type t not known yet: new. */
static void add_new(struct devlist *dl, const struct dtype *t,
		    const char *const *names, unsigned n)
{
	for (unsigned j = 0; j < n; j++) {
		bool known = false;

		for (unsigned i = 0; i < dl->ndevs && !known; i++)
			known = dev_is(&dl->devs[i], t->name, names[j], strlen(names[j]));
		if (known)
			continue;
		if (dl->ndevs == DEVLIST_MAX) {
			if (!dl->full_said)
				dl->fn(dl->arg, DEVLIST_FULL, NULL, NULL);
			dl->full_said = true;
			return;
		}
		snprintf(dl->devs[dl->ndevs].type, sizeof(dl->devs[0].type), "%s", t->name);
		snprintf(dl->devs[dl->ndevs].id, sizeof(dl->devs[0].id), "%s", names[j]);
		dl->ndevs++;
		dl->fn(dl->arg, DEVLIST_ADDED, t->name, names[j]);
	}
}

static void on_type_dir(void *arg, const struct xsd_sockmsg *hdr, const char *body)
{
	struct dtype *t = arg;
	struct devlist *dl = t->dl;
	const char *names[DEVLIST_MAX];
	unsigned n = 0;

	t->listing = false;
	if (hdr->type == XS_DIRECTORY) {
		for (const char *s = body; s < body + hdr->len; s += strlen(s) + 1)
			if (numeric(s) && dev_name_ok(s) && n < DEVLIST_MAX)
				names[n++] = s;
	} else if (hdr->type != XS_ERROR || strcmp(body, "ENOENT") != 0) {
		log_debug("console: cannot list device/%s", t->name);
		goto again;
	}
	drop_gone(dl, t, names, n);
	add_new(dl, t, names, n);
again:
	if (t->again)
		list_type(dl, t);
}

static void list_type(struct devlist *dl, struct dtype *t)
{
	char path[sizeof(DL_WATCH_PATH) + DEVLIST_NAME_MAX + 1];
	int n;

	if (t->listing) {
		t->again = true;
		return;
	}
	t->again = false;
	n = snprintf(path, sizeof(path), DL_WATCH_PATH "/%s", t->name);
	if (xenbus_request(dl->xb, XS_DIRECTORY, 0, path, (uint32_t)n + 1,
			   on_type_dir, t) == 0)
		t->listing = true;
}

static struct dtype *type_get(struct devlist *dl, const char *name, size_t len)
{
	struct dtype *t;

	for (unsigned i = 0; i < dl->ntypes; i++)
		if (strlen(dl->types[i].name) == len &&
		    memcmp(dl->types[i].name, name, len) == 0)
			return &dl->types[i];
	if (dl->ntypes == DEVLIST_TYPES_MAX || len > DEVLIST_NAME_MAX)
		return NULL;
	t = &dl->types[dl->ntypes++];
	t->dl = dl;
	memcpy(t->name, name, len);
	t->name[len] = '\0';
	if (!dev_name_ok(t->name)) {
		dl->ntypes--;
		return NULL;
	}
	return t;
}

static void list_types(struct devlist *dl);

static void on_types_dir(void *arg, const struct xsd_sockmsg *hdr, const char *body)
{
	struct devlist *dl = arg;

	dl->listing_types = false;
	if (hdr->type == XS_DIRECTORY) {
		for (const char *s = body; s < body + hdr->len; s += strlen(s) + 1) {
			struct dtype *t = type_get(dl, s, strlen(s));

			if (t)
				list_type(dl, t);
		}
	}
	if (dl->types_again)
		list_types(dl);
}

static void list_types(struct devlist *dl)
{
	if (dl->listing_types) {
		dl->types_again = true;
		return;
	}
	dl->types_again = false;
	if (xenbus_request(dl->xb, XS_DIRECTORY, 0, DL_WATCH_PATH, sizeof(DL_WATCH_PATH),
			   on_types_dir, dl) == 0)
		dl->listing_types = true;
}

/* "device/<type>/<id>/..." of a known device (not the id itself). */
static bool below_known(const struct devlist *dl, const struct dtype *t,
			const char *id)
{
	const char *idend = strchr(id, '/');

	for (unsigned i = 0; idend && i < dl->ndevs; i++)
		if (dev_is(&dl->devs[i], t->name, id, (size_t)(idend - id)))
			return true;
	return false;
}

static void on_device_event(void *arg, const char *path, const char *token)
{
	struct devlist *dl = arg;
	const char *type, *end;
	struct dtype *t;

	if (strcmp(path, DL_WATCH_PATH) == 0) {
		list_types(dl);
		return;
	}
	if (strncmp(path, DL_WATCH_PATH "/", sizeof(DL_WATCH_PATH)) != 0)
		return;
	type = path + sizeof(DL_WATCH_PATH);
	end = strchr(type, '/');
	t = type_get(dl, type, end ? (size_t)(end - type) : strlen(type));
	if (!t || (end && below_known(dl, t, end + 1)))
		return;
	list_type(dl, t);
}

static void ignore_reply(void *arg, const struct xsd_sockmsg *hdr, const char *body)
{
}

static const char watch[] = DL_WATCH_PATH "\0" DL_ROUTE DL_WATCH_PATH;

int devlist_start(struct devlist **out, struct xenbus *xb, devlist_fn *fn,
		  void *arg)
{
	struct devlist *dl;
	int rc;

	*out = NULL;
	dl = calloc(1, sizeof(*dl));
	if (!dl)
		return -ENOMEM;
	dl->xb = xb;
	dl->fn = fn;
	dl->arg = arg;
	rc = xenbus_route_add(xb, DL_ROUTE, on_device_event, dl);
	if (rc < 0)
		goto fail;
	/* Fires once at once: the first listing. */
	rc = xenbus_request(xb, XS_WATCH, 0, watch, sizeof(watch), ignore_reply, NULL);
	if (rc < 0) {
		xenbus_route_del(xb, DL_ROUTE);
		goto fail;
	}
	*out = dl;
	return 0;
fail:
	free(dl);
	return rc;
}

void devlist_stop(struct devlist *dl)
{
	if (!dl)
		return;
	xenbus_route_del(dl->xb, DL_ROUTE);
	xenbus_request(dl->xb, XS_UNWATCH, 0, watch, sizeof(watch), ignore_reply, NULL);
	xenbus_cancel(dl->xb, on_types_dir, dl);
	for (unsigned i = 0; i < dl->ntypes; i++)
		xenbus_cancel(dl->xb, on_type_dir, &dl->types[i]);
	free(dl);
}
