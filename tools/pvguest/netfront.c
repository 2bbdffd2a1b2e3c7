/* The network frontend; see netfront.h.
 *
 * Design, after Linux's xen-netfront.c (talk_to_netback, xennet_connect,
 * xennet_start_xmit, xennet_tx_buf_gc, xennet_alloc_rx_buffers,
 * xennet_poll):
 *
 *  - Xenstore is asynchronous here (xenbus_xs.h): one chain of reads at a
 *    time (struct rd), as blkfront.c; a backend state event during a chain
 *    is remembered and the state read again after it.
 *  - Each queue has a tx and an rx ring of one page.  Every tx id and
 *    every rx slot owns a guest page and a grant reference for life; the
 *    page is granted for one use (read-only for tx, writable for rx) and
 *    its access ended when the response comes, as Linux grants per
 *    packet.  A backend that answers but still holds the grant, answers an
 *    id not in flight, moves a producer past what we posted, or sends a
 *    status out of range breaks the NIC for good: one line, the tap goes
 *    down, the pages it may still hold are never reused (XSA-391: the
 *    backend is not trusted either).
 *  - rx slot i always holds buffer i (Linux's xennet_rxidx): responses come
 *    in ring order, an extra-info response uses up its slot's buffer.
 *  - The NIC is a tap in the guest's namespace (nettap.h): tx reads a
 *    frame with its virtio-net header, plans its slots (netpkt.c) and
 *    copies it into granted pages; when the ring has no room for a
 *    largest frame the tap is not read until responses free slots.  rx
 *    assembles a chain and writes it with its header; the tap dropping it
 *    (full queue) counts as rx_dropped.
 *  - Notifications as netfront: RING_PUSH_REQUESTS_AND_CHECK_NOTIFY before
 *    kicking, RING_FINAL_CHECK_FOR_RESPONSES before sleeping.
 *  - A backend restarting (kill -9) and re-attaching leaves its state
 *    Connected: nothing to do.  One that starts over (InitWait after
 *    another state) is connected to again from scratch. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>
#include <linux/if_tun.h>
#include <xen/io/xenbus.h>
#include <xen/io/xs_wire.h>

#include "gntalloc.h"
#include "guest.h"
#include "netfront.h"
#include "nettap.h"
#include "pvd/hv_sim.h"
#include "pvd/log.h"
#include "pvd/num.h"
#include "xenbus_xs.h"

#define PATH_LEN FRONTEND_PATH_LEN
#define VAL_LEN 128
#define RD_MAX 16
#define TX_SIZE NET_TX_RING_SIZE(HV_PAGE_SIZE)
#define RX_SIZE NET_RX_RING_SIZE(HV_PAGE_SIZE)
#define TX_BATCH 64
#define CHAIN_MAX (NETFRONT_MAX_SLOTS + 4)
#define MTU_DEFAULT 1500u
#define MTU_MAX_SG (65535u - 14u)
#define HASH_MAP_SIZE 64u

#define NET_TX_RING_SIZE(p) __CONST_RING_SIZE(netif_tx, p)
#define NET_RX_RING_SIZE(p) __CONST_RING_SIZE(netif_rx, p)

struct buf {
	unsigned long gfn;
	void *p;
	grant_ref_t ref;
	bool have;		/* gfn and ref are ours */
	bool granted;		/* access not ended yet */
};

struct nfq {
	struct netfront *nf;
	unsigned idx;
	netif_tx_front_ring_t tx;
	netif_rx_front_ring_t rx;
	struct buf txring, rxring;
	evtchn_port_t port_tx, port_rx;	/* equal when not split */
	bool ports;
	struct buf txb[TX_SIZE];
	uint16_t tx_next[TX_SIZE];
	uint16_t tx_free;		/* head of free ids, TX_SIZE: none */
	unsigned tx_nfree;
	struct buf rxb[RX_SIZE];
	int tapfd;
	struct event *tap_ev;
	bool tap_reading;
	uint8_t frame[NETFRONT_MAX_SLOTS * HV_PAGE_SIZE];	/* a chain at most */
};

struct rd {
	bool busy;
	unsigned n, pos;
	char paths[RD_MAX][PATH_LEN];
	char vals[RD_MAX][VAL_LEN];
	bool have[RD_MAX];
	void (*cont)(struct netfront *nf);
};

struct netfront {
	struct frontend_env env;
	struct frontend_dev *dev;
	struct netfront_opts o;
	char devid[FRONTEND_ID_MAX + 1];
	char route[XENBUS_PREFIX_MAX + 1];
	char backend[PATH_LEN];
	char ifname[24];
	domid_t backend_id;
	uint8_t mac[6];
	unsigned mtu;
	bool watching, removed, broken;
	int fstate, bstate, last_bstate;
	bool state_dirty;
	struct rd rd;
	/* Negotiated. */
	struct netfront_txcaps caps;
	bool csum6, split, rx_notify, gso_rx, ctrl, mq_written;
	unsigned nq, prev_nq;
	struct nfq *q[NETFRONT_MAX_QUEUES];
	int tapfds[NETFRONT_MAX_QUEUES];
	bool tap_up;
	/* The control ring. */
	xen_netif_ctrl_front_ring_t cr;
	struct buf crring, crkey, crmap;
	evtchn_port_t port_ctrl;
	bool ctrl_port;
	struct netfront_stats st;
};

static void read_state(struct netfront *nf);
static void disconnect(struct netfront *nf);

void netfront_opts_default(struct netfront_opts *o)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	/* Linux: xennet_max_queues = the CPUs, at most the backend's max;
	 * we bound it by 4 as blkfront. */
	*o = (struct netfront_opts){
		.max_queues = n > 0 && n < 4 ? (unsigned)n : 4,
	};
}

/* ---- the store (as blkfront.c) ---- */

static void nf_on_rd(void *arg, const struct xsd_sockmsg *hdr, const char *body);

