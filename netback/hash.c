/* The control ring and the receive hash: Linux's xen-netback hash.c
 * (xenvif_ctrl_action, xenvif_set_hash_*) and xenvif_select_queue.
 * Every parameter is bounded before use (XSA-270): the key length
 * (NB_HASH_KEY_MAX), the mapping size (NB_HASH_MAPPING_MAX), a mapping
 * update's offset + length within the table and its length within a
 * page, and every entry below the number of queues.  A mapping update is
 * copied with a grant copy into a scratch table and takes effect only
 * once every entry passed, so a bad update changes nothing.  Without an
 * algorithm (or a frame the flags do not cover) a frame stays on the
 * queue of the tap queue it came from. */
#include <string.h>

#include "pvd/log.h"
#include "vif_priv.h"

#define NB_HASH_TYPES (XEN_NETIF_CTRL_HASH_TYPE_IPV4 | \
		       XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP | \
		       XEN_NETIF_CTRL_HASH_TYPE_IPV6 | \
		       XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)

uint32_t nb_toeplitz(const uint8_t *key, unsigned keylen,
		     const uint8_t *buf, unsigned buflen)
{
	uint64_t prefix = 0, hash = 0;
	unsigned ki;

	for (ki = 0; ki < 8; ki++)
		prefix = prefix << 8 | (ki < keylen ? key[ki] : 0);
	for (unsigned bi = 0; bi < buflen; bi++, ki++) {
		uint8_t byte = buf[bi];

		for (int bit = 0; bit < 8; bit++, byte <<= 1) {
			if (byte & 0x80)
				hash ^= prefix;
			prefix <<= 1;
		}
		prefix |= ki < keylen ? key[ki] : 0;
	}
	return (uint32_t)(hash >> 32);
}

static uint32_t grant_in(struct nb_vif *v, grant_ref_t ref, void *dst,
			 unsigned len)
{
	struct hv_copy_seg seg = { .ref = ref, .domid = v->cfg.domid,
				   .len = (uint16_t)len,
				   .dir = HV_COPY_FROM_GRANT, .local = dst };

	if (!len)
		return XEN_NETIF_CTRL_STATUS_SUCCESS;
	return hv_grant_copy(v->loop->hv, &seg, 1) < 0 ?
	       XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER :
	       XEN_NETIF_CTRL_STATUS_SUCCESS;
}

static uint32_t set_key(struct nb_vif *v, grant_ref_t ref, uint32_t len)
{
	uint8_t key[NB_HASH_KEY_MAX] = { 0 };
	uint32_t st;

	if (len > NB_HASH_KEY_MAX)
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	st = grant_in(v, ref, key, len);
	if (st == XEN_NETIF_CTRL_STATUS_SUCCESS)
		memcpy(v->hash.key, key, sizeof(key));
	return st;
}

