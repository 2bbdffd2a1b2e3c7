/* What a transmitted frame becomes on the tap: the virtio-net header
 * (netback's xenvif_set_skb_gso + checksum_setup: a GSO frame is always
 * CHECKSUM_PARTIAL, csum_blank becomes NEEDS_CSUM with the offsets parsed
 * from the headers, data_validated DATA_VALID), and anti-spoofing (the
 * job of Xen's vif-bridge antispoof rules, done here): with a policy,
 * only the guest's MAC, its listed IPv4/IPv6 sources (ARP sender and
 * neighbour advertisement target included), DHCP from 0.0.0.0 and
 * IPv6 duplicate address detection from :: pass. */
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "vif_priv.h"

int nb_tx_vnet_hdr(const struct nb_txframe *f, const uint8_t *frame,
		   unsigned len, void *hdr)
{
	struct virtio_net_hdr h = { 0 };
	struct nb_pkt p;
	bool partial = f->gso || (f->flags & NETTXF_csum_blank);

	if (partial) {
		if (nb_pkt_parse(frame, len, &p) < 0 || !p.l4off ||
		    (p.l4proto != IPPROTO_TCP && p.l4proto != IPPROTO_UDP))
			return -EINVAL;
		if (f->gso && p.l4proto != IPPROTO_TCP)
			return -EINVAL;
		h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.csum_start = htole16((uint16_t)p.l4off);
		h.csum_offset = htole16(p.l4proto == IPPROTO_TCP ? 16 : 6);
		h.hdr_len = htole16((uint16_t)(p.l4off + p.l4hlen));
	} else if (f->flags & NETTXF_data_validated) {
		h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	}
	if (f->gso) {
		h.gso_type = f->gso_type == XEN_NETIF_GSO_TYPE_TCPV4 ?
			     VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
		h.gso_size = htole16(f->gso_size);
	}
	memcpy(hdr, &h, sizeof(h));
	return 0;
}

static bool ip4_listed(const struct nb_policy *p, const uint8_t *a)
{
	for (unsigned i = 0; i < p->nip4 && i < NB_MAX_IPS; i++)
		if (!memcmp(&p->ip4[i], a, 4))
			return true;
	return false;
}

static bool ip6_listed(const struct nb_policy *p, const uint8_t *a)
{
	for (unsigned i = 0; i < p->nip6 && i < NB_MAX_IPS; i++)
		if (!memcmp(&p->ip6[i], a, 16))
			return true;
	return false;
}

static bool ip4_allowed(const struct nb_policy *pol, const uint8_t *f,
			unsigned len, const struct nb_pkt *p)
{
	static const uint8_t any[4];
	const uint8_t *src = f + p->l3off + 12;

	if (ip4_listed(pol, src))
		return true;
	/* DHCP discover/request: from 0.0.0.0:68 to port 67. */
	return !memcmp(src, any, 4) && p->l4proto == IPPROTO_UDP && p->l4off &&
	       f[p->l4off] == 0 && f[p->l4off + 1] == 68 &&
	       f[p->l4off + 2] == 0 && f[p->l4off + 3] == 67;
}

static bool arp_allowed(const struct nb_policy *pol, const uint8_t *f,
			unsigned len, unsigned off)
{
	static const uint8_t any[4];

	/* Ethernet/IPv4 ARP: sender MAC at 8, sender IP at 14. */
	if (off + 28 > len || f[off + 4] != 6 || f[off + 5] != 4)
		return false;
	if (memcmp(f + off + 8, pol->mac, 6))
		return false;
	return ip4_listed(pol, f + off + 14) || !memcmp(f + off + 14, any, 4);
}

static bool ip6_allowed(const struct nb_policy *pol, const uint8_t *f,
			unsigned len, const struct nb_pkt *p)
{
	static const uint8_t any[16];
	const uint8_t *src = f + p->l3off + 8;
	unsigned o = p->l4off;

	if (!ip6_listed(pol, src) && memcmp(src, any, 16))
		return false;
	/* A neighbour advertisement claims its target address. */
	if (p->l4proto == IPPROTO_ICMPV6 && o && f[o] == 136) {
		if (o + 24 > len)
			return false;
		return ip6_listed(pol, f + o + 8);
	}
	return true;
}

bool nb_tx_allowed(const struct nb_policy *pol, const uint8_t *f,
		   unsigned len)
{
	struct nb_pkt p;

	if (!pol->check)
		return true;
	if (len < NB_ETH_HLEN || memcmp(f + 6, pol->mac, 6))
		return false;
	if (nb_pkt_parse(f, len, &p) < 0)
		return false;
	switch (p.ethertype) {
	case 0x0800:
		return ip4_allowed(pol, f, len, &p);
	case 0x0806:
		return arp_allowed(pol, f, len, p.l3off);
	case 0x86dd:
		return ip6_allowed(pol, f, len, &p);
	default:
		return false;
	}
}
