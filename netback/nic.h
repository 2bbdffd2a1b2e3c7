/* A guest NIC over pvd-netback's I/O threads (nic.c): what the control
 * plane (xenbus.c, metrics.c) holds for a connected vif.
 *
 * A NIC with several queues and no control ring is spread as Linux's
 * xen-netback gives each queue a kernel thread of its own: queue 0 on the
 * least-loaded I/O thread, each other queue on the least loaded then
 * (nb_pool_place), and one struct nb_vif per thread serving the queues
 * placed there (nb_vif_cfg.mask).  A queue is whole on its thread: its tx
 * and rx rings, event channels, tap queue fd, frame queue, credit and
 * journal.  Without a control ring a frame read from tap queue i goes to
 * guest queue i, so nothing crosses threads.  A NIC with a control ring
 * (its Toeplitz hash may steer a frame to any queue) or one queue is one
 * vif on one thread, as before.
 *
 * What is NIC-wide is combined here, on the main thread, from the parts'
 * reports: the first part's guest error is the NIC's (the caller then
 * stops every part: the other parts serve on until that call, a main
 * loop turn later, where Linux's xenvif_fatal_tx_err disables all queues
 * at once); the carrier is off while any part has a stalled queue (Linux:
 * vif->stalled_queues), but each part drops only its own queues' frames.
 *
 * Ownership: struct nb_nic is the main thread's; each part is its
 * thread's, reached through the nb_vif_* calls. */
#ifndef PVD_NETBACK_NIC_H
#define PVD_NETBACK_NIC_H

#include <stdbool.h>

#include "vif.h"

struct nb_nic;
/* events: enum nb_vif_event, on the main thread. */
typedef void nb_nic_cb(struct nb_nic *n, int event, const char *why,
		       void *arg);

/* 0 or -errno (nb_vif_start's); nothing is left started on failure. */
int nb_nic_start(struct nb_pool *p, const struct nb_vif_cfg *cfg,
		 nb_nic_cb *cb, void *arg, struct nb_nic **out);
/* Stops every part and frees; the tap fds stay the caller's.  NULL is a
 * no-op.  Never from inside the callback. */
void nb_nic_stop(struct nb_nic *n);
void nb_nic_set_rate(struct nb_nic *n, const struct nb_rate *rate);
unsigned nb_nic_nqueues(const struct nb_nic *n);
/* How many threads serve it. */
unsigned nb_nic_threads(const struct nb_nic *n);
/* Queue q's counters, from the thread serving it. */
void nb_nic_qstats(const struct nb_nic *n, unsigned q, struct nb_qstats *out);
bool nb_nic_carrier(const struct nb_nic *n);

#endif
