/* The netif data plane of pvd-netback: one struct nb_vif is one guest
 * NIC's queues (each a tx ring, an rx ring and one or two event channels,
 * served against one queue of the vif's multi-queue tap) plus its control
 * ring.  It knows nothing of the store, of libnl or of bridges: the
 * control plane (xenbus.c, tap.c) opens the tap queues and reads the
 * store, and hands this module the numbers in struct nb_vif_cfg.
 *
 * Contract between the control plane and the data plane (both sides
 * code to it; change it only together):
 *   - Threads (pool.c): a vif, all its queues and its control ring are
 *     owned by one I/O thread's nb_loop, which owns that thread's
 *     hypervisor handle's event-channel fd and routes each pending port
 *     to its queue.  Every nb_vif_* function is called on the main
 *     thread; it runs its work on the vif's thread (pvd_msgq_call) and
 *     returns when done.  The callback runs on the main thread.
 *   - nb_vif_start maps the rings, binds the event channels, registers
 *     the tap fds with the loop and starts serving; the tap fds stay
 *     owned by the caller (closed by it after nb_vif_stop).
 *   - Guest errors never reach the caller synchronously: the callback
 *     gets NB_VIF_FATAL (rings halted, the caller then disconnects the
 *     vif: xenbus Closing + an `error` node) or carrier changes, always
 *     from a fresh loop turn, never from inside nb_vif_start/stop.
 *   - cfg.reattach: the rings are already in use (pvd-netback was
 *     restarted): take the indices from the shared rings instead of
 *     expecting fresh ones; the guest does not re-negotiate.
 */
#ifndef PVD_NETBACK_VIF_H
#define PVD_NETBACK_VIF_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "pvd/hv.h"
#include "tapio.h"

struct event_base;
struct evbuffer;
struct nb_loop;
struct nb_vif;

/* Linux's xenvif_max_queues default. */
#define NB_MAX_QUEUES 8
#define NB_MAX_IPS 8

/* What the frontend negotiated (and the backend offered). */
struct nb_features {
	bool sg;            /* feature-sg */
	bool gso_tcpv4;     /* feature-gso-tcpv4 */
	bool gso_tcpv6;     /* feature-gso-tcpv6 */
	bool csum;          /* !feature-no-csum-offload: IPv4 checksum offload */
	bool ipv6_csum;     /* feature-ipv6-csum-offload */
	bool rx_notify;     /* feature-rx-notify */
};

/* Anti-spoofing (xl's ip=): with check set, frames from the guest whose
 * source MAC is not mac, or whose IPv4/IPv6 source (ARP sender and
 * neighbour-discovery source included) is not listed, are dropped and
 * counted. */
struct nb_policy {
	uint8_t mac[6];             /* the guest's MAC (the store's `mac`) */
	bool check;
	unsigned nip4, nip6;
	struct in_addr ip4[NB_MAX_IPS];
	struct in6_addr ip6[NB_MAX_IPS];
};

/* xl's rate=: bytes per usec interval on the guest's transmit;
 * bytes == 0 means unlimited. */
struct nb_rate {
	uint64_t bytes;
	uint64_t usec;
};

struct nb_queue_cfg {
	grant_ref_t tx_ref, rx_ref;
	/* Remote ports; rx_port == tx_port when the frontend uses one
	 * event channel. */
	evtchn_port_t tx_port, rx_port;
	int tap_fd;                 /* O_NONBLOCK, IFF_VNET_HDR set */
};

struct nb_vif_cfg {
	domid_t domid;
	unsigned devid;
	unsigned nqueues;           /* 1..NB_MAX_QUEUES */
	struct nb_queue_cfg q[NB_MAX_QUEUES];
	bool ctrl;                  /* a control ring was given */
	grant_ref_t ctrl_ref;
	evtchn_port_t ctrl_port;
	struct nb_features feat;
	struct nb_policy policy;
	struct nb_rate rate;
	unsigned vnet_hdr_len;      /* 10 or 12: what TUNSETVNETHDRSZ set */
	/* rx stall timeout (--rx-stall): a guest that leaves frames waiting
	 * this long without posting enough buffers has its carrier dropped
	 * (Linux's rx_stall_timeout).  0: 60000. */
	unsigned rx_stall_ms;
	bool reattach;
	/* The queues this vif serves (bit i: queue i); 0: all.  A NIC whose
	 * queues are spread over threads is one vif per thread (nic.c), each
	 * serving its own; only without a control ring, whose hash may steer
	 * a frame read on one queue's tap to any queue. */
	uint32_t mask;
	/* The queues' journals (journal.h): DIR/<domid>-<devid>-<queue>;
	 * NULL: none (a kill -9 then risks the frames in answer). */
	const char *journal_dir;
};

