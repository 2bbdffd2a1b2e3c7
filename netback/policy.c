/* Parsers for the toolstack's vif nodes (see policy.h).  The rate format
 * is libxl's (libxl__device_nic_add writes "%"PRIu64",%"PRIu32 from
 * xl's "10Mb/s@20ms"), read as Linux's xen_net_read_rate does but with
 * no trailing garbage accepted. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "pvd/num.h"
#include "policy.h"

int nb_policy_parse_rate(const char *s, struct nb_rate *out)
{
	const char *comma;
	uint64_t bytes, usec;

	if (!s || !(comma = strchr(s, ',')))
		return -EINVAL;
	if (pvd_parse_uint_n(s, (size_t)(comma - s), 10, INT64_MAX, &bytes) < 0 ||
	    pvd_parse_uint(comma + 1, UINT32_MAX, &usec) < 0 || usec == 0)
		return -EINVAL;
	out->bytes = bytes;
	out->usec = usec;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int nb_policy_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t m[6];
	unsigned any = 0;

	if (!s || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[i * 3]), lo = hexval(s[i * 3 + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
			return -EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
		any |= m[i];
	}
	/* A guest's NIC needs a unicast address. */
	if (!any || (m[0] & 1))
		return -EINVAL;
	memcpy(mac, m, 6);
	return 0;
}

/* One address of either family into q. */
static int add_ip(struct nb_policy *q, const char *tok)
{
	if (strchr(tok, ':')) {
		if (q->nip6 == NB_MAX_IPS)
			return -E2BIG;
		if (inet_pton(AF_INET6, tok, &q->ip6[q->nip6]) != 1)
			return -EINVAL;
		q->nip6++;
		return 0;
	}
	if (q->nip4 == NB_MAX_IPS)
		return -E2BIG;
	/* inet_pton takes only dotted quads: no "10", no octal. */
	if (inet_pton(AF_INET, tok, &q->ip4[q->nip4]) != 1)
		return -EINVAL;
	q->nip4++;
	return 0;
}

int nb_policy_parse_ips(const char *s, struct nb_policy *p)
{
	struct nb_policy q = *p;
	char tok[INET6_ADDRSTRLEN];
	int rc;

	q.nip4 = q.nip6 = 0;
	while (s && *s) {
		size_t n;

		s += strspn(s, " ");
		n = strcspn(s, " ");
		if (!n)
			break;
		if (n >= sizeof(tok))
			return -EINVAL;
		memcpy(tok, s, n);
		tok[n] = '\0';
		if ((rc = add_ip(&q, tok)) < 0)
			return rc;
		s += n;
	}
	q.check = q.nip4 + q.nip6 > 0;
	*p = q;
	return 0;
}

int nb_policy_parse_mtu(const char *s, bool sg, unsigned *out)
{
	uint64_t v;
	int rc = pvd_parse_range(s, NB_MTU_MIN, sg ? NB_MTU_MAX_SG : 1500, &v);

	if (rc < 0)
		return rc;
	*out = (unsigned)v;
	return 0;
}

bool nb_policy_ifname_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == '/' || c == ':' || c >= 0x7f)
			return false;
	}
	return true;
}

void nb_policy_mac_str(const uint8_t mac[6], char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}