static void rd_next(struct netfront *nf)
{
	struct rd *rd = &nf->rd;

	if (rd->pos == rd->n) {
		rd->busy = false;
		rd->cont(nf);
		if (!nf->removed && !rd->busy && nf->state_dirty)
			read_state(nf);
		return;
	}
	if (xenbus_request(nf->env.xb, XS_READ, 0, rd->paths[rd->pos],
			   (uint32_t)strlen(rd->paths[rd->pos]) + 1, nf_on_rd, nf) < 0) {
		log_warn("vif %s: cannot read %s", nf->devid, rd->paths[rd->pos]);
		rd->busy = false;
	}
}

static void nf_on_rd(void *arg, const struct xsd_sockmsg *hdr, const char *body)
{
	struct netfront *nf = arg;
	struct rd *rd = &nf->rd;
	unsigned i = rd->pos;

	rd->have[i] = false;
	if (hdr->type == XS_READ && hdr->len < VAL_LEN && strlen(body) == hdr->len) {
		memcpy(rd->vals[i], body, hdr->len + 1);
		rd->have[i] = true;
	} else if (hdr->type != XS_ERROR || strcmp(body, "ENOENT") != 0) {
		log_warn("vif %s: reading %s: bad reply", nf->devid, rd->paths[i]);
	}
	rd->pos++;
	rd_next(nf);
}

static void rd_start(struct netfront *nf, const char *base,
		     const char *const *keys, unsigned n,
		     void (*cont)(struct netfront *))
{
	struct rd *rd = &nf->rd;

	rd->busy = true;
	rd->n = n;
	rd->pos = 0;
	rd->cont = cont;
	for (unsigned i = 0; i < n; i++) {
		if (snprintf(rd->paths[i], PATH_LEN, "%s/%s", base, keys[i]) >= PATH_LEN)
			rd->paths[i][0] = 0;
		rd->have[i] = false;
	}
	rd_next(nf);
}

/* Value i of the last chain; def when missing; -EINVAL when bad. */
static int rd_num(struct netfront *nf, unsigned i, uint64_t max, uint64_t def,
		  uint64_t *out)
{
	if (!nf->rd.have[i]) {
		*out = def;
		return 0;
	}
	if (pvd_parse_uint(nf->rd.vals[i], max, out) < 0) {
		log_warn("vif %s: %s: bad value '%.32s'", nf->devid, nf->rd.paths[i],
			 nf->rd.vals[i]);
		return -EINVAL;
	}
	return 0;
}

static bool rd_bool(struct netfront *nf, unsigned i)
{
	uint64_t v;

	return rd_num(nf, i, UINT32_MAX, 0, &v) == 0 && v != 0;
}

static void nf_on_write(void *arg, const struct xsd_sockmsg *hdr, const char *body)
{
	struct netfront *nf = arg;

	if (hdr->type == XS_ERROR)
		log_warn("vif %s: a write to the store failed: %s", nf->devid, body);
}

static int xs_put(struct netfront *nf, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int xs_put(struct netfront *nf, const char *key, const char *fmt, ...)
{
	char body[PATH_LEN + VAL_LEN];
	va_list ap;
	int n, m;

	n = snprintf(body, sizeof(body), "%s/%s", nf->dev->nodename, key);
	if (n < 0 || (size_t)n + 1 >= sizeof(body))
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	m = vsnprintf(body + n + 1, sizeof(body) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)(n + 1 + m) >= sizeof(body))
		return -ENAMETOOLONG;
	return xenbus_request(nf->env.xb, XS_WRITE, 0, body, (uint32_t)(n + 1 + m),
			      nf_on_write, nf);
}

static void xs_rm(struct netfront *nf, const char *key)
{
	char path[PATH_LEN];
	int n = snprintf(path, sizeof(path), "%s/%s", nf->dev->nodename, key);

	if (n > 0 && (size_t)n < sizeof(path))
		(void)xenbus_request(nf->env.xb, XS_RM, 0, path, (uint32_t)n + 1,
				     nf_on_write, nf);
}

static void switch_state(struct netfront *nf, int state)
{
	if (nf->fstate == state)
		return;
	log_info("vif %s: state %d -> %d (backend %d)", nf->devid, nf->fstate,
		 state, nf->bstate);
	nf->fstate = state;
	xs_put(nf, "state", "%d", state);
}

/* ---- pages ---- */

static int buf_get(struct netfront *nf, struct buf *b)
{
	if (b->have)
		return 0;
	if (hv_sim_page_alloc(nf->env.dom, &b->gfn) < 0)
		return -ENOMEM;
	if (gntalloc_get(nf->env.gnt, &b->ref) < 0) {
		hv_sim_page_free(nf->env.dom, b->gfn);
		return -ENOSPC;
	}
	b->p = hv_sim_page(nf->env.dom, b->gfn);
	b->have = true;
	return 0;
}

static int buf_grant(struct netfront *nf, struct buf *b, bool readonly)
{
	int rc = hv_sim_grant(nf->env.dom, b->ref, b->gfn, nf->backend_id,
			      readonly);

	if (rc == 0)
		b->granted = true;
	return rc;
}

/* Ends the backend's access; false when it still holds the page. */
static bool buf_end(struct netfront *nf, struct buf *b)
{
	if (b->granted && hv_sim_end_access(nf->env.dom, b->ref) < 0)
		return false;
	b->granted = false;
	return true;
}

/* Gives page and ref back, unless the backend still holds them: then
 * they are never reused. */
static void buf_put(struct netfront *nf, struct buf *b)
{
	if (!b->have)
		return;
	if (!buf_end(nf, b)) {
		nf->st.grants_leaked++;
	} else {
		gntalloc_put(nf->env.gnt, b->ref);
		hv_sim_page_free(nf->env.dom, b->gfn);
	}
	b->have = b->granted = false;
}

/* ---- the NIC breaking ---- */

static void nic_broken(struct netfront *nf, unsigned q, const char *why)
{
	if (nf->broken)
		return;
	nf->broken = true;
	nf->st.bad_responses++;
	log_err("vif %s: queue %u: backend misbehaved (%s): NIC disabled", nf->devid,
		q, why);
	if (nf->tap_up)
		nettap_link_set(nf->ifname, nf->mac, nf->mtu, false);
	for (unsigned k = 0; k < nf->nq; k++)
		if (nf->q[k] && nf->q[k]->tap_reading) {
			event_del(nf->q[k]->tap_ev);
			nf->q[k]->tap_reading = false;
		}
}

