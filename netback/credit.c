/* xl's rate= as Linux netback's credit scheduler (tx_credit_exceeded,
 * tx_add_credit, xenvif_tx_credit_callback): a queue may send `bytes`
 * per `usec` window; credit accumulates up to a burst so that one large
 * frame can always pass.  A frame that does not fit stalls the queue
 * (nothing is dropped) until a timer at the window's end replenishes the
 * credit and kicks the queue again.
 *
 * Two departures from Linux, both so that the measured rate is the
 * configured one under GSO (test_netback_traffic.sh: 20Mb/s@50ms gave
 * 15.5 Mbit/s with 50 KiB frames):
 * - the burst is max(128 KiB, bytes + the largest frame), not
 *   max(128 KiB, bytes): the credit a window leaves over (less than one
 *   frame) is carried into the next instead of being cut by the clamp;
 * - a window that ended while the queue waited starts where the last one
 *   ended (Linux: credit_window_start = next_credit), not at the moment
 *   the next frame is tried, so timer latency does not stretch windows. */
#include <event2/event.h>

#include "vif_priv.h"

#define NB_CREDIT_BURST_MIN (128u * 1024u)

static void credit_add(struct nb_queue *q)
{
	uint64_t max_burst = q->v->rate.bytes + XEN_NETIF_MAX_TX_SIZE;
	uint64_t left = q->credit_left + q->v->rate.bytes;

	if (max_burst < q->v->rate.bytes)	/* wrapped */
		max_burst = UINT64_MAX;
	if (max_burst < NB_CREDIT_BURST_MIN)
		max_burst = NB_CREDIT_BURST_MIN;
	/* Overflow-safe: the rate comes from the store. */
	if (left < q->credit_left || left > max_burst)
		left = max_burst;
	q->credit_left = left;
}

bool nb_credit_exceeded(struct nb_queue *q, unsigned size)
{
	uint64_t now = hv_now_ns();
	uint64_t win = q->v->rate.usec * 1000u;
	uint64_t next = q->credit_window_ns + win;
	struct timeval tv;

	if (q->credit_wait)
		return true;
	if (size <= q->credit_left)
		return false;
	if (now >= next) {
		/* Contiguous windows while busy; a fresh one after idle. */
		q->credit_window_ns = now - next < win ? next : now;
		credit_add(q);
		next = q->credit_window_ns + win;
		if (size <= q->credit_left)
			return false;
	}
	q->credit_wait = true;
	q->st.tx_credit_stalls++;
	tv.tv_sec = (time_t)((next - now) / 1000000000u);
	tv.tv_usec = (suseconds_t)((next - now) % 1000000000u / 1000u);
	evtimer_add(q->credit_ev, &tv);
	return true;
}

void nb_credit_take(struct nb_queue *q, unsigned size)
{
	if (!q->v->rate.bytes)
		return;
	q->credit_left = size > q->credit_left ? 0 : q->credit_left - size;
}
