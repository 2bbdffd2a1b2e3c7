/* Multi-producer, single-consumer message queue on a libevent loop
 * (include/pvd/msgq.h).
 *
 * Who owns what: the ring buffer of messages and its counters are shared
 * and only touched under q->lock; the event and the eventfd's read side
 * are the consumer thread's; the eventfd's write side is anyone's.  A
 * message is copied in under the lock and copied out under it, so its
 * function runs with no lock held and may post again (even to its own
 * queue). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "pvd/log.h"
#include "pvd/msgq.h"

#define MSGQ_INITIAL 16

struct pvd_msg {
	pvd_msg_fn *fn;
	void *ctx;
	union {
		unsigned char bytes[PVD_MSG_INLINE];
		uint64_t u64;
		void *ptr;
		long double ld;
	} payload;
};

struct pvd_msgq {
	pthread_mutex_t lock;
	struct pvd_msg *ring;	/* cap slots, head..head+len live */
	size_t cap, head, len, max_len;
	bool closed;
	pthread_t owner;
	int efd;
	struct event *ev;
};

/* A synchronous call waiting on its caller's stack. */
struct msgq_call {
	int (*fn)(void *ctx);
	void *ctx;
	int ret;
	bool done;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void msgq_kick(struct pvd_msgq *q)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is saturated, the consumer is woken anyway. */
	if (write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_err("eventfd write: %s", strerror(errno));
}

/* Doubles the ring, unwrapping it; called with the lock held. */
static int msgq_grow(struct pvd_msgq *q)
{
	size_t ncap = q->cap * 2, first;
	struct pvd_msg *n;

	if (q->max_len && ncap > q->max_len)
		ncap = q->max_len;
	n = calloc(ncap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	first = q->cap - q->head < q->len ? q->cap - q->head : q->len;
	memcpy(n, q->ring + q->head, first * sizeof(*n));
	memcpy(n + first, q->ring, (q->len - first) * sizeof(*n));
	free(q->ring);
	q->ring = n;
	q->cap = ncap;
	q->head = 0;
	return 0;
}

static int msgq_push(struct pvd_msgq *q, const struct pvd_msg *m, bool *was_empty)
{
	int rc;

	if (q->closed)
		return -EPIPE;
	if (q->max_len && q->len >= q->max_len)
		return -EAGAIN;
	if (q->len == q->cap) {
		rc = msgq_grow(q);
		if (rc)
			return rc;
	}
	q->ring[(q->head + q->len) % q->cap] = *m;
	*was_empty = q->len++ == 0;
	return 0;
}

int pvd_msgq_post(struct pvd_msgq *q, pvd_msg_fn *fn, void *ctx,
		  const void *payload, size_t len)
{
	struct pvd_msg m = { .fn = fn, .ctx = ctx };
	bool was_empty = false;
	int rc;

	if (!fn || len > PVD_MSG_INLINE || (len && !payload))
		return -EINVAL;
	if (len)
		memcpy(m.payload.bytes, payload, len);
	pthread_mutex_lock(&q->lock);
	rc = msgq_push(q, &m, &was_empty);
	pthread_mutex_unlock(&q->lock);
	if (!rc && was_empty)
		msgq_kick(q);
	return rc;
}

/* Takes one message out; false when empty. */
static bool msgq_pop(struct pvd_msgq *q, struct pvd_msg *m, size_t *left)
{
	bool got = false;

	pthread_mutex_lock(&q->lock);
	if (q->len) {
		*m = q->ring[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
		got = true;
	}
	*left = q->len;
	pthread_mutex_unlock(&q->lock);
	return got;
}

size_t pvd_msgq_run(struct pvd_msgq *q, size_t max)
{
	struct pvd_msg m;
	size_t n = 0, left = 0;

	while (n < max && msgq_pop(q, &m, &left)) {
		m.fn(m.ctx, m.payload.bytes);
		n++;
	}
	return n;
}

static void msgq_on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct pvd_msgq *q = arg;
	uint64_t v;
	size_t left;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_err("eventfd read: %s", strerror(errno));
	pvd_msgq_run(q, PVD_MSGQ_BATCH);
	/* Left over (a post that saw a non-empty queue did not kick): come
	 * back after the loop's other events. */
	pthread_mutex_lock(&q->lock);
	left = q->len;
	pthread_mutex_unlock(&q->lock);
	if (left)
		msgq_kick(q);
}

int pvd_msgq_create(struct event_base *base, size_t max_len,
		    struct pvd_msgq **out)
{
	struct pvd_msgq *q = calloc(1, sizeof(*q));
	int rc = -ENOMEM;

	if (!q)
		return -ENOMEM;
	q->efd = -1;
	q->max_len = max_len;
	q->cap = max_len && max_len < MSGQ_INITIAL ? max_len : MSGQ_INITIAL;
	q->ring = calloc(q->cap, sizeof(*q->ring));
	if (!q->ring)
		goto fail;
	pthread_mutex_init(&q->lock, NULL);
	q->owner = pthread_self();
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0) {
		rc = -errno;
		log_err("eventfd: %s", strerror(errno));
		goto fail_lock;
	}
	q->ev = event_new(base, q->efd, EV_READ | EV_PERSIST, msgq_on_wake, q);
	if (!q->ev || event_add(q->ev, NULL)) {
		log_err("cannot add the wake-up event");
		goto fail_lock;
	}
	*out = q;
	return 0;
fail_lock:
	if (q->ev)
		event_free(q->ev);
	if (q->efd >= 0)
		close(q->efd);
	pthread_mutex_destroy(&q->lock);
fail:
	free(q->ring);
	free(q);
	return rc;
}

void pvd_msgq_bind(struct pvd_msgq *q, pthread_t consumer)
{
	pthread_mutex_lock(&q->lock);
	q->owner = consumer;
	pthread_mutex_unlock(&q->lock);
}

static void msgq_call_run(void *ctx, void *payload)
{
	struct msgq_call *c;
	int ret;

	memcpy(&c, payload, sizeof(c));
	ret = c->fn(c->ctx);
	pthread_mutex_lock(&c->lock);
	c->ret = ret;
	c->done = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

int pvd_msgq_call(struct pvd_msgq *q, int (*fn)(void *ctx), void *ctx)
{
	struct msgq_call c = { .fn = fn, .ctx = ctx };
	struct msgq_call *cp = &c;
	bool self;
	int rc;

	pthread_mutex_lock(&q->lock);
	self = pthread_equal(q->owner, pthread_self());
	pthread_mutex_unlock(&q->lock);
	if (self)
		return fn(ctx);
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	rc = pvd_msgq_post(q, msgq_call_run, NULL, &cp, sizeof(cp));
	if (!rc) {
		pthread_mutex_lock(&c.lock);
		while (!c.done)
			pthread_cond_wait(&c.cond, &c.lock);
		rc = c.ret;
		pthread_mutex_unlock(&c.lock);
	}
	pthread_cond_destroy(&c.cond);
	pthread_mutex_destroy(&c.lock);
	return rc;
}

void pvd_msgq_close(struct pvd_msgq *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_mutex_unlock(&q->lock);
}

size_t pvd_msgq_pending(struct pvd_msgq *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->len;
	pthread_mutex_unlock(&q->lock);
	return n;
}

void pvd_msgq_destroy(struct pvd_msgq *q)
{
	if (!q)
		return;
	pvd_msgq_close(q);
	pvd_msgq_run(q, SIZE_MAX);
	event_free(q->ev);
	close(q->efd);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	free(q);
}