static void kick(struct netfront *nf, evtchn_port_t port)
{
	nf->st.notifies++;
	hv_sim_evtchn_notify(nf->env.dom, port);
}

/* ---- transmit ---- */

static unsigned tx_room(const struct nfq *q)
{
	unsigned used = q->tx.req_prod_pvt - q->tx.rsp_cons;
	unsigned ring = TX_SIZE - used;

	return ring < q->tx_nfree + 1 ? ring : q->tx_nfree + 1;
}

static uint16_t tx_id_get(struct nfq *q)
{
	uint16_t id = q->tx_free;

	q->tx_free = q->tx_next[id];
	q->tx_nfree--;
	return id;
}

static void tx_id_put(struct nfq *q, uint16_t id)
{
	q->tx_next[id] = q->tx_free;
	q->tx_free = id;
	q->tx_nfree++;
}

/* Puts one planned frame on the ring.  -errno leaves the ring as it was
 * (nothing published). */
static int tx_put(struct nfq *q, const struct netfront_txplan *p, size_t len)
{
	struct netfront *nf = q->nf;
	RING_IDX prod = q->tx.req_prod_pvt;
	size_t off = 0;

	for (unsigned k = 0; k < p->nslots; k++) {
		uint16_t id = tx_id_get(q);
		struct buf *b = &q->txb[id];
		netif_tx_request_t *req = RING_GET_REQUEST(&q->tx, prod);

		memcpy(b->p, q->frame + off, p->size[k]);
		if (buf_grant(nf, b, true) < 0) {
			/* Only when the entry is busy: a backend bug. */
			tx_id_put(q, id);
			return -EBUSY;
		}
		*req = (netif_tx_request_t){
			.gref = b->ref, .offset = 0, .id = id,
			.flags = k + 1 < p->nslots ? NETTXF_more_data : 0,
			.size = p->size[k],
		};
		if (k == 0) {
			req->flags = p->flags;
			req->size = (uint16_t)len;
		}
		prod++;
		off += p->size[k];
		if (k == 0 && p->has_extra) {
			*(struct netif_extra_info *)RING_GET_REQUEST(&q->tx, prod) =
				p->extra;
			prod++;
		}
	}
	q->tx.req_prod_pvt = prod;
	return 0;
}

/* One frame from the tap: 1 sent or dropped, 0 nothing to read. */
static int tx_one(struct nfq *q)
{
	struct netfront *nf = q->nf;
	struct virtio_net_hdr vh;
	struct iovec iov[2] = {
		{ &vh, sizeof(vh) }, { q->frame, sizeof(q->frame) },
	};
	struct netfront_txplan p;
	ssize_t n = readv(q->tapfd, iov, 2);
	size_t len;

	if (n < 0)
		return 0;
	if ((size_t)n < sizeof(vh))
		return 1;
	len = (size_t)n - sizeof(vh);
	if (netfront_tx_plan(&vh, len, &nf->caps, nf->csum6, q->frame, &p) < 0 ||
	    (p.sw_csum && netfront_csum_fill(q->frame, len, vh.csum_start,
					     vh.csum_offset) < 0) ||
	    tx_put(q, &p, len) < 0) {
		nf->st.tx_dropped++;
		return 1;
	}
	nf->st.tx_packets++;
	nf->st.tx_bytes += len;
	return 1;
}

static void tap_pause(struct nfq *q, bool pause)
{
	if (pause && q->tap_reading) {
		event_del(q->tap_ev);
		q->tap_reading = false;
	} else if (!pause && !q->tap_reading && !q->nf->broken) {
		if (event_add(q->tap_ev, NULL) == 0)
			q->tap_reading = true;
	}
}

static void tx_poll(struct nfq *q);

static void on_tap(evutil_socket_t fd, short what, void *arg)
{
	struct nfq *q = arg;
	struct netfront *nf = q->nf;
	int notify, sent = 0;

	tx_poll(q);
	while (!nf->broken && sent < TX_BATCH &&
	       tx_room(q) > NETFRONT_MAX_SLOTS + 1 && tx_one(q))
		sent++;
	if (nf->broken)
		return;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->tx, notify);
	if (notify)
		kick(nf, q->port_tx);
	if (tx_room(q) <= NETFRONT_MAX_SLOTS + 1)
		tap_pause(q, true);
}

static int tx_response(struct nfq *q, const netif_tx_response_t *r)
{
	struct netfront *nf = q->nf;

	if (r->status == NETIF_RSP_NULL)
		return 0;
	if (r->id >= TX_SIZE || !q->txb[r->id].granted)
		return -EBADMSG;
	if (r->status < NETIF_RSP_DROPPED || r->status > NETIF_RSP_OKAY)
		return -ERANGE;
	if (!buf_end(nf, &q->txb[r->id]))
		return -EBUSY;
	if (r->status != NETIF_RSP_OKAY)
		nf->st.tx_errors++;
	tx_id_put(q, r->id);
	return 0;
}

static void tx_poll(struct nfq *q)
{
	struct netfront *nf = q->nf;
	int more;

	do {
		RING_IDX rp = q->tx.sring->rsp_prod, i;

		PVD_RMB();
		if (rp - q->tx.rsp_cons > q->tx.req_prod_pvt - q->tx.rsp_cons) {
			nic_broken(nf, q->idx, "tx producer past the requests");
			return;
		}
		for (i = q->tx.rsp_cons; i != rp; i++) {
			netif_tx_response_t r;
			int rc;

			RING_COPY_RESPONSE(&q->tx, i, &r);
			rc = tx_response(q, &r);
			if (rc < 0) {
				q->tx.rsp_cons = i;
				nic_broken(nf, q->idx, rc == -EBUSY ?
					   "tx grant still in use" : rc == -ERANGE ?
					   "tx status out of range" : "bad tx response id");
				return;
			}
		}
		q->tx.rsp_cons = i;
		RING_FINAL_CHECK_FOR_RESPONSES(&q->tx, more);
	} while (more);
	if (tx_room(q) > NETFRONT_MAX_SLOTS + 1 && nf->fstate == XenbusStateConnected)
		tap_pause(q, false);
}

