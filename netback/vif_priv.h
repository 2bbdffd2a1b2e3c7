/* pvd-netback's data plane, inside: the structures nbloop.c, vif.c,
 * tx.c, rx.c, hash.c and credit.c share.  Not for the control plane,
 * which sees only vif.h. */
#ifndef PVD_NETBACK_VIF_PRIV_H
#define PVD_NETBACK_VIF_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <time.h>

#include "pvd/iothread.h"
#include "pvd/ring_util.h"
#include <xen/io/netif.h>

#include "journal.h"
#include "vif.h"

struct event;
struct nb_tapio;
struct pvd_msgq;

/* xenvif_count_requests counts the slots that follow the first one (and
 * its extras): up to XEN_NETBK_LEGACY_SLOTS_MAX (18 = XEN_NETIF_NR_SLOTS_MIN)
 * are served, so a frame may take 19 slots in all as netfront's 18 plus
 * slack; one that has already 18 (19) following slots and asks for more is
 * dropped with an error; one that has 20 (fatal_skb_slots) and asks for
 * more disables the vif. */
#define NB_TX_FATAL_SLOTS 20
#define NB_TX_LEGACY_SLOTS XEN_NETIF_NR_SLOTS_MIN
/* Extra-info slots one request may carry: one per type, no more.  A
 * longer chain is garbage ("never ends") and fatal. */
#define NB_TX_EXTRA_MAX (XEN_NETIF_EXTRA_TYPE_MAX - 1)
/* The most slots nb_tx_parse ever looks at for one frame. */
#define NB_TX_SCAN_MAX (1 + NB_TX_EXTRA_MAX + NB_TX_FATAL_SLOTS)
#define NB_RX_RING_SIZE __CONST_RING_SIZE(netif_rx, HV_PAGE_SIZE)
#define NB_ETH_HLEN 14
/* XEN_NETBACK_TX_COPY_LEN: what netback linearises of a frame's head. */
#define NB_TX_COPY_LEN 128
/* A frame with its virtio-net header: 64 KiB of GSO payload plus headers. */
#define NB_FRAME_MAX (65535u + 18u)
#define NB_VNET_HDR_MAX 12
/* The data slots one received frame takes at most (one 4 KiB page
 * each); its GSO slot is one more. */
#define NB_RX_FRAME_SLOTS (NB_FRAME_MAX / HV_PAGE_SIZE + 1)
/* Linux's rx_drain_timeout when the frontend has no feature-rx-notify:
 * the backend polls for rx requests. */
#define NB_RX_POLL_MS 30
#define NB_RX_STALL_MS_DEFAULT 60000u
/* Linux's XEN_NETBK_MAX_HASH_KEY_SIZE and _MAPPING_SIZE. */
#define NB_HASH_KEY_MAX 40
#define NB_HASH_MAPPING_MAX 128
/* Frames a queue handles per turn before it lets the others run. */
#define NB_BUDGET 64

/* One slot of a transmit chain, copied off the ring: a request, or an
 * extra-info segment in a request's place. */
union nb_txslot {
	netif_tx_request_t req;
	struct netif_extra_info extra;
};

enum nb_tx_verdict {
	NB_TX_OK = 0,
	NB_TX_DROP = 1,   /* answer every slot NETIF_RSP_ERROR */
	NB_TX_FATAL = 2,  /* halt the rings */
};

/* What nb_tx_parse found in a chain. */
struct nb_txframe {
	enum nb_tx_verdict verdict;
	const char *why;          /* for DROP and FATAL */
	unsigned nslots;          /* slots the frame takes on the ring */
	unsigned nextra;          /* extra-info slots, after the first */
	uint16_t flags;           /* the first request's NETTXF_* */
	uint16_t size;            /* the frame's total size */
	bool gso;
	uint8_t gso_type;         /* XEN_NETIF_GSO_TYPE_* */
	uint16_t gso_size;
	unsigned nfrag;           /* data slots, the first one included */
	struct {
		grant_ref_t gref;
		uint16_t offset, size;
	} frag[1 + NB_TX_LEGACY_SLOTS];
	uint16_t id[NB_TX_SCAN_MAX]; /* every slot's id, for the responses */
};

