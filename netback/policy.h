/* What the toolstack writes in a vif's backend directory, parsed
 * strictly: rate ("BYTES,USEC", libxl_nic.c), ip (space-separated, as
 * xl's ip= is copied), mac, mtu and vifname.  Pure functions: no store,
 * no sockets (tests/unit/test_netback_policy.c). */
#ifndef PVD_NETBACK_POLICY_H
#define PVD_NETBACK_POLICY_H

#include <stdbool.h>

#include "vif.h"

/* Linux's xenvif_change_mtu: ETH_MAX_MTU - VLAN_ETH_HLEN with SG,
 * ETH_DATA_LEN without. */
#define NB_MTU_MIN 68
#define NB_MTU_DEFAULT 1500
#define NB_MTU_MAX_SG (65535 - 18)

/* "BYTES,USEC", both decimal, USEC > 0: 0 and *out, or -EINVAL (*out
 * untouched; the caller treats it as unlimited, as xen_net_read_rate). */
int nb_policy_parse_rate(const char *s, struct nb_rate *out);
/* "aa:bb:cc:dd:ee:ff" (either case): 0, or -EINVAL for anything else, a
 * multicast or an all-zero address. */
int nb_policy_parse_mac(const char *s, uint8_t mac[6]);
/* Space-separated IPv4/IPv6 addresses into p (nip4, nip6, check; mac
 * untouched).  Empty or NULL: no check.  -EINVAL for a bad token, -E2BIG
 * for more than NB_MAX_IPS of a family; p is unchanged on error. */
int nb_policy_parse_ips(const char *s, struct nb_policy *p);
/* The `mtu` node: 68..1500 without SG, ..NB_MTU_MAX_SG with it. */
int nb_policy_parse_mtu(const char *s, bool sg, unsigned *out);
/* A name for the tap: 1..IFNAMSIZ-1 bytes, no '/', ':', space or
 * control character, not "." or "..". */
bool nb_policy_ifname_ok(const char *s);
/* "fe:ff:..." form, buf at least 18 bytes. */
void nb_policy_mac_str(const uint8_t mac[6], char *buf);

#endif
