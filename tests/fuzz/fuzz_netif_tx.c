/* libFuzzer target: pvd-netback's transmit validation (netback/txparse.c,
 * nb_tx_parse, built from the netback sources: fuzz_netif_tx.srcs) on
 * whatever a hostile guest puts in its tx ring, then the header parsing
 * that follows for an accepted frame (virtio-net header, anti-spoofing).
 * The input is the number of slots the guest produced (2 bytes, up to a
 * ring), the slots (12 bytes each), then the frame's bytes.  Whenever a
 * chain is accepted, everything the copy relies on must hold: at least
 * one slot and no more than produced, at most 19 data slots each within
 * its page, sizes adding up to the frame's, a first slot of a whole
 * Ethernet header. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vif_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ok(const struct nb_txframe *f, unsigned avail)
{
	unsigned sum = 0;

	if (f->nslots < 1 || f->nslots > avail || f->nslots > NB_TX_SCAN_MAX ||
	    f->nfrag < 1 || f->nfrag > 1 + NB_TX_LEGACY_SLOTS ||
	    f->nextra > NB_TX_EXTRA_MAX ||
	    f->nslots != 1 + f->nextra + f->nfrag - 1)
		abort();
	for (unsigned i = 0; i < f->nfrag; i++) {
		if ((unsigned)f->frag[i].offset + f->frag[i].size > 4096)
			abort();
		sum += f->frag[i].size;
	}
	if (sum != f->size || f->frag[0].size < NB_ETH_HLEN)
		abort();
	if (f->gso && (f->gso_size == 0 ||
		       (f->gso_type != XEN_NETIF_GSO_TYPE_TCPV4 &&
			f->gso_type != XEN_NETIF_GSO_TYPE_TCPV6)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static union nb_txslot slots[NB_TX_SCAN_MAX];
	static uint8_t frame[NB_FRAME_MAX];
	uint8_t hdr[NB_VNET_HDR_MAX];
	struct nb_policy pol = { .check = true, .nip4 = 1, .nip6 = 1 };
	struct nb_txframe f;
	unsigned avail, n;
	size_t len;

	if (size < 2)
		return 0;
	avail = (unsigned)(data[0] | data[1] << 8) % 257;
	n = avail < NB_TX_SCAN_MAX ? avail : NB_TX_SCAN_MAX;
	data += 2;
	size -= 2;
	if (size < n * sizeof(slots[0]))
		return 0;
	memcpy(slots, data, n * sizeof(slots[0]));
	data += n * sizeof(slots[0]);
	size -= n * sizeof(slots[0]);
	nb_tx_parse(slots, n, avail, &f);
	if (f.verdict == NB_TX_OK)
		check_ok(&f, avail);
	else if (f.verdict == NB_TX_DROP && (f.nslots < 1 || f.nslots > avail))
		abort();
	else if (f.verdict != NB_TX_DROP && f.verdict != NB_TX_FATAL)
		abort();
	/* The frame's bytes: what the later stages parse. */
	len = size < f.size ? size : f.size;
	if (f.verdict != NB_TX_OK || len > sizeof(frame))
		return 0;
	memcpy(frame, data, len);
	(void)nb_tx_vnet_hdr(&f, frame, (unsigned)len, hdr);
	if (len >= NB_ETH_HLEN)
		memcpy(pol.mac, frame + 6, 6);
	(void)nb_tx_allowed(&pol, frame, (unsigned)len);
	return 0;
}
