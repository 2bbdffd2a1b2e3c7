/* pvctl: pvd-netback's statistics as its control socket gives them
 * ("stats": one line of JSON, netback/xenbus.c nb_xenbus_stats: a "vifs"
 * array, each vif with per-queue counters), turned into vifs, their
 * queues and their sum, and the rates between two samples that `pvctl
 * top` shows.  Directions are Linux netback's: tx is what the guest
 * transmitted (guest to host), rx what it received.  No I/O here. */
#ifndef PVCTL_NICSTAT_H
#define PVCTL_NICSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define NICSTAT_QUEUES_MAX 64       /* queues per vif kept (netback has 8) */
#define NICSTAT_VIFS_MAX   65536    /* vifs kept */

/* Cumulative counters of a queue, or of a vif (its queues summed). */
struct nicstat_ctr {
	uint64_t tx_packets, tx_bytes, tx_drops, tx_errors;
	uint64_t rx_packets, rx_bytes, rx_drops, rx_errors;
	uint64_t tx_credit_stalls, rx_stalls, tx_spoof_drops;
	uint64_t notify_sent, notify_suppressed;
};

struct nicstat_queue {
	unsigned index;
	uint64_t tx_ring_used, rx_ring_used, rx_queue_len;  /* now */
	bool has_thread;                /* a threaded pvd-netback said */
	unsigned thread;                /* the I/O thread serving it */
	uint64_t thread_cpu_ns;         /* that thread's CPU time */
	struct nicstat_ctr c;
};

struct nicstat_vif {
	unsigned domid, devid;
	unsigned state;                 /* the backend's xenbus state */
	const char *name, *mac, *bridge;        /* into doc; never NULL */
	unsigned mtu;
	bool carrier;
	uint64_t rate_bytes, rate_usec; /* rate=: 0 bytes is no limit */
	struct nicstat_ctr c;           /* its queues summed */
	struct nicstat_queue *queues;
	unsigned nqueues;
	const json_t *obj;              /* the daemon's object, in doc */
};

struct nicstat {
	struct nicstat_vif *vifs;
	unsigned nvifs;
	json_t *doc;                    /* owned (a reference) */
};

/* Parses one answer to "stats".  An {"error":...} answer or a document
 * without a vifs array is -EINVAL with err set, as is a vif without a
 * valid domid and devid; other missing members read as 0 or "". */
int nicstat_parse(const char *text, size_t len, struct nicstat *s, char *err,
		  size_t errlen);
/* Idempotent; leaves s zeroed. */
void nicstat_free(struct nicstat *s);

const struct nicstat_vif *nicstat_find_vif(const struct nicstat *s,
					   unsigned domid, unsigned devid);

/* What happened between two samples, secs apart. */
struct nicstat_rate {
	double tx_pps, rx_pps;          /* packets per second */
	double tx_mbps, rx_mbps;        /* 10^6 bytes per second */
	uint64_t drops, errors;         /* both ways, in the interval */
};

/* prev NULL, or a counter that went back (a vif connected anew): the
 * interval starts at zero. */
void nicstat_rate(const struct nicstat_ctr *prev, const struct nicstat_ctr *cur,
		  double secs, struct nicstat_rate *r);

/* rate= as xl writes it: "10Mb/s@20ms" style (bits per second), "-"
 * when unlimited. */
void nicstat_fmt_limit(uint64_t bytes, uint64_t usec, char *buf, size_t len);

#endif