/* ---- receive ---- */

static void rx_fill(struct nfq *q)
{
	struct netfront *nf = q->nf;
	int notify;

	while (q->rx.req_prod_pvt - q->rx.rsp_cons < RX_SIZE) {
		RING_IDX i = q->rx.req_prod_pvt;
		struct buf *b = &q->rxb[i % RX_SIZE];
		netif_rx_request_t *req = RING_GET_REQUEST(&q->rx, i);

		if (b->granted || buf_grant(nf, b, false) < 0)
			break;
		req->id = (uint16_t)(i % RX_SIZE);
		req->gref = b->ref;
		q->rx.req_prod_pvt = i + 1;
	}
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->rx, notify);
	if (notify)
		kick(nf, q->port_rx);
}

/* The extras of a checked chain: slots 1..n. */
static unsigned rx_nextras(const struct netif_rx_response *rsp)
{
	unsigned k = 1;

	if (!(rsp[0].flags & NETRXF_extra_info))
		return 0;
	while (((const struct netif_extra_info *)&rsp[k])->flags &
	       XEN_NETIF_EXTRA_FLAG_MORE)
		k++;
	return k;
}

/* Copies the data of a checked chain out of its pages into q->frame; its
 * length, or -errno (a bad id or a grant the backend still holds). */
static ssize_t rx_gather(struct nfq *q, const struct netif_rx_response *rsp,
			 unsigned nslots, const struct netif_extra_info **gso,
			 bool drop)
{
	struct netfront *nf = q->nf;
	RING_IDX cons = q->rx.rsp_cons;
	unsigned nx = rx_nextras(rsp);
	size_t len = 0;

	*gso = NULL;
	for (unsigned k = 0; k < nslots; k++) {
		struct buf *b = &q->rxb[(cons + k) % RX_SIZE];

		if (!buf_end(nf, b))
			return -EBUSY;
		if (k >= 1 && k <= nx) {
			const struct netif_extra_info *x = (const void *)&rsp[k];

			if (x->type == XEN_NETIF_EXTRA_TYPE_GSO)
				*gso = x;
			continue;
		}
		/* A dropped frame's ids may be anything (a restarted backend
		 * read our requests where its predecessor had written
		 * responses): its buffers are the slots', as Linux's
		 * xennet_get_rx_ref takes them. */
		if (!drop && rsp[k].id != (cons + k) % RX_SIZE)
			return -EBADMSG;
		if (drop || rsp[k].status <= 0)
			continue;	/* an error on the first slot: dropped */
		memcpy(q->frame + len, (const char *)b->p + rsp[k].offset,
		       (size_t)rsp[k].status);
		len += (size_t)rsp[k].status;
	}
	return (ssize_t)len;
}

static void rx_deliver(struct nfq *q, const struct netif_rx_response *rsp,
		       size_t len, const struct netif_extra_info *gso)
{
	struct netfront *nf = q->nf;
	struct virtio_net_hdr vh;
	struct iovec iov[2] = { { &vh, sizeof(vh) }, { q->frame, len } };

	if (rsp[0].status < 0 || len < 14) {
		nf->st.rx_errors++;
		return;
	}
	if (netfront_rx_vnet(rsp[0].flags, gso, q->frame, len, &vh) < 0) {
		nf->st.rx_errors++;
		return;
	}
	if (writev(q->tapfd, iov, 2) != (ssize_t)(sizeof(vh) + len)) {
		nf->st.rx_dropped++;
		return;
	}
	nf->st.rx_packets++;
	nf->st.rx_bytes += len;
}

/* One frame: 1 consumed, 0 none complete yet, -1 broken. */
static int rx_one(struct nfq *q, RING_IDX rp)
{
	struct netif_rx_response rsp[CHAIN_MAX];
	const struct netif_extra_info *gso;
	unsigned avail = rp - q->rx.rsp_cons, nslots, ndata;
	ssize_t len;
	int rc;

	if (avail > CHAIN_MAX)
		avail = CHAIN_MAX;
	for (unsigned k = 0; k < avail; k++)
		RING_COPY_RESPONSE(&q->rx, q->rx.rsp_cons + k, &rsp[k]);
	rc = netfront_rx_chain(rsp, avail, &nslots, &ndata);
	if (rc == -EAGAIN)
		return 0;
	if (rc == -EPROTO) {
		/* Dropped, the ring goes on (xennet_get_responses); its
		 * buffers are ended and posted again. */
		len = rx_gather(q, rsp, nslots, &gso, true);
		if (len < 0) {
			nic_broken(q->nf, q->idx, len == -EBUSY ?
				   "rx grant still in use" : "bad rx response id");
			return -1;
		}
		q->rx.rsp_cons += nslots;
		q->nf->st.rx_errors++;
		return 1;
	}
	if (rc < 0) {
		nic_broken(q->nf, q->idx, "malformed rx response chain");
		return -1;
	}
	len = rx_gather(q, rsp, nslots, &gso, false);
	if (len < 0) {
		nic_broken(q->nf, q->idx, len == -EBUSY ? "rx grant still in use" :
			   "bad rx response id");
		return -1;
	}
	q->rx.rsp_cons += nslots;
	rx_deliver(q, rsp, (size_t)len, gso);
	return 1;
}

static void rx_poll(struct nfq *q)
{
	struct netfront *nf = q->nf;
	int more;

	do {
		RING_IDX rp = q->rx.sring->rsp_prod;
		int rc = 1;

		PVD_RMB();
		if (rp - q->rx.rsp_cons > q->rx.req_prod_pvt - q->rx.rsp_cons) {
			nic_broken(nf, q->idx, "rx producer past the requests");
			return;
		}
		while (q->rx.rsp_cons != rp && (rc = rx_one(q, rp)) > 0)
			;
		if (rc < 0)
			return;
		rx_fill(q);
		if (rc == 0)
			return;	/* a chain still incomplete: the next event */
		RING_FINAL_CHECK_FOR_RESPONSES(&q->rx, more);
	} while (more);
}

