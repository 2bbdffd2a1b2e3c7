/* Ring helpers: Xen's event suppression as the normal path, plus a bounded
 * busy-poll before sleeping.
 *
 * A wake-up through an event channel costs tens of microseconds across
 * CPUs (an eventfd or pipe wake-up is ~38 us on the reference machine,
 * the write itself ~0.3 us); checking a ring index costs nanoseconds.  So:
 *
 *  - push with RING_PUSH_*_AND_CHECK_NOTIFY (<xen/io/ring.h>) and notify
 *    only when the other side asked for it (HV_RING_PUSH_*);
 *  - before sleeping, spin on the ring for a bounded time, then re-arm the
 *    event index with RING_FINAL_CHECK_FOR_* and sleep only if that final
 *    check still finds nothing (HV_RING_WAIT_*).  While a side is spinning
 *    its event index stays behind, so the other side does not notify.
 *
 * A backend's loop, on the event channel's callback:
 *
 *	hv_evtchn_pending(hv, &port); hv_evtchn_unmask(hv, port);
 *	do {
 *		while (RING_HAS_UNCONSUMED_REQUESTS(&ring)) {
 *			... copy the request (the guest may change it), check,
 *			    handle, RING_GET_RESPONSE / rsp_prod_pvt++ ...
 *		}
 *		HV_RING_PUSH_RESPONSES(&ring, hv_evtchn_notify(hv, port));
 *	} while (HV_RING_WAIT_REQUESTS(&ring, HV_SPIN_NS_DEFAULT));
 *	return to the event loop (sleep).
 *
 * The spin's cost is CPU time burnt while waiting; bench_hv measures the
 * round-trip rate and the CPU per round trip for several budgets, with the
 * two sides on different CPUs, on one CPU, and where the scheduler puts
 * them (docs/hypervisor-layer.md).  A spin of 0 gives plain event
 * suppression.
 *
 * The checks read the other side's index with plain loads, as ring.h does;
 * hv_cpu_relax() is a compiler barrier, so the loop re-reads it.  A backend
 * must still bound what it consumes (RING_REQUEST_CONS_OVERFLOW,
 * RING_REQUEST_PROD_OVERFLOW): the guest writes those indexes.
 */
#ifndef PVD_RING_UTIL_H
#define PVD_RING_UTIL_H

#include <sched.h>
#include <stdint.h>
#include <time.h>

/* <xen/io/ring.h> leaves the barriers to its includer: xen_mb() & co., or,
 * for the default (legacy) interface version, mb()/rmb()/wmb(). */
#include <xen/xen-compat.h>

#if defined(__x86_64__)
/* As xenctrl.h: a locked no-op add is a full barrier, cheaper than mfence;
 * x86 does not reorder loads with loads nor stores with stores. */
#define PVD_MB()  __asm__ __volatile__("lock addl $0, -32(%%rsp)" ::: "memory")
#define PVD_RMB() __asm__ __volatile__("" ::: "memory")
#define PVD_WMB() __asm__ __volatile__("" ::: "memory")
#else
#define PVD_MB()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define PVD_RMB() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define PVD_WMB() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

#if __XEN_INTERFACE_VERSION__ < 0x00030208
#ifndef mb
#define mb()  PVD_MB()
#endif
#ifndef rmb
#define rmb() PVD_RMB()
#endif
#ifndef wmb
#define wmb() PVD_WMB()
#endif
#else
#ifndef xen_mb
#define xen_mb()  PVD_MB()
#endif
#ifndef xen_rmb
#define xen_rmb() PVD_RMB()
#endif
#ifndef xen_wmb
#define xen_wmb() PVD_WMB()
#endif
#endif

#include <xen/io/ring.h>

/* Default spin before sleeping: a quarter of a cross-CPU wake-up.  Enough
 * to catch a peer that is running (it answers in well under a microsecond
 * once its CPU is free), short enough to cost little on an idle ring.
 * docs/hypervisor-layer.md has the measurements behind it. */
#define HV_SPIN_NS_DEFAULT 10000u

static inline void hv_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("pause" ::: "memory");
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

static inline uint64_t hv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Evaluates cond until it is true or budget_ns have passed.  Every 64
 * rounds (a few microseconds) it reads the clock and calls sched_yield():
 * when the other side shares our CPU, spinning alone would only keep it
 * from running (measured: round trips 4x slower than not spinning at
 * all); the yield lets it run, and costs little when it is elsewhere.
 * A yield that took longer than HV_SPIN_CONTENDED_NS means another task
 * wanted this CPU (a guest's NBD client, say): spinning then only delays
 * it, so the spin ends and the caller sleeps on its event channel
 * (measured: fio through pvguest's NBD export at QD32 1.9x faster).
 * Yields 0 if cond stayed false, 1 if it was true at once, 2 if it became
 * true while spinning. */
#define HV_SPIN_CONTENDED_NS 5000u
#define HV_SPIN_UNTIL(cond, budget_ns) ({                                  \
	int hv_ok_ = (cond) ? 1 : 0;                                       \
	uint64_t hv_budget_ = (budget_ns);                                 \
	if (!hv_ok_ && hv_budget_) {                                       \
		uint64_t hv_end_ = hv_now_ns() + hv_budget_;               \
		for (unsigned hv_i_ = 1; ; hv_i_++) {                      \
			if (cond) {                                        \
				hv_ok_ = 2;                                \
				break;                                     \
			}                                                  \
			hv_cpu_relax();                                    \
			if (!(hv_i_ & 63)) {                               \
				uint64_t hv_t_ = hv_now_ns();              \
				if (hv_t_ >= hv_end_)                      \
					break;                             \
				sched_yield();                             \
				if (hv_now_ns() - hv_t_ > HV_SPIN_CONTENDED_NS) \
					break;                             \
			}                                                  \
		}                                                          \
	}                                                                  \
	hv_ok_;                                                            \
})

/* Pushes produced requests/responses; evaluates notify_expr (e.g.
 * hv_evtchn_notify(hv, port)) only if the other side asked.  Yields 0 or
 * notify_expr's value. */
#define HV_RING_PUSH_REQUESTS(ring, notify_expr) ({                        \
	int hv_n_;                                                         \
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(ring, hv_n_);                  \
	hv_n_ ? (notify_expr) : 0;                                         \
})
#define HV_RING_PUSH_RESPONSES(ring, notify_expr) ({                       \
	int hv_n_;                                                         \
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(ring, hv_n_);                 \
	hv_n_ ? (notify_expr) : 0;                                         \
})

/* Backend: more requests?  Spins up to spin_ns, then does Xen's final
 * check, which asks the frontend to notify on its next push.  0 means:
 * sleep on the event channel. */
#define HV_RING_WAIT_REQUESTS(ring, spin_ns) ({                            \
	int hv_w_ = HV_SPIN_UNTIL(RING_HAS_UNCONSUMED_REQUESTS(ring),      \
				  spin_ns);                                \
	if (!hv_w_)                                                        \
		RING_FINAL_CHECK_FOR_REQUESTS(ring, hv_w_);                \
	hv_w_;                                                             \
})

/* Frontend: more responses?  Same pattern. */
#define HV_RING_WAIT_RESPONSES(ring, spin_ns) ({                           \
	int hv_w_ = HV_SPIN_UNTIL(RING_HAS_UNCONSUMED_RESPONSES(ring),     \
				  spin_ns);                                \
	if (!hv_w_)                                                        \
		RING_FINAL_CHECK_FOR_RESPONSES(ring, hv_w_);               \
	hv_w_;                                                             \
})

#endif