/* What nb_pkt_parse found in a frame's headers. */
struct nb_pkt {
	uint16_t ethertype;       /* after one VLAN tag, if any */
	unsigned l3off, l4off;    /* l4off 0: no transport header found */
	uint8_t l4proto;          /* IPPROTO_TCP, _UDP, _ICMPV6, ... */
	unsigned l4hlen;          /* TCP: doff * 4; UDP: 8 */
	bool frag;                /* an IP fragment (no transport header) */
};

/* The frame-queue entry between the tap and a guest's rx ring.  The
 * frame's data starts its allocation, page-aligned, and this entry lies
 * behind it (rx.c, nb_rxbuf_new): each 4 KiB of the frame is then one
 * grant-copy op and one page pinned by gntdev, which splits a segment
 * at our page boundaries as at the guest's (an unaligned frame takes
 * two of each). */
struct nb_rxbuf {
	struct nb_rxbuf *next;
	uint32_t len;             /* of data */
	uint8_t hdr[NB_VNET_HDR_MAX];
	uint8_t *data;            /* the allocation: free(data) frees both */
};
/* A queue's transmit batch buffer, page-aligned: several large frames a
 * grant copy, each placed so that its page fragments land at their
 * guest offsets (tx.c, tx_at).  Also rx.c's buffer of last resort. */
#define NB_TXBUF_SIZE (4u * 65536u)

struct nb_hash {
	uint8_t alg;              /* XEN_NETIF_CTRL_HASH_ALGORITHM_* */
	uint32_t flags;           /* XEN_NETIF_CTRL_HASH_TYPE_* */
	uint8_t key[NB_HASH_KEY_MAX];
	uint32_t size;            /* mapping entries in use */
	uint32_t mapping[NB_HASH_MAPPING_MAX];
};

struct nb_queue {
	struct nb_vif *v;
	unsigned index;
	netif_tx_back_ring_t tx;
	netif_rx_back_ring_t rx;
	void *tx_addr, *rx_addr;
	evtchn_port_t tx_port, rx_port;   /* local */
	bool tx_bound, rx_bound;
	int tap_fd;
	struct event *tap_ev, *resume_ev, *credit_ev, *stall_ev;
	bool tap_paused;
	uint8_t *txbuf;                   /* NB_TXBUF_SIZE, page-aligned */
	struct nb_rxbuf *rxspare;         /* the next frame's, rx.c */
	struct nb_rxbuf rxlast;           /* reads into txbuf when no memory */
	/* credit (tx_credit_exceeded) */
	uint64_t credit_left, credit_window_ns;
	bool credit_wait;
	/* rx frame queue, bounded in bytes (rx_queue_max) */
	struct nb_rxbuf *rxq_head, **rxq_tail;
	uint64_t last_rx_ns;              /* last progress, once read (rx.c) */
	bool rx_moved;                    /* progress since last_rx_ns */
	bool stalled;
	unsigned rx_need;                 /* slots the waiting head frame needs */
	struct nb_journal jn;             /* the frames in answer (journal.h) */
	struct nb_qstats st;
};

struct nb_vif {
	struct nb_loop *loop;
	struct nb_vif *next;              /* the loop's list */
	struct nb_vif_cfg cfg;
	nb_vif_cb *cb;
	void *cb_arg;
	unsigned nq;                      /* the frontend's queues */
	uint32_t mask;                    /* those served here (cfg.mask) */
	struct nb_queue q[NB_MAX_QUEUES]; /* q[i].v NULL: not served here */
	/* control ring */
	xen_netif_ctrl_back_ring_t ctrl;
	void *ctrl_addr;
	evtchn_port_t ctrl_port;
	bool ctrl_bound;
	struct nb_hash hash;
	/* events to report from a fresh loop turn */
	struct event *report_ev;
	unsigned events;                  /* 1 << enum nb_vif_event */
	const char *fatal_why;
	bool fatal;                       /* rings halted */
	unsigned stalled_queues;
	bool carrier;
	bool dead;                        /* main thread: stopped, not freed */
	struct nb_rate rate;              /* applied at the next replenish */
	struct nb_policy policy;
};

