/* pvd-consoled's context: the hypervisor handle, its event, and the
 * local port -> console table the event dispatch uses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "console.h"
#include "consoled.h"
#include "pvd/log.h"

/* Events handled per wake-up before going back to the loop, so that a
 * guest notifying flat out cannot keep the loop from the others (its
 * port stays pending and is served on the next turn). */
#define EVTCHN_BUDGET 256

void consoled_opts_default(struct consoled_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->log_max_bytes = CONSOLED_LOG_MAX_DEFAULT;
	o->rate = CONSOLED_RATE_DEFAULT;
	o->burst = CONSOLED_BURST_DEFAULT;
	o->buffer_size = CONSOLED_BUFFER_DEFAULT;
}

/* Local port -> console: a hash of small arrays.  (Ports are a handle's
 * k << 12 | 1..4095 in the sim and small numbers on Xen: sparse.) */
struct port_slot {
	evtchn_port_t port;
	struct console *c;
};

static unsigned bucket(evtchn_port_t port)
{
	return (port * 2654435761u) % CONSOLED_PORT_BUCKETS;
}

struct consoled_port_bucket {
	unsigned n, cap;
	struct port_slot *s;
};

int consoled_port_add(struct consoled *cd, struct console *c,
		      evtchn_port_t port)
{
	struct consoled_port_bucket *b = &cd->ports[bucket(port)];

	if (b->n == b->cap) {
		unsigned cap = b->cap ? b->cap * 2 : 2;
		struct port_slot *s = realloc(b->s, cap * sizeof(*s));

		if (!s) {
			log_err("out of memory for port %u", port);
			return -ENOMEM;
		}
		b->s = s;
		b->cap = cap;
	}
	b->s[b->n++] = (struct port_slot){ port, c };
	return 0;
}

void consoled_port_del(struct consoled *cd, struct console *c,
		       evtchn_port_t port)
{
	struct consoled_port_bucket *b = &cd->ports[bucket(port)];

	for (unsigned i = 0; i < b->n; i++) {
		if (b->s[i].port == port && b->s[i].c == c) {
			b->s[i] = b->s[--b->n];
			return;
		}
	}
}

static struct console *port_lookup(struct consoled *cd, evtchn_port_t port)
{
	struct consoled_port_bucket *b = &cd->ports[bucket(port)];

	for (unsigned i = 0; i < b->n; i++)
		if (b->s[i].port == port)
			return b->s[i].c;
	return NULL;
}

static void on_evtchn(evutil_socket_t fd, short what, void *arg)
{
	struct consoled *cd = arg;
	evtchn_port_t port[EVTCHN_BUDGET];
	int n = hv_evtchn_take(cd->hv, port, EVTCHN_BUDGET);

	for (int i = 0; i < n; i++)
		console_kick(port_lookup(cd, port[i]));
}

int consoled_start(struct consoled *cd, struct event_base *base,
		   const struct consoled_opts *o)
{
	struct hv_config cfg = { 0 };
	int rc;

	memset(cd, 0, sizeof(*cd));
	cd->base = base;
	cd->opts = *o;
	if (!cd->opts.buffer_size)
		cd->opts.buffer_size = CONSOLED_BUFFER_DEFAULT;
	cd->ports = calloc(CONSOLED_PORT_BUCKETS, sizeof(*cd->ports));
	if (!cd->ports)
		return -ENOMEM;
	cfg.impl = o->hv_impl && strcmp(o->hv_impl, "auto") ? o->hv_impl : NULL;
	rc = hv_open(&cd->hv, &cfg);
	if (rc < 0) {
		log_err("cannot open the hypervisor layer: %s", strerror(-rc));
		goto fail;
	}
	cd->hv_ev = event_new(base, hv_evtchn_fd(cd->hv), EV_READ | EV_PERSIST,
			      on_evtchn, cd);
	if (!cd->hv_ev || event_add(cd->hv_ev, NULL) < 0) {
		rc = -ENOMEM;
		goto fail;
	}
	log_info("hypervisor layer: %s", hv_impl_name(cd->hv));
	return 0;
fail:
	consoled_stop(cd);
	return rc;
}

void consoled_stop(struct consoled *cd)
{
	struct consoled_port_bucket *b = cd->ports;

	if (cd->hv_ev)
		event_free(cd->hv_ev);
	cd->hv_ev = NULL;
	hv_close(cd->hv);
	cd->hv = NULL;
	if (b) {
		for (unsigned i = 0; i < CONSOLED_PORT_BUCKETS; i++)
			free(b[i].s);
		free(b);
	}
	cd->ports = NULL;
}

void consoled_fail(struct consoled *cd, int code)
{
	cd->stopping = true;
	cd->exit_code = code;
	event_base_loopbreak(cd->base);
}
