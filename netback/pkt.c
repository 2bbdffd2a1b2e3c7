/* Header parsing for the checksum offsets netif does not carry (Linux's
 * skb_checksum_setup_ipv4/_ipv6, which netback's checksum_setup calls),
 * for anti-spoofing and for the receive hash.  Every read is bounded by
 * the frame's length: the frame came from the guest. */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>

#include "vif_priv.h"

#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86dd
#define ETH_P_8021Q_ 0x8100
/* IPv6 extension headers skipped (as skb_checksum_setup_ipv6), bounded. */
#define NB_IPV6_EXT_MAX 8

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int l4_parse(const uint8_t *f, unsigned len, struct nb_pkt *p)
{
	if (p->l4proto == IPPROTO_TCP) {
		if (p->l4off + 20 > len)
			return -EINVAL;
		p->l4hlen = (unsigned)(f[p->l4off + 12] >> 4) * 4;
		if (p->l4hlen < 20 || p->l4off + p->l4hlen > len)
			return -EINVAL;
	} else if (p->l4proto == IPPROTO_UDP) {
		if (p->l4off + 8 > len)
			return -EINVAL;
		p->l4hlen = 8;
	} else if (p->l4off + 4 > len) {
		return -EINVAL;
	}
	return 0;
}

static int ipv4_parse(const uint8_t *f, unsigned len, struct nb_pkt *p)
{
	const uint8_t *ip = f + p->l3off;
	unsigned ihl;

	if (p->l3off + 20 > len || (ip[0] >> 4) != 4)
		return -EINVAL;
	ihl = (unsigned)(ip[0] & 0xf) * 4;
	if (ihl < 20 || p->l3off + ihl > len)
		return -EINVAL;
	p->l4proto = ip[9];
	/* More fragments, or an offset: no transport header here. */
	if (be16(ip + 6) & 0x3fff) {
		p->frag = true;
		return 0;
	}
	p->l4off = p->l3off + ihl;
	return l4_parse(f, len, p);
}

static int ipv6_parse(const uint8_t *f, unsigned len, struct nb_pkt *p)
{
	unsigned off = p->l3off + 40;
	uint8_t nh;

	if (off > len || (f[p->l3off] >> 4) != 6)
		return -EINVAL;
	nh = f[p->l3off + 6];
	for (int i = 0; i < NB_IPV6_EXT_MAX; i++) {
		if (nh == IPPROTO_FRAGMENT) {
			p->frag = true;
			p->l4proto = nh;
			return 0;
		}
		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING &&
		    nh != IPPROTO_DSTOPTS)
			break;
		if (off + 8 > len)
			return -EINVAL;
		nh = f[off];
		off += ((unsigned)f[off + 1] + 1) * 8;
	}
	p->l4proto = nh;
	p->l4off = off;
	if (off > len)
		return -EINVAL;
	return l4_parse(f, len, p);
}

int nb_pkt_parse(const uint8_t *frame, unsigned len, struct nb_pkt *p)
{
	*p = (struct nb_pkt){ 0 };
	if (len < NB_ETH_HLEN)
		return -EINVAL;
	p->ethertype = be16(frame + 12);
	p->l3off = NB_ETH_HLEN;
	if (p->ethertype == ETH_P_8021Q_) {
		if (len < NB_ETH_HLEN + 4)
			return -EINVAL;
		p->ethertype = be16(frame + 16);
		p->l3off += 4;
	}
	if (p->ethertype == ETH_P_IP_)
		return ipv4_parse(frame, len, p);
	if (p->ethertype == ETH_P_IPV6_)
		return ipv6_parse(frame, len, p);
	return 0;
}
