/* The network frontend (vif), the guest side of <xen/io/netif.h> as
 * Linux's drivers/net/xen-netfront.c does it.  See docs/pvguest.md, "The
 * network frontend".
 *
 * Registered as the "vif" frontend (frontend.h).  A probed device reads
 * its backend's features at InitWait, sets up one tx and one rx ring per
 * queue (and the control ring when offered), writes the transport and
 * feature nodes and goes Connected (Linux connects at InitWait, without
 * waiting for the backend's Connected).  The NIC is a tap named eth<id>
 * in the guest's own network namespace (nettap.h): frames the guest's
 * stack sends are read from the tap and put on the tx ring; frames from
 * the rx ring are written to the tap.
 *
 * The pure parts (a frame's slot plan, the virtio-net header of a
 * received frame, checksum offsets) are exported for the unit tests. */
#ifndef PVGUEST_NETFRONT_H
#define PVGUEST_NETFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_net.h>

#include "pvd/ring_util.h"	/* before netif.h: ring.h's barriers */
#include <xen/io/netif.h>

#include "frontend.h"

#define NETFRONT_MAX_QUEUES 16u
/* A frame from the tap: the largest IP packet plus an Ethernet and VLAN
 * header. */
#define NETFRONT_FRAME_MAX (65535u + 18u)
/* Data slots of one frame: XEN_NETIF_NR_SLOTS_MIN, which every backend
 * takes; a frame of NETFRONT_FRAME_MAX needs 17. */
#define NETFRONT_MAX_SLOTS XEN_NETIF_NR_SLOTS_MIN

/* Options (pvguest --net-*): every feature can be turned off, to drive
 * the backend's fallbacks. */
struct netfront_opts {
	bool no_sg;		/* feature-sg = 0: one slot per frame, MTU 1500 */
	bool no_gso;		/* feature-gso-tcpv4/6 = 0, no GSO on tx */
	bool no_split;		/* one event channel even if split is offered */
	bool no_rx_notify;	/* feature-rx-notify = 0 */
	bool no_ctrl;		/* ignore feature-ctrl-ring */
	bool no_csum6;		/* feature-ipv6-csum-offload = 0 */
	unsigned max_queues;	/* 1..NETFRONT_MAX_QUEUES */
};

struct netfront_config {
	struct netfront_opts opts;
	/* The process is in the guest's own network namespace
	 * (nettap_netns_enter): only then are taps made.  Without it a vif
	 * is left alone with one line (a tap named eth<id> must never
	 * appear in dom0's namespace). */
	bool own_netns;
};

void netfront_opts_default(struct netfront_opts *o);

extern const struct frontend_ops netfront_ops;

/* ---- pure functions (unit-tested) ---- */

/* What the connection allows on transmit. */
struct netfront_txcaps {
	bool sg, gso4, gso6;
};

/* A frame cut into tx slots: slot 0 carries flags (NETTXF_*) and the
 * frame's total size, then (gso) one extra-info slot, then slots 1..n-1.
 * size[k] is the bytes of data slot k (each at most a page, offset 0). */
struct netfront_txplan {
	unsigned nslots;		/* data slots */
	uint16_t flags;			/* of slot 0 */
	uint16_t size[NETFRONT_MAX_SLOTS];
	bool has_extra;
	struct netif_extra_info extra;	/* XEN_NETIF_EXTRA_TYPE_GSO */
	bool sw_csum;			/* complete the checksum before sending */
};

/* Plans frame (len bytes, vh its virtio-net header from the tap).
 * -EMSGSIZE when it does not fit (no SG and over a page, or over
 * NETFRONT_MAX_SLOTS pages), -EINVAL for a frame under 14 bytes or a
 * header the connection cannot carry (GSO not negotiated, bad
 * csum_start). */
int netfront_tx_plan(const struct virtio_net_hdr *vh, size_t len,
		     const struct netfront_txcaps *caps, bool csum6,
		     const uint8_t *frame, struct netfront_txplan *p);

/* The L4 checksum's start and offset in an Ethernet frame (IPv4 or IPv6,
 * one optional VLAN tag, TCP or UDP): 0, or -EPROTONOSUPPORT. */
int netfront_csum_offsets(const uint8_t *frame, size_t len, uint16_t *start,
			  uint16_t *offset);

/* Completes the checksum at start+offset over frame[start..len) (the
 * field holds the pseudo-header's sum, as for CHECKSUM_PARTIAL).
 * -EINVAL when the offsets do not fit len. */
int netfront_csum_fill(uint8_t *frame, size_t len, uint16_t start,
		       uint16_t offset);

/* The virtio-net header for a received frame: NETRXF_* flags of its first
 * response, gso its GSO extra (NULL: none).  -EINVAL for an unknown GSO
 * type or size 0; NETRXF_csum_blank on a frame whose offsets cannot be
 * parsed is -EPROTONOSUPPORT (the frame is dropped, as Linux's
 * checksum_setup failing). */
int netfront_rx_vnet(uint16_t flags, const struct netif_extra_info *gso,
		     const uint8_t *frame, size_t len, struct virtio_net_hdr *vh);

/* A response chain on the rx ring, checked: the slots from the first
 * response's index to the end of its frame.  rsp[0..avail) are the
 * responses available; *nslots gets the slots of the frame (data and
 * extras), *ndata the data slots.  0; -EAGAIN when the chain runs past
 * avail; -EPROTO for a frame to drop, *nslots its extent, as Linux's
 * xennet_get_responses drops it (an error status, offset+size across the
 * page, status 0 on a data slot that is not the first, an extra type out
 * of range: what a backend's failed grant copy or a restart leaves);
 * -EBADMSG for a chain with no end to find (over NETFRONT_MAX_SLOTS data
 * slots or 4 extras). */
int netfront_rx_chain(const struct netif_rx_response *rsp, unsigned avail,
		      unsigned *nslots, unsigned *ndata);

/* Counters, for tests and the log. */
struct netfront_stats {
	uint64_t tx_packets, tx_bytes, tx_dropped, tx_errors;
	uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors;
	uint64_t notifies, bad_responses, grants_leaked;
};
struct netfront;
void netfront_get_stats(const struct netfront *nf, struct netfront_stats *st);
bool netfront_connected(const struct netfront *nf);

#endif
