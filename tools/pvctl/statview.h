/* pvctl: what `pvctl stats` (stats.c) and `pvctl top` (top.c) share:
 * one sample from each backend's control socket and from the store,
 * domain names, the DOMAIN filter and the display order.  pvd-blkback
 * must answer; pvd-netback and pvd-consoled are optional (no socket, or
 * nobody listening on it: no NIC or console section), but one that
 * answers garbage is reported.  The store's statistics (XS_CONTROL
 * "stats") exist only with pvd-stored: elsewhere they are "n/a", never a
 * failure. */
#ifndef PVCTL_STATVIEW_H
#define PVCTL_STATVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "blkstat.h"
#include "constat.h"
#include "ctlsock.h"
#include "nicstat.h"
#include "storestat.h"

struct pvctl;

#define STATVIEW_BLK_SOCKET "pvd-blkback.sock"
#define STATVIEW_NIC_SOCKET "pvd-netback.sock"
#define STATVIEW_CON_SOCKET "pvd-consoled.sock"

/* A domain's name from the store ("-" when it has none or the store
 * cannot be reached: the store is optional here), made printable. */
void statview_dom_name(struct pvctl *p, unsigned domid, char *buf, size_t len);
/* [DOMAIN]: a domid or name the store knows.  0, or -ENOENT (told). */
int statview_domain_filter(struct pvctl *p, const char *arg, bool *filter,
			   unsigned *domid);
/* The devices and vifs of a sample in (domid, devid) order, filtered;
 * malloc'd, NULL when out of memory. */
const struct blkstat_dev **statview_devs(const struct blkstat *s, bool filter,
					 unsigned domid, unsigned *n);
const struct nicstat_vif **statview_vifs(const struct nicstat *s, bool filter,
					 unsigned domid, unsigned *n);
const struct constat_con **statview_cons(const struct constat *s, bool filter,
					 unsigned domid, unsigned *n);
/* One sample, parsed: 0, or -errno with c->err set. */
int statview_sample_blk(struct ctlsock *c, struct blkstat *s);
/* 0 for a sample, 1 when no pvd-netback listens (s left empty), -errno
 * with c->err set for anything else (a bad answer included). */
int statview_sample_nic(struct ctlsock *c, struct nicstat *s);
/* The same for pvd-consoled. */
int statview_sample_con(struct ctlsock *c, struct constat *s);
/* The store's statistics: 0 for a sample, 1 when there are none (not
 * pvd-stored, refused, no store: why says so, s left empty). */
int statview_sample_store(struct pvctl *p, struct storestat *s, char *why,
			  size_t len);
/* The store's line of `stats` and `top`: rc and why from
 * statview_sample_store; rates, what follows the counts. */
void statview_store_line(FILE *f, int rc, const struct storestat *s, const char *why,
			 const char *rates);
/* The xenbus state's name ("Connected"), "?" past the last. */
const char *statview_state_name(unsigned state);

#endif