static void on_port(void *arg, evtchn_port_t port)
{
	struct nfq *q = arg;

	if (q->nf->broken || q->nf->fstate != XenbusStateConnected)
		return;
	if (port == q->port_tx)
		tx_poll(q);
	if (port == q->port_rx)
		rx_poll(q);
}

/* ---- queues ---- */

static void q_down(struct netfront *nf, struct nfq *q)
{
	if (q->tap_ev)
		event_free(q->tap_ev);
	if (q->ports) {
		guest_port_handler_set(nf->env.guest, q->port_tx, NULL, NULL);
		hv_sim_evtchn_unbind(nf->env.dom, q->port_tx);
		if (q->port_rx != q->port_tx) {
			guest_port_handler_set(nf->env.guest, q->port_rx, NULL, NULL);
			hv_sim_evtchn_unbind(nf->env.dom, q->port_rx);
		}
	}
	buf_put(nf, &q->txring);
	buf_put(nf, &q->rxring);
	for (unsigned i = 0; i < TX_SIZE; i++)
		buf_put(nf, &q->txb[i]);
	for (unsigned i = 0; i < RX_SIZE; i++)
		buf_put(nf, &q->rxb[i]);
	free(q);
}

static int q_ports(struct netfront *nf, struct nfq *q)
{
	int rc = hv_sim_evtchn_alloc_unbound(nf->env.dom, nf->backend_id,
					     &q->port_tx);

	if (rc < 0)
		return rc;
	q->port_rx = q->port_tx;
	q->ports = true;
	rc = guest_port_handler_set(nf->env.guest, q->port_tx, on_port, q);
	if (rc < 0 || !nf->split)
		return rc;
	rc = hv_sim_evtchn_alloc_unbound(nf->env.dom, nf->backend_id, &q->port_rx);
	if (rc < 0) {
		q->port_rx = q->port_tx;
		return rc;
	}
	return guest_port_handler_set(nf->env.guest, q->port_rx, on_port, q);
}

static int q_pages(struct netfront *nf, struct nfq *q)
{
	int rc = buf_get(nf, &q->txring);

	rc = rc ? rc : buf_get(nf, &q->rxring);
	for (unsigned i = 0; i < TX_SIZE && !rc; i++)
		rc = buf_get(nf, &q->txb[i]);
	for (unsigned i = 0; i < RX_SIZE && !rc; i++)
		rc = buf_get(nf, &q->rxb[i]);
	if (rc)
		return rc;
	memset(q->txring.p, 0, HV_PAGE_SIZE);
	memset(q->rxring.p, 0, HV_PAGE_SIZE);
	SHARED_RING_INIT((netif_tx_sring_t *)q->txring.p);
	SHARED_RING_INIT((netif_rx_sring_t *)q->rxring.p);
	FRONT_RING_INIT(&q->tx, (netif_tx_sring_t *)q->txring.p, HV_PAGE_SIZE);
	FRONT_RING_INIT(&q->rx, (netif_rx_sring_t *)q->rxring.p, HV_PAGE_SIZE);
	rc = buf_grant(nf, &q->txring, false);
	return rc ? rc : buf_grant(nf, &q->rxring, false);
}

static int q_up(struct netfront *nf, unsigned idx)
{
	struct nfq *q = calloc(1, sizeof(*q));
	int rc;

	if (!q)
		return -ENOMEM;
	q->nf = nf;
	q->idx = idx;
	q->tapfd = -1;
	q->tx_free = TX_SIZE;
	for (unsigned i = TX_SIZE; i-- > 0;)
		tx_id_put(q, (uint16_t)i);
	rc = q_pages(nf, q);
	if (!rc)
		rc = q_ports(nf, q);
	if (rc < 0) {
		log_err("vif %s: cannot set up queue %u: %s", nf->devid, idx,
			strerror(-rc));
		q_down(nf, q);
		return rc;
	}
	nf->q[idx] = q;
	return 0;
}

/* ---- the control ring (hash key and mapping, netif.h's control ring) ---- */

static void ctrl_down(struct netfront *nf)
{
	if (nf->ctrl_port) {
		guest_port_handler_set(nf->env.guest, nf->port_ctrl, NULL, NULL);
		hv_sim_evtchn_unbind(nf->env.dom, nf->port_ctrl);
		nf->ctrl_port = false;
	}
	buf_put(nf, &nf->crring);
	buf_put(nf, &nf->crkey);
	buf_put(nf, &nf->crmap);
}

static void on_ctrl(void *arg, evtchn_port_t port)
{
	struct netfront *nf = arg;
	RING_IDX rp = nf->cr.sring->rsp_prod, i;

	PVD_RMB();
	if (nf->broken)
		return;
	if (rp - nf->cr.rsp_cons > nf->cr.req_prod_pvt - nf->cr.rsp_cons) {
		nic_broken(nf, 0, "control producer past the requests");
		return;
	}
	for (i = nf->cr.rsp_cons; i != rp; i++) {
		struct xen_netif_ctrl_response r;

		RING_COPY_RESPONSE(&nf->cr, i, &r);
		if (r.status != XEN_NETIF_CTRL_STATUS_SUCCESS)
			log_warn("vif %s: control request %u (type %u): status %u",
				 nf->devid, r.id, r.type, r.status);
		else if (r.type == XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING)
			log_info("vif %s: Toeplitz hash over %u queues set", nf->devid,
				 nf->nq);
	}
	nf->cr.rsp_cons = i;
	buf_end(nf, &nf->crkey);
	buf_end(nf, &nf->crmap);
}

static int ctrl_up(struct netfront *nf)
{
	int rc = buf_get(nf, &nf->crring);

	rc = rc ? rc : buf_get(nf, &nf->crkey);
	rc = rc ? rc : buf_get(nf, &nf->crmap);
	if (rc)
		return rc;
	memset(nf->crring.p, 0, HV_PAGE_SIZE);
	SHARED_RING_INIT((xen_netif_ctrl_sring_t *)nf->crring.p);
	FRONT_RING_INIT(&nf->cr, (xen_netif_ctrl_sring_t *)nf->crring.p,
			HV_PAGE_SIZE);
	rc = buf_grant(nf, &nf->crring, false);
	if (rc)
		return rc;
	rc = hv_sim_evtchn_alloc_unbound(nf->env.dom, nf->backend_id, &nf->port_ctrl);
	if (rc)
		return rc;
	nf->ctrl_port = true;
	return guest_port_handler_set(nf->env.guest, nf->port_ctrl, on_ctrl, nf);
}

