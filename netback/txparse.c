/* Transmit chain validation, as Linux's xenvif_tx_build_gops,
 * xenvif_get_extras and xenvif_count_requests decide it (XSA-39,
 * XSA-155, XSA-423/432, XSA-448).  Pure: it works on slots already
 * copied off the ring once (RING_COPY_REQUEST), so every decision is
 * made on memory the guest can no longer change, and the fuzz target
 * calls it without a ring.
 *
 *   fatal (the vif is disabled): an extra-info slot or fragment the guest
 *     never produced; an extra of type 0 or >= XEN_NETIF_EXTRA_TYPE_MAX,
 *     or a chain of more extras than there are types; a GSO extra of
 *     size 0 or of an unknown type; more than NB_TX_FATAL_SLOTS slots
 *     after the first; a slot whose offset + size crosses its page.
 *   dropped (every slot answered NETIF_RSP_ERROR): more than
 *     NB_TX_LEGACY_SLOTS slots after the first; a fragment larger than
 *     what remains of the frame's size; a first slot under 14 bytes.
 * Zero-length fragments are accepted: the copy skips them, so their
 * grants are never touched (XSA-448). */
#include <stddef.h>
#include <string.h>

#include "vif_priv.h"

static void verdict(struct nb_txframe *f, enum nb_tx_verdict v,
		    const char *why)
{
	if (f->verdict == NB_TX_FATAL)
		return;
	if (v == NB_TX_DROP && f->verdict == NB_TX_DROP)
		return;
	f->verdict = v;
	f->why = why;
}

static int extra_check(const struct netif_extra_info *e, struct nb_txframe *f)
{
	if (e->type == XEN_NETIF_EXTRA_TYPE_NONE ||
	    e->type >= XEN_NETIF_EXTRA_TYPE_MAX) {
		verdict(f, NB_TX_FATAL, "tx: bad extra-info type");
		return -1;
	}
	if (e->type != XEN_NETIF_EXTRA_TYPE_GSO)
		return 0;
	if (e->u.gso.size == 0) {
		verdict(f, NB_TX_FATAL, "tx: GSO size 0");
		return -1;
	}
	if (e->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
	    e->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6) {
		verdict(f, NB_TX_FATAL, "tx: bad GSO type");
		return -1;
	}
	f->gso = true;
	f->gso_type = e->u.gso.type;
	f->gso_size = e->u.gso.size;
	return 0;
}

/* xenvif_get_extras.  Returns the index of the first fragment, or -1. */
static int parse_extras(const union nb_txslot *s, unsigned n, unsigned avail,
			struct nb_txframe *f)
{
	unsigned i = 1;
	struct netif_extra_info e;

	if (!(s[0].req.flags & NETTXF_extra_info))
		return 1;
	do {
		if (i >= avail) {
			verdict(f, NB_TX_FATAL, "tx: missing extra info");
			return -1;
		}
		if (i > NB_TX_EXTRA_MAX || i >= n) {
			verdict(f, NB_TX_FATAL, "tx: extra-info chain never ends");
			return -1;
		}
		e = s[i].extra;
		if (extra_check(&e, f) < 0)
			return -1;
		i++;
	} while (e.flags & XEN_NETIF_EXTRA_FLAG_MORE);
	f->nextra = i - 1;
	return (int)i;
}

static void frag_add(struct nb_txframe *f, const netif_tx_request_t *r)
{
	if (f->nfrag < sizeof(f->frag) / sizeof(f->frag[0])) {
		f->frag[f->nfrag].gref = r->gref;
		f->frag[f->nfrag].offset = r->offset;
		f->frag[f->nfrag].size = r->size;
		f->nfrag++;
	}
}

/* xenvif_count_requests: the slots following the first.  *first_size
 * ends as the first slot's own size.  Returns the slot count, or -1. */
static int count_frags(const union nb_txslot *s, unsigned n, unsigned avail,
		       unsigned start, unsigned *first_size,
		       struct nb_txframe *f)
{
	unsigned k = 0;
	bool more = s[0].req.flags & NETTXF_more_data;

	while (more) {
		netif_tx_request_t r;

		if (start + k >= avail) {
			verdict(f, NB_TX_FATAL, "tx: chain past the producer");
			return -1;
		}
		if (k >= NB_TX_FATAL_SLOTS || start + k >= n) {
			verdict(f, NB_TX_FATAL, "tx: too many slots");
			return -1;
		}
		if (k >= NB_TX_LEGACY_SLOTS)
			verdict(f, NB_TX_DROP, "tx: too many slots (dropped)");
		r = s[start + k].req;
		f->id[start + k] = r.id;
		if (f->verdict == NB_TX_OK && r.size > *first_size)
			verdict(f, NB_TX_DROP, "tx: fragment larger than the frame");
		*first_size -= r.size;
		k++;
		if ((unsigned)r.offset + r.size > HV_PAGE_SIZE) {
			verdict(f, NB_TX_FATAL, "tx: slot crosses its page");
			return -1;
		}
		if (f->verdict == NB_TX_OK)
			frag_add(f, &r);
		more = r.flags & NETTXF_more_data;
	}
	return (int)k;
}

static void first_check(const netif_tx_request_t *first, unsigned own,
			struct nb_txframe *f)
{
	if (f->verdict != NB_TX_OK)
		return;
	if (own < NB_ETH_HLEN) {
		verdict(f, NB_TX_DROP, "tx: frame under 14 bytes");
		return;
	}
	if ((unsigned)first->offset + own > HV_PAGE_SIZE)
		verdict(f, NB_TX_FATAL, "tx: slot crosses its page");
}

void nb_tx_parse(const union nb_txslot *slots, unsigned n, unsigned avail,
		 struct nb_txframe *f)
{
	netif_tx_request_t first;
	unsigned own;
	int start, k;

	memset(f, 0, sizeof(*f));
	if (n == 0 || avail == 0) {
		verdict(f, NB_TX_FATAL, "tx: no request");
		return;
	}
	first = slots[0].req;
	f->flags = first.flags;
	f->size = first.size;
	f->id[0] = first.id;
	start = parse_extras(slots, n, avail, f);
	if (start < 0)
		return;
	/* The first data slot; its own size is known after the others. */
	f->nfrag = 1;
	f->frag[0].gref = first.gref;
	f->frag[0].offset = first.offset;
	own = first.size;
	k = count_frags(slots, n, avail, (unsigned)start, &own, f);
	if (k < 0)
		return;
	f->nslots = (unsigned)start + (unsigned)k;
	f->frag[0].size = (uint16_t)own;
	first_check(&first, own, f);
}
