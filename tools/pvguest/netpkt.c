/* The network frontend's pure functions (netfront.h): how a frame from
 * the tap is cut into tx slots, how a chain of rx responses is checked,
 * and the virtio-net header of a received frame.  No state, no I/O.
 *
 * After Linux's xen-netfront.c: xennet_start_xmit / xennet_make_txreqs
 * (slot 0 carries the frame's total size and NETTXF_csum_blank |
 * NETTXF_data_validated for CHECKSUM_PARTIAL, then the GSO extra, then
 * the rest, each slot at most a page), xennet_get_responses /
 * xennet_get_extras (the rx chain; a backend is not trusted, XSA-391),
 * and xennet_set_skb_gso / checksum_setup (the offsets netif does not
 * carry are parsed from the headers). */
#include <errno.h>
#include <string.h>

#include <linux/if_ether.h>

#include "netfront.h"

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define PAGE 4096u

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static int gso_of_vnet(const struct virtio_net_hdr *vh,
		       const struct netfront_txcaps *caps,
		       struct netfront_txplan *p)
{
	uint8_t t = vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if (t == VIRTIO_NET_HDR_GSO_NONE)
		return 0;
	if ((t == VIRTIO_NET_HDR_GSO_TCPV4 && !caps->gso4) ||
	    (t == VIRTIO_NET_HDR_GSO_TCPV6 && !caps->gso6) ||
	    (t != VIRTIO_NET_HDR_GSO_TCPV4 && t != VIRTIO_NET_HDR_GSO_TCPV6) ||
	    vh->gso_size == 0)
		return -EINVAL;
	p->has_extra = true;
	p->extra.type = XEN_NETIF_EXTRA_TYPE_GSO;
	p->extra.flags = 0;
	p->extra.u.gso.size = vh->gso_size;
	p->extra.u.gso.type = t == VIRTIO_NET_HDR_GSO_TCPV4 ?
			      XEN_NETIF_GSO_TYPE_TCPV4 : XEN_NETIF_GSO_TYPE_TCPV6;
	p->extra.u.gso.pad = 0;
	p->extra.u.gso.features = 0;
	return 0;
}

/* An IPv6 frame whose checksum the backend may not complete: ours. */
static bool is_ipv6(const uint8_t *frame, size_t len)
{
	unsigned proto = be16(frame + 12);

	if (proto == ETH_P_8021Q && len >= ETH_HLEN + 4)
		proto = be16(frame + 16);
	return proto == ETH_P_IPV6;
}

int netfront_tx_plan(const struct virtio_net_hdr *vh, size_t len,
		     const struct netfront_txcaps *caps, bool csum6,
		     const uint8_t *frame, struct netfront_txplan *p)
{
	size_t left = len;
	int rc;

	memset(p, 0, sizeof(*p));
	if (len < ETH_HLEN)
		return -EINVAL;
	if (len > NETFRONT_FRAME_MAX || (!caps->sg && len > PAGE) ||
	    (len + PAGE - 1) / PAGE > NETFRONT_MAX_SLOTS)
		return -EMSGSIZE;
	rc = gso_of_vnet(vh, caps, p);
	if (rc < 0)
		return rc;
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if ((size_t)vh->csum_start + vh->csum_offset + 2 > len)
			return -EINVAL;
		if (is_ipv6(frame, len) && !csum6) {
			if (p->has_extra)
				return -EINVAL;	/* GSO needs the backend's csum */
			p->sw_csum = true;
		} else {
			p->flags |= NETTXF_csum_blank | NETTXF_data_validated;
		}
	} else if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		p->flags |= NETTXF_data_validated;
	}
	if (p->has_extra)
		p->flags |= NETTXF_extra_info;
	while (left) {
		size_t n = left < PAGE ? left : PAGE;

		p->size[p->nslots++] = (uint16_t)n;
		left -= n;
	}
	if (p->nslots > 1)
		p->flags |= NETTXF_more_data;
	return 0;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (; n > 1; p += 2, n -= 2)
		s += be16(p);
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}

int netfront_csum_fill(uint8_t *frame, size_t len, uint16_t start,
		       uint16_t offset)
{
	uint32_t s;
	uint16_t c;

	if ((size_t)start + offset + 2 > len)
		return -EINVAL;
	/* The field holds the pseudo-header's sum: it is summed too. */
	s = sum16(frame + start, len - start, 0);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	c = (uint16_t)~s;
	if (c == 0 && offset == 6)
		c = 0xffff;	/* UDP: 0 means no checksum */
	frame[start + offset] = (uint8_t)(c >> 8);
	frame[start + offset + 1] = (uint8_t)c;
	return 0;
}

/* The IPv6 upper-layer protocol after extension headers; its offset in
 * *off.  -1 when not found. */
static int ipv6_l4(const uint8_t *frame, size_t len, size_t *off)
{
	unsigned nh = frame[*off + 6];
	size_t o = *off + 40;

	for (unsigned i = 0; i < 8; i++) {
		if (nh == IPPROTO_TCP_ || nh == IPPROTO_UDP_) {
			*off = o;
			return (int)nh;
		}
		/* Hop-by-hop, routing, destination options. */
		if ((nh != 0 && nh != 43 && nh != 60) || o + 8 > len)
			return -1;
		nh = frame[o];
		o += ((size_t)frame[o + 1] + 1) * 8;
	}
	return -1;
}