static void ctrl_req(struct netfront *nf, uint16_t type, uint32_t d0,
		     uint32_t d1, uint32_t d2)
{
	struct xen_netif_ctrl_request *r =
		RING_GET_REQUEST(&nf->cr, nf->cr.req_prod_pvt);

	*r = (struct xen_netif_ctrl_request){
		.id = (uint16_t)nf->cr.req_prod_pvt, .type = type,
		.data = { d0, d1, d2 },
	};
	nf->cr.req_prod_pvt++;
}

/* Toeplitz over the queues: the key Linux's netdev_rss_key_fill would
 * give (here a fixed one), a mapping spreading buckets round-robin. */
static void ctrl_hash(struct netfront *nf)
{
	static const uint8_t key[40] = {
		0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
		0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
		0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
		0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
	};
	uint32_t *map = nf->crmap.p;
	int notify;

	if (nf->cr.req_prod_pvt - nf->cr.rsp_cons + 5 > RING_SIZE(&nf->cr) ||
	    nf->crkey.granted || nf->crmap.granted)
		return;
	memcpy(nf->crkey.p, key, sizeof(key));
	for (unsigned i = 0; i < HASH_MAP_SIZE; i++)
		map[i] = i % nf->nq;
	if (buf_grant(nf, &nf->crkey, true) < 0 || buf_grant(nf, &nf->crmap, true) < 0)
		return;
	ctrl_req(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		 XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0);
	ctrl_req(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
		 XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |
		 XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP, 0, 0);
	ctrl_req(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, nf->crkey.ref, sizeof(key), 0);
	ctrl_req(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, HASH_MAP_SIZE, 0, 0);
	ctrl_req(nf, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, nf->crmap.ref, 0,
		 HASH_MAP_SIZE);
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nf->cr, notify);
	if (notify)
		kick(nf, nf->port_ctrl);
}

/* ---- the tap ---- */

static unsigned tap_offloads(const struct netfront *nf)
{
	/* What the tap may hand us: partial checksums always (the backend
	 * completes csum_blank, or we do for IPv6 without
	 * feature-ipv6-csum-offload), TSO where negotiated. */
	return TUN_F_CSUM | (nf->caps.gso4 ? TUN_F_TSO4 : 0) |
	       (nf->caps.gso6 ? TUN_F_TSO6 : 0);
}

static int tap_up(struct netfront *nf)
{
	int rc = nettap_open(nf->ifname, nf->nq, nf->tapfds);

	if (rc < 0)
		return rc;
	rc = nettap_offload(nf->tapfds, nf->nq, tap_offloads(nf));
	if (!rc)
		rc = nettap_link_set(nf->ifname, nf->mac, nf->mtu, true);
	for (unsigned k = 0; k < nf->nq && !rc; k++) {
		struct nfq *q = nf->q[k];

		q->tapfd = nf->tapfds[k];
		q->tap_ev = event_new(nf->env.base, q->tapfd, EV_READ | EV_PERSIST,
				      on_tap, q);
		if (!q->tap_ev)
			rc = -ENOMEM;
	}
	if (rc < 0) {
		for (unsigned k = 0; k < nf->nq; k++) {
			if (nf->q[k]->tap_ev)
				event_free(nf->q[k]->tap_ev);
			nf->q[k]->tap_ev = NULL;
			nf->q[k]->tapfd = -1;
		}
		nettap_close(nf->tapfds, nf->nq);
		return rc;
	}
	nf->tap_up = true;
	return 0;
}

/* Everything of a connection: tap, queues, control ring. */
static void disconnect(struct netfront *nf)
{
	for (unsigned k = 0; k < nf->nq; k++) {
		if (nf->q[k]) {
			if (nf->q[k]->tap_reading)
				event_del(nf->q[k]->tap_ev);
			q_down(nf, nf->q[k]);
		}
		nf->q[k] = NULL;
	}
	if (nf->tap_up) {
		nettap_close(nf->tapfds, nf->nq);
		nf->tap_up = false;
		log_info("vif %s: %s removed", nf->devid, nf->ifname);
	}
	ctrl_down(nf);
	if (nf->nq)
		nf->prev_nq = nf->nq;
	nf->nq = 0;
	nf->broken = false;
}

/* ---- negotiation ---- */

static const char *const talk_keys[] = {
	"feature-rx-copy", "feature-sg", "feature-gso-tcpv4", "feature-gso-tcpv6",
	"feature-ipv6-csum-offload", "feature-split-event-channels",
	"multi-queue-max-queues", "feature-ctrl-ring",
};
enum { T_RXCOPY, T_SG, T_GSO4, T_GSO6, T_CSUM6, T_SPLIT, T_MQ, T_CTRL };

static int pick_features(struct netfront *nf)
{
	uint64_t mq;

	if (!rd_bool(nf, T_RXCOPY)) {
		log_err("vif %s: backend does not support copying receive path",
			nf->devid);
		return -EOPNOTSUPP;
	}
	if (rd_num(nf, T_MQ, 1024, 0, &mq) < 0)
		return -EINVAL;
	nf->mq_written = nf->rd.have[T_MQ];
	nf->nq = mq < nf->o.max_queues ? (unsigned)mq : nf->o.max_queues;
	if (!nf->nq)
		nf->nq = 1;
	nf->caps.sg = !nf->o.no_sg && rd_bool(nf, T_SG);
	nf->caps.gso4 = nf->caps.sg && !nf->o.no_gso && rd_bool(nf, T_GSO4);
	nf->caps.gso6 = nf->caps.sg && !nf->o.no_gso && rd_bool(nf, T_GSO6);
	nf->csum6 = !nf->o.no_csum6 && rd_bool(nf, T_CSUM6);
	nf->split = !nf->o.no_split && rd_bool(nf, T_SPLIT);
	nf->ctrl = !nf->o.no_ctrl && rd_bool(nf, T_CTRL);
	nf->rx_notify = !nf->o.no_rx_notify;
	nf->gso_rx = !nf->o.no_gso && !nf->o.no_sg;
	if (!nf->caps.sg && nf->mtu > MTU_DEFAULT)
		nf->mtu = MTU_DEFAULT;	/* Linux: no SG forces 1500 */
	return 0;
}