enum nb_vif_event {
	NB_VIF_FATAL = 1,           /* the guest broke the protocol */
	NB_VIF_CARRIER_OFF = 2,     /* rx stalled (the guest posts no buffers) */
	NB_VIF_CARRIER_ON = 3,
};
typedef void nb_vif_cb(struct nb_vif *v, int event, const char *why,
		       void *arg);

/* Per queue, with Linux netback's names where it has them. */
struct nb_qstats {
	uint64_t tx_packets, tx_bytes, tx_drops, tx_errors;   /* guest -> host */
	uint64_t rx_packets, rx_bytes, rx_drops, rx_errors;   /* host -> guest */
	uint64_t tx_ring_used, rx_ring_used;  /* occupancy at the last look */
	uint64_t notify_sent, notify_suppressed;
	uint64_t tx_credit_stalls;            /* credit exhausted (rate=) */
	uint64_t rx_stalls;                   /* carrier dropped for a stall */
	uint64_t tx_spoof_drops;
	uint64_t tx_gso, rx_gso;
	uint64_t tx_frag_overflow;            /* 18-19 slots: dropped */
	uint64_t rx_queue_len, rx_queue_max;
	uint64_t thread;                      /* the I/O thread serving it */
	uint64_t thread_cpu_ns;               /* that thread's CPU time */
};


/* ---- the loop (nbloop.c): one I/O thread's ---- */
/* tapio: how its tap writes go (tapio.h); NB_TAPIO_URING fails without
 * io_uring, with io_uring_setup's -errno.  0 or -errno. */
int nb_loop_create(struct event_base *base, struct hv *hv,
		   enum nb_tapio_mode tapio, struct nb_loop **out);
/* The vifs must be gone first.  NULL is a no-op. */
void nb_loop_destroy(struct nb_loop *l);

/* ---- the I/O threads (pool.c) ---- */
struct nb_pool;
struct hv_config;
/* threads 0: one loop on main_base with main_hv (the main thread serves
 * the rings); otherwise that many threads, each with its own event_base,
 * hypervisor handle (opened from hc) and loop. */
int nb_pool_start(struct event_base *main_base, struct hv *main_hv,
		  const struct hv_config *hc, unsigned threads,
		  enum nb_tapio_mode tapio, struct nb_pool **out);
/* What the loops' tap writes go through (nb_tapio_name). */
const char *nb_pool_tapio_name(const struct nb_pool *p);
/* Joins the threads; the vifs must be stopped first.  NULL is a no-op. */
void nb_pool_stop(struct nb_pool *p);
/* The loop with the fewest queues (main thread only). */
struct nb_loop *nb_pool_pick(struct nb_pool *p);
/* A loop for each of a NIC's nq queues (out[i]), queue 0 on the least
 * loaded, each other on the least loaded counting those placed before;
 * how many distinct loops.  Changes no load (nb_vif_start counts). */
unsigned nb_pool_place(struct nb_pool *p, unsigned nq, struct nb_loop **out);
/* [{"index","queues","cpu_ns"}...], a new reference or NULL. */
struct json_t *nb_pool_json(const struct nb_pool *p);

/* ---- a vif (vif.c, tx.c, rx.c, hash.c) ---- */
/* 0 or -errno (-EINVAL: a bad cfg; grant/evtchn errors as hv.h);
 * nothing stays mapped or bound on failure. */
int nb_vif_start(struct nb_loop *l, const struct nb_vif_cfg *cfg,
		 nb_vif_cb *cb, void *arg, struct nb_vif **out);
/* Unbinds, unmaps and frees; the tap fds are left open.  NULL is a
 * no-op.  Never call it from inside the callback: defer it. */
void nb_vif_stop(struct nb_vif *v);
/* Applies at the next credit replenish. */
void nb_vif_set_rate(struct nb_vif *v, const struct nb_rate *rate);
void nb_vif_set_policy(struct nb_vif *v, const struct nb_policy *p);
unsigned nb_vif_nqueues(const struct nb_vif *v);
/* The queues it serves (cfg.mask, or all of them). */
uint32_t nb_vif_mask(const struct nb_vif *v);
void nb_vif_qstats(const struct nb_vif *v, unsigned q, struct nb_qstats *out);
bool nb_vif_carrier(const struct nb_vif *v);

#endif