int netfront_csum_offsets(const uint8_t *frame, size_t len, uint16_t *start,
			  uint16_t *offset)
{
	size_t off = ETH_HLEN;
	unsigned proto;
	int l4;

	if (len < ETH_HLEN)
		return -EPROTONOSUPPORT;
	proto = be16(frame + 12);
	if (proto == ETH_P_8021Q) {
		if (len < ETH_HLEN + 4)
			return -EPROTONOSUPPORT;
		proto = be16(frame + 16);
		off += 4;
	}
	if (proto == ETH_P_IP) {
		if (len < off + 20 || (frame[off] >> 4) != 4 ||
		    (frame[off] & 15) < 5 || (be16(frame + off + 6) & 0x3fff))
			return -EPROTONOSUPPORT;	/* or a fragment */
		l4 = frame[off + 9];
		off += (size_t)(frame[off] & 15) * 4;
	} else if (proto == ETH_P_IPV6) {
		if (len < off + 40)
			return -EPROTONOSUPPORT;
		l4 = ipv6_l4(frame, len, &off);
	} else {
		return -EPROTONOSUPPORT;
	}
	if (l4 == IPPROTO_TCP_ && off + 20 <= len)
		*offset = 16;
	else if (l4 == IPPROTO_UDP_ && off + 8 <= len)
		*offset = 6;
	else
		return -EPROTONOSUPPORT;
	if (off > UINT16_MAX)
		return -EPROTONOSUPPORT;
	*start = (uint16_t)off;
	return 0;
}

int netfront_rx_vnet(uint16_t flags, const struct netif_extra_info *gso,
		     const uint8_t *frame, size_t len, struct virtio_net_hdr *vh)
{
	int rc;

	memset(vh, 0, sizeof(*vh));
	if (gso) {
		if (gso->u.gso.size == 0)
			return -EINVAL;
		if (gso->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV4)
			vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		else if (gso->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV6)
			vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
		else
			return -EINVAL;
		vh->gso_size = gso->u.gso.size;
	}
	if (flags & NETRXF_csum_blank) {
		rc = netfront_csum_offsets(frame, len, &vh->csum_start,
					   &vh->csum_offset);
		if (rc < 0)
			return rc;
		vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh->hdr_len = vh->csum_start;
	} else if (flags & NETRXF_data_validated) {
		vh->flags = VIRTIO_NET_HDR_F_DATA_VALID;
	} else if (gso) {
		return -EINVAL;	/* GSO without a checksum to complete */
	}
	return 0;
}

/* The extras after the first response: k is the index of the first.
 * -EPROTO: one of a type out of range (the frame is dropped, as
 * xennet_get_extras does); -EBADMSG: more than 4 (no end to find). */
static int rx_extras(const struct netif_rx_response *rsp, unsigned avail,
		     unsigned *k)
{
	bool bad = false;

	for (unsigned n = 0;; n++) {
		const struct netif_extra_info *x;

		if (n == 4)
			return -EBADMSG;	/* a chain that never ends */
		if (*k >= avail)
			return -EAGAIN;
		x = (const struct netif_extra_info *)&rsp[*k];
		(*k)++;
		if (x->type == XEN_NETIF_EXTRA_TYPE_NONE ||
		    x->type >= XEN_NETIF_EXTRA_TYPE_MAX)
			bad = true;
		if (!(x->flags & XEN_NETIF_EXTRA_FLAG_MORE))
			return bad ? -EPROTO : 0;
	}
}

static bool rx_slot_ok(const struct netif_rx_response *r, bool first)
{
	if (r->status < 0)
		return first && r->status >= NETIF_RSP_DROPPED;
	if (r->status == 0 && !first)
		return false;
	return (unsigned)r->offset + (unsigned)r->status <= PAGE;
}

int netfront_rx_chain(const struct netif_rx_response *rsp, unsigned avail,
		      unsigned *nslots, unsigned *ndata)
{
	unsigned k = 1, nd = 1;
	uint16_t flags;
	bool bad;
	int rc;

	if (!avail)
		return -EAGAIN;
	bad = !rx_slot_ok(&rsp[0], true);
	flags = rsp[0].flags;
	if (flags & NETRXF_extra_info) {
		rc = rx_extras(rsp, avail, &k);
		if (rc == -EPROTO)
			bad = true;
		else if (rc < 0)
			return rc;
	}
	/* The frame's extent is its flags' to tell; a bad slot on the way
	 * drops the frame, not the NIC (xennet_get_responses). */
	while (flags & NETRXF_more_data) {
		if (nd == NETFRONT_MAX_SLOTS)
			return -EBADMSG;
		if (k >= avail)
			return -EAGAIN;
		if (!rx_slot_ok(&rsp[k], false) || (rsp[k].flags & NETRXF_extra_info))
			bad = true;
		flags = rsp[k].flags;
		k++;
		nd++;
	}
	*nslots = k;
	*ndata = nd;
	return bad ? -EPROTO : 0;
}