static int write_queue(struct netfront *nf, const struct nfq *q)
{
	char dir[24] = "", key[48];
	int rc;

	if (nf->nq > 1)
		snprintf(dir, sizeof(dir), "queue-%u/", q->idx);
	snprintf(key, sizeof(key), "%stx-ring-ref", dir);
	rc = xs_put(nf, key, "%u", q->txring.ref);
	snprintf(key, sizeof(key), "%srx-ring-ref", dir);
	rc |= xs_put(nf, key, "%u", q->rxring.ref);
	if (nf->split) {
		snprintf(key, sizeof(key), "%sevent-channel-tx", dir);
		rc |= xs_put(nf, key, "%u", q->port_tx);
		snprintf(key, sizeof(key), "%sevent-channel-rx", dir);
		rc |= xs_put(nf, key, "%u", q->port_rx);
	} else {
		snprintf(key, sizeof(key), "%sevent-channel", dir);
		rc |= xs_put(nf, key, "%u", q->port_tx);
	}
	return rc;
}

/* Nodes a previous connection with another layout wrote. */
static void clear_old(struct netfront *nf)
{
	char key[24];

	if (nf->prev_nq > 1 && nf->nq == 1) {
		for (unsigned k = 0; k < nf->prev_nq; k++) {
			snprintf(key, sizeof(key), "queue-%u", k);
			xs_rm(nf, key);
		}
	}
	if (!nf->ctrl) {
		xs_rm(nf, "ctrl-ring-ref");
		xs_rm(nf, "event-channel-ctrl");
	}
}

static int write_nodes(struct netfront *nf)
{
	int rc = 0;

	clear_old(nf);
	if (nf->mq_written)
		rc |= xs_put(nf, "multi-queue-num-queues", "%u", nf->nq);
	for (unsigned k = 0; k < nf->nq; k++)
		rc |= write_queue(nf, nf->q[k]);
	if (nf->ctrl) {
		rc |= xs_put(nf, "ctrl-ring-ref", "%u", nf->crring.ref);
		rc |= xs_put(nf, "event-channel-ctrl", "%u", nf->port_ctrl);
	}
	rc |= xs_put(nf, "request-rx-copy", "1");
	rc |= xs_put(nf, "feature-rx-notify", "%d", nf->rx_notify);
	rc |= xs_put(nf, "feature-sg", "%d", !nf->o.no_sg);
	rc |= xs_put(nf, "feature-gso-tcpv4", "%d", nf->gso_rx);
	rc |= xs_put(nf, "feature-gso-tcpv6", "%d", nf->gso_rx);
	rc |= xs_put(nf, "feature-ipv6-csum-offload", "%d", !nf->o.no_csum6);
	return rc;
}

static void start_reading(struct netfront *nf)
{
	for (unsigned k = 0; k < nf->nq; k++) {
		rx_fill(nf->q[k]);
		tap_pause(nf->q[k], false);
	}
	if (nf->ctrl)
		ctrl_hash(nf);
}

/* Backend InitWait: what it offers, then queues, tap, nodes, Connected
 * (Linux's talk_to_netback and xennet_connect). */
static void cont_talk(struct netfront *nf)
{
	int rc;

	if (nf->fstate != XenbusStateInitialising)
		return;
	rc = pick_features(nf);
	for (unsigned k = 0; k < nf->nq && !rc; k++)
		rc = q_up(nf, k);
	if (!rc && nf->ctrl)
		rc = ctrl_up(nf);
	if (!rc)
		rc = tap_up(nf);
	if (!rc)
		rc = write_nodes(nf);
	if (rc) {
		log_err("vif %s: cannot connect to the backend: %s", nf->devid,
			strerror(rc < 0 ? -rc : EIO));
		disconnect(nf);
		switch_state(nf, XenbusStateClosed);
		return;
	}
	switch_state(nf, XenbusStateConnected);
	log_info("vif %s: %s up: %u queue(s), %s%s%s%s%sMTU %u", nf->devid,
		 nf->ifname, nf->nq, nf->caps.sg ? "sg " : "",
		 nf->caps.gso4 || nf->caps.gso6 ? "gso " : "",
		 nf->split ? "split event channels " : "",
		 nf->rx_notify ? "rx-notify " : "", nf->ctrl ? "ctrl ring " : "",
		 nf->mtu);
	start_reading(nf);
}

static void start_talk(struct netfront *nf)
{
	rd_start(nf, nf->backend, talk_keys,
		 sizeof(talk_keys) / sizeof(talk_keys[0]), cont_talk);
}

static int backend_state(struct netfront *nf)
{
	uint64_t v;

	if (!nf->rd.have[0])
		return XenbusStateClosed;	/* the backend is gone */
	if (rd_num(nf, 0, 8, 0, &v) < 0)
		return XenbusStateUnknown;
	return (int)v;
}