/* One I/O thread's data plane (pool.c): everything but index, load,
 * tid, own, cpu_clock and mainq is that thread's alone. */
struct nb_loop {
	struct event_base *base;
	struct hv *hv;
	struct event *evtchn_ev;
	struct nb_vif *vifs;
	struct pvd_msgq *q;               /* runs calls on this thread */
	struct pvd_msgq *mainq;           /* reports to the main thread */
	struct nb_tapio *tio;             /* its tap writes (tapio.h) */
	unsigned index;
	unsigned load;                    /* queues placed here (main thread) */
	struct pvd_iothread th;           /* its thread (inline: the caller's) */
};

/* nbloop.c */
void nb_loop_add(struct nb_loop *l, struct nb_vif *v);
void nb_loop_del(struct nb_loop *l, struct nb_vif *v);

/* vif.c */
static inline bool nb_vif_serves(const struct nb_vif *v, unsigned i)
{
	return v->mask & (1u << i);
}
void nb_vif_note(struct nb_vif *v, enum nb_vif_event ev, const char *why);
void nb_vif_halt(struct nb_vif *v, const char *why);
void nb_queue_notify(struct nb_queue *q, evtchn_port_t port, int notify);

/* rx.c: a frame buffer of the largest frame's size, and its release
 * (NULL is ignored). */
struct nb_rxbuf *nb_rxbuf_new(void);
void nb_rxbuf_free(struct nb_rxbuf *b);

/* tx.c */
/* Decides on the chain in slots[0..n) (copied off the ring; avail is how
 * many slots the guest produced from the first one on, n = min(avail,
 * NB_TX_SCAN_MAX)).  Pure: no ring, no grant. */
void nb_tx_parse(const union nb_txslot *slots, unsigned n, unsigned avail,
		 struct nb_txframe *f);
void nb_tx_kick(struct nb_queue *q);
/* Fills a virtio-net header for frame (len bytes) as f asks: 0, or
 * -EINVAL when its headers cannot be parsed for the checksum. */
int nb_tx_vnet_hdr(const struct nb_txframe *f, const uint8_t *frame,
		   unsigned len, void *hdr);
/* Anti-spoofing: true when the frame may pass. */
bool nb_tx_allowed(const struct nb_policy *p, const uint8_t *frame,
		   unsigned len);

/* pkt.c: Ethernet, IPv4/IPv6, TCP/UDP headers; 0 or -EINVAL. */
int nb_pkt_parse(const uint8_t *frame, unsigned len, struct nb_pkt *p);

/* rx.c */
void nb_rx_tap_ready(struct nb_queue *q);
void nb_rx_kick(struct nb_queue *q);
void nb_rx_flush(struct nb_queue *q);
void nb_rx_stall_check(struct nb_queue *q);

/* hash.c */
void nb_ctrl_kick(struct nb_vif *v);
/* The guest's queue for a frame read from tap queue tapq. */
unsigned nb_hash_queue(const struct nb_vif *v, unsigned tapq,
		       const uint8_t *frame, unsigned len);
uint32_t nb_toeplitz(const uint8_t *key, unsigned keylen,
		     const uint8_t *buf, unsigned buflen);

/* credit.c */
/* Whether a frame of size bytes must wait for credit (arms the timer). */
bool nb_credit_exceeded(struct nb_queue *q, unsigned size);
void nb_credit_take(struct nb_queue *q, unsigned size);

#endif