static uint32_t set_mapping(struct nb_vif *v, grant_ref_t ref, uint32_t len,
			    uint32_t off)
{
	uint32_t map[NB_HASH_MAPPING_MAX];
	uint32_t st;

	if ((uint64_t)off + len > v->hash.size ||
	    len > HV_PAGE_SIZE / sizeof(uint32_t))
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	memcpy(map, v->hash.mapping, sizeof(map));
	st = grant_in(v, ref, map + off, len * sizeof(uint32_t));
	if (st != XEN_NETIF_CTRL_STATUS_SUCCESS)
		return st;
	for (uint32_t i = off; i < off + len; i++)
		if (map[i] >= v->nq)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	memcpy(v->hash.mapping, map, sizeof(map));
	return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

static uint32_t set_flags(struct nb_vif *v, uint32_t flags)
{
	if (flags & ~(uint32_t)NB_HASH_TYPES)
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	if (v->hash.alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
		return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
	v->hash.flags = flags;
	return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

static uint32_t ctrl_do(struct nb_vif *v, const struct xen_netif_ctrl_request *r,
			uint32_t *data)
{
	switch (r->type) {
	case XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
		if (r->data[0] != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE &&
		    r->data[0] != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		v->hash.alg = (uint8_t)r->data[0];
		v->hash.flags = 0;
		return XEN_NETIF_CTRL_STATUS_SUCCESS;
	case XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS:
		*data = NB_HASH_TYPES;
		return XEN_NETIF_CTRL_STATUS_SUCCESS;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
		return set_flags(v, r->data[0]);
	case XEN_NETIF_CTRL_TYPE_SET_HASH_KEY:
		return set_key(v, r->data[0], r->data[1]);
	case XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE:
		*data = NB_HASH_MAPPING_MAX;
		return XEN_NETIF_CTRL_STATUS_SUCCESS;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
		if (r->data[0] > NB_HASH_MAPPING_MAX)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		v->hash.size = r->data[0];
		memset(v->hash.mapping, 0, sizeof(v->hash.mapping));
		return XEN_NETIF_CTRL_STATUS_SUCCESS;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING:
		return set_mapping(v, r->data[0], r->data[1], r->data[2]);
	default:
		return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
	}
}

void nb_ctrl_kick(struct nb_vif *v)
{
	int more, notify;

	if (v->fatal || !v->ctrl_addr)
		return;
	do {
		RING_IDX prod = v->ctrl.sring->req_prod;

		xen_rmb();
		if (prod - v->ctrl.req_cons > RING_SIZE(&v->ctrl)) {
			nb_vif_halt(v, "ctrl: request index past the ring");
			return;
		}
		for (unsigned n = 0; v->ctrl.req_cons != prod && n < NB_BUDGET; n++) {
			struct xen_netif_ctrl_request r;
			struct xen_netif_ctrl_response *rsp;
			uint32_t data = 0, st;

			RING_COPY_REQUEST(&v->ctrl, v->ctrl.req_cons, &r);
			v->ctrl.req_cons++;
			st = ctrl_do(v, &r, &data);
			rsp = RING_GET_RESPONSE(&v->ctrl, v->ctrl.rsp_prod_pvt);
			rsp->id = r.id;
			rsp->type = r.type;
			rsp->status = st;
			rsp->data = data;
			v->ctrl.rsp_prod_pvt++;
		}
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&v->ctrl, notify);
		if (notify)
			hv_evtchn_notify(v->loop->hv, v->ctrl_port);
		RING_FINAL_CHECK_FOR_REQUESTS(&v->ctrl, more);
	} while (more);
}

/* The hash input as xenvif_set_skb_hash builds it; 0 bytes: none. */
static unsigned hash_input(const struct nb_vif *v, const uint8_t *f,
			   unsigned len, uint8_t *in)
{
	struct nb_pkt p;
	uint32_t fl = v->hash.flags;
	bool tcp;
	unsigned alen;

	if (nb_pkt_parse(f, len, &p) < 0)
		return 0;
	tcp = p.l4off && !p.frag && p.l4proto == IPPROTO_TCP;
	if (p.ethertype == 0x0800) {
		alen = 8;
		if (!(fl & (tcp ? XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP : 0)))
			tcp = false;
		if (!tcp && !(fl & XEN_NETIF_CTRL_HASH_TYPE_IPV4))
			return 0;
		memcpy(in, f + p.l3off + 12, alen);
	} else if (p.ethertype == 0x86dd) {
		alen = 32;
		if (!(fl & (tcp ? XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP : 0)))
			tcp = false;
		if (!tcp && !(fl & XEN_NETIF_CTRL_HASH_TYPE_IPV6))
			return 0;
		memcpy(in, f + p.l3off + 8, alen);
	} else {
		return 0;
	}
	if (!tcp)
		return alen;
	memcpy(in + alen, f + p.l4off, 4);
	return alen + 4;
}

unsigned nb_hash_queue(const struct nb_vif *v, unsigned tapq,
		       const uint8_t *frame, unsigned len)
{
	uint8_t in[36];
	unsigned n;
	uint32_t h;

	if (v->nq == 1 || v->hash.alg != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
		return tapq % v->nq;
	n = hash_input(v, frame, len, in);
	if (!n)
		return tapq % v->nq;
	h = nb_toeplitz(v->hash.key, NB_HASH_KEY_MAX, in, n);
	if (!v->hash.size)
		return h % v->nq;
	/* Entries were checked against nq when set. */
	return v->hash.mapping[h % v->hash.size] % v->nq;
}