static void cont_state(struct netfront *nf)
{
	int bs = backend_state(nf);
	bool restarted;

	nf->state_dirty = false;
	nf->last_bstate = nf->bstate;
	nf->bstate = bs;
	restarted = nf->last_bstate != XenbusStateInitWait &&
		    nf->last_bstate != XenbusStateUnknown;
	switch (bs) {
	case XenbusStateInitWait:
		if (nf->fstate == XenbusStateConnected && restarted) {
			log_info("vif %s: backend started over: reconnecting", nf->devid);
			disconnect(nf);
			nf->fstate = XenbusStateInitialising;
		}
		if (nf->fstate == XenbusStateClosed)
			nf->fstate = XenbusStateInitialising;
		if (nf->fstate == XenbusStateInitialising)
			start_talk(nf);
		return;
	case XenbusStateConnected:
		/* A backend that came back after kill -9 stays Connected:
		 * the rings are as they were; look at them. */
		for (unsigned k = 0; k < nf->nq && nf->fstate == XenbusStateConnected; k++)
			on_port(nf->q[k], nf->q[k]->port_rx);
		return;
	case XenbusStateClosing:
	case XenbusStateClosed:
		if (nf->fstate != XenbusStateClosed) {
			disconnect(nf);
			switch_state(nf, bs == XenbusStateClosing ? XenbusStateClosing :
				     XenbusStateClosed);
			if (bs == XenbusStateClosing)
				switch_state(nf, XenbusStateClosed);
		}
		return;
	default:
		return;
	}
}

static void read_state(struct netfront *nf)
{
	static const char *const k[] = { "state" };

	if (nf->rd.busy) {
		nf->state_dirty = true;
		return;
	}
	rd_start(nf, nf->backend, k, 1, cont_state);
}

static void on_backend_event(void *arg, const char *path, const char *token)
{
	struct netfront *nf = arg;

	nf->state_dirty = true;
	if (!nf->rd.busy)
		read_state(nf);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &end) != 6)
		return -EINVAL;
	for (unsigned i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	/* Multicast addresses are no NIC's. */
	return (mac[0] & 1) ? -EINVAL : 0;
}

static const char *const probe_keys[] = {
	"backend", "backend-id", "mac", "mtu", "state",
};

/* Our own nodes, written by the toolstack. */
static void cont_probe(struct netfront *nf)
{
	uint64_t bid, mtu, st;
	int rc;

	if (!nf->rd.have[0] || !frontend_backend_path_ok(nf->rd.vals[0]) ||
	    !nf->rd.have[1] || rd_num(nf, 1, DOMID_FIRST_RESERVED - 1, 0, &bid) < 0 ||
	    !nf->rd.have[2] || parse_mac(nf->rd.vals[2], nf->mac) < 0 ||
	    rd_num(nf, 3, MTU_MAX_SG, MTU_DEFAULT, &mtu) < 0 || mtu < 68 ||
	    rd_num(nf, 4, 8, XenbusStateInitialising, &st) < 0) {
		log_warn("vif %s: missing or bad backend, backend-id, mac or mtu: waiting",
			 nf->devid);
		return;
	}
	snprintf(nf->backend, sizeof(nf->backend), "%s", nf->rd.vals[0]);
	nf->backend_id = (domid_t)bid;
	nf->mtu = (unsigned)mtu;
	nf->fstate = XenbusStateInitialising;
	if (st != XenbusStateInitialising)
		xs_put(nf, "state", "%d", XenbusStateInitialising);
	rc = xenbus_route_add(nf->env.xb, nf->route, on_backend_event, nf);
	if (rc == 0)
		rc = frontend_watch_state(nf->env.xb, nf->backend, nf->route, XS_WATCH);
	if (rc < 0) {
		log_warn("vif %s: cannot watch %s/state: %s", nf->devid, nf->backend,
			 strerror(-rc));
		xenbus_route_del(nf->env.xb, nf->route);
		return;
	}
	nf->watching = true;
	log_info("vif %s: backend %s (dom %u), mac %s", nf->devid, nf->backend,
		 (unsigned)nf->backend_id, nf->rd.vals[2]);
}

static void start_probe(struct netfront *nf)
{
	rd_start(nf, nf->dev->nodename, probe_keys,
		 sizeof(probe_keys) / sizeof(probe_keys[0]), cont_probe);
}

static int nf_probe(const struct frontend_env *env, struct frontend_dev *dev)
{
	struct netfront *nf;

	if (!env->gnt)
		return -EINVAL;
	if (!env->net || !env->net->own_netns) {
		log_warn("vif %s: the guest has no network namespace of its own: NIC ignored",
			 dev->id);
		return -EOPNOTSUPP;
	}
	nf = calloc(1, sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	nf->env = *env;
	nf->dev = dev;
	nf->o = env->net->opts;
	if (!nf->o.max_queues)
		nf->o.max_queues = 1;
	if (nf->o.max_queues > NETFRONT_MAX_QUEUES)
		nf->o.max_queues = NETFRONT_MAX_QUEUES;
	snprintf(nf->devid, sizeof(nf->devid), "%s", dev->id);
	snprintf(nf->route, sizeof(nf->route), "n%s:", dev->id);
	snprintf(nf->ifname, sizeof(nf->ifname), "eth%s", dev->id);
	for (unsigned k = 0; k < NETFRONT_MAX_QUEUES; k++)
		nf->tapfds[k] = -1;
	nf->fstate = XenbusStateUnknown;
	nf->bstate = nf->last_bstate = XenbusStateUnknown;
	dev->priv = nf;
	start_probe(nf);
	return 0;
}

static void nf_remove(const struct frontend_env *env, struct frontend_dev *dev)
{
	struct netfront *nf = dev->priv;

	if (!nf)
		return;
	nf->removed = true;
	xenbus_cancel(env->xb, nf_on_rd, nf);
	xenbus_cancel(env->xb, nf_on_write, nf);
	if (nf->watching) {
		xenbus_route_del(env->xb, nf->route);
		frontend_watch_state(nf->env.xb, nf->backend, nf->route, XS_UNWATCH);
	}
	disconnect(nf);
	dev->priv = NULL;
	free(nf);
}

static void nf_changed(const struct frontend_env *env, struct frontend_dev *dev,
		       const char *path)
{
	struct netfront *nf = dev->priv;

	if (nf && !nf->watching && !nf->rd.busy && !nf->removed)
		start_probe(nf);
}

const struct frontend_ops netfront_ops = {
	.type = "vif", .probe = nf_probe, .remove = nf_remove,
	.changed = nf_changed,
};

bool netfront_connected(const struct netfront *nf)
{
	return nf->fstate == XenbusStateConnected && !nf->broken;
}

void netfront_get_stats(const struct netfront *nf, struct netfront_stats *st)
{
	*st = nf->st;
}
