/* pvd-consoled's control socket answers (ctl.c): the "stats" document
 * served through the daemons' common control socket (include/pvd/ctl.h).
 * {"consoles":[{"domid":N,"console":"primary"|"<devid>","tty":"/dev/pts/N",
 * "out_bytes":N,"in_bytes":N,"dropped":N,"buffered":N,"rate_stalls":N,
 * "log_bytes":N,"state":"connected"|"rate-limited"|"broken",
 * "input_blocked":bool},...]}: out is what the guest wrote (its out
 * ring), in what it was sent (its in ring), as the Prometheus
 * pvd_console_bytes_total directions. */
#ifndef CONSOLED_CTL_H
#define CONSOLED_CTL_H

struct evbuffer;
struct json_t;
struct tracker;

/* A new reference; NULL when out of memory. */
struct json_t *consoled_ctl_stats_json(const struct tracker *tr);
/* pvd_ctl_stats_fn: tracker is the struct tracker. */
void consoled_ctl_stats(struct evbuffer *out, void *tracker);

#endif
