/* Messages between threads: a multi-producer, single-consumer queue of
 * fixed-size messages (a function, its context and a small inline
 * payload) delivered on the consumer thread's libevent loop.
 *
 * Ownership: the queue belongs to the consumer thread, the one running
 * the event_base it was created on; any thread may post.  A message's
 * function always runs on the consumer thread (or, after pvd_msgq_close,
 * in pvd_msgq_destroy), so the state it touches stays that thread's.
 *
 * Wake-up is an eventfd on the consumer's loop, written only when the
 * queue goes from empty to non-empty.  The consumer runs at most
 * PVD_MSGQ_BATCH messages a round and then lets its loop serve its other
 * events, so a flood of messages cannot starve the rings it serves.
 *
 * Capacity: max_len 0 grows without bound (doubling); otherwise a post to
 * a full queue fails with -EAGAIN and nothing is queued.
 *
 * pvd_msgq_call posts a function and waits for it to return (attach,
 * detach, stats); called on the consumer thread itself it runs the
 * function at once, so a thread can never wait on itself. */
#ifndef PVD_MSGQ_H
#define PVD_MSGQ_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct pvd_msgq;

#define PVD_MSG_INLINE 48	/* payload bytes carried inside a message */
#define PVD_MSGQ_BATCH 64	/* messages run per wake-up before yielding */

/* payload: the message's copy of what was posted (PVD_MSG_INLINE bytes,
 * aligned for any scalar), valid only during the call. */
typedef void pvd_msg_fn(void *ctx, void *payload);

/* Adds the wake-up event to base: call before base's loop runs, or on
 * the thread that runs it (libevent's bases are not locked). */
int pvd_msgq_create(struct event_base *base, size_t max_len,
		    struct pvd_msgq **out);
/* Names the consumer thread (pvd_msgq_call runs inline there); until
 * then the creating thread is.  Call it before anyone may call
 * pvd_msgq_call: from the creator right after pthread_create (a call made
 * before would run on the creator), or first thing on the consumer. */
void pvd_msgq_bind(struct pvd_msgq *q, pthread_t consumer);
/* 0, -EINVAL (len > PVD_MSG_INLINE or no fn), -EAGAIN (full),
 * -EPIPE (closed), -ENOMEM. */
int pvd_msgq_post(struct pvd_msgq *q, pvd_msg_fn *fn, void *ctx,
		  const void *payload, size_t len);
/* Runs fn(ctx) on the consumer thread and returns its result, or the
 * post's -errno (then fn did not run). */
int pvd_msgq_call(struct pvd_msgq *q, int (*fn)(void *ctx), void *ctx);
/* Further posts fail with -EPIPE; what is queued still runs. */
void pvd_msgq_close(struct pvd_msgq *q);
/* Messages waiting (for statistics). */
size_t pvd_msgq_pending(struct pvd_msgq *q);
/* Runs up to max queued messages on the calling thread now; the number
 * run.  For a consumer stopping its loop, and for tests. */
size_t pvd_msgq_run(struct pvd_msgq *q, size_t max);
/* Closes, runs what is still queued (no waiting caller is left hanging),
 * removes the event and frees.  Call on the consumer thread, or after it
 * was joined.  NULL is a no-op. */
void pvd_msgq_destroy(struct pvd_msgq *q);

#endif
