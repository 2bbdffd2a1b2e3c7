/* pvd-netback: Xen's network backend (xen-netback plus the vif-bridge
 * hotplug script) in user space: xenbus.c follows the store, tap.c makes
 * the taps and bridge ports, the data plane (vif.h) serves the rings. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "pvd/daemon.h"
#include "pvd/hv.h"
#include "pvd/iothread.h"
#include "pvd/log.h"
#include "pvd/mapfile.h"
#include "pvd/metrics.h"
#include "pvd/num.h"
#include "pvd/sdnotify.h"
#include "pvd/ctl.h"
#include "metrics.h"
#include "vif.h"
#include "xenbus.h"

#define NB_MAX_IO_THREADS 64

struct opts {
	struct daemon_opts d;
	const char *ctl;
	struct nb_xb_opts xb;
	unsigned io_threads;
	enum nb_tapio_mode tapio;
};

struct netback {
	struct opts o;
	struct event_base *base;
	struct hv *hv;
	struct nb_pool *pool;
	struct nb_xenbus xb;
	struct pvd_ctl ctl;
	struct daemon_signals sigs;
	struct pvd_notify notify;
	struct pvd_metrics *metrics;
	char ctl_path[256];
	char journal_dir[256];
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: pvd-netback [options]\n"
DAEMON_USAGE
"      --domid N             the domain we serve from (default 0)\n"
"      --ctl-socket PATH     control socket (default $PVD_RUNDIR/pvd-netback.sock;\n"
"                            root and our uid only, 1 MiB of unread answers\n"
"                            per client, closed after 5 s without progress)\n"
"      --max-queues N        multi-queue-max-queues (default: online CPUs,\n"
"                            at most %u)\n"
"      --create-bridges      make a missing bridge= instead of refusing the vif\n"
"      --rx-stall MS         carrier off for a guest posting no receive\n"
"                            buffers this long (default 60000, Linux's)\n"
"      --io-threads N        I/O threads serving the vifs' rings (default:\n"
"                            the CPUs it may run on, at most %u; 0: the main\n"
"                            thread)\n"
"      --tap-io MODE         how frames reach the taps: uring (a transmit\n"
"                            batch in one io_uring call), writev (one system\n"
"                            call a frame) or auto (default: uring where the\n"
"                            kernel allows it)\n",
		NB_MAX_QUEUES, NB_MAX_IO_THREADS);
}

enum { O_CTL = 256, O_DOMID, O_MAXQ, O_MKBR, O_STALL, O_IOTHR, O_TAPIO };

static const struct option longopts[] = {
	DAEMON_LONGOPTS,
	{ "ctl-socket", required_argument, NULL, O_CTL },
	{ "domid", required_argument, NULL, O_DOMID },
	{ "max-queues", required_argument, NULL, O_MAXQ },
	{ "create-bridges", no_argument, NULL, O_MKBR },
	{ "rx-stall", required_argument, NULL, O_STALL },
	{ "io-threads", required_argument, NULL, O_IOTHR },
	{ "tap-io", required_argument, NULL, O_TAPIO },
	{ NULL, 0, NULL, 0 },
};

/* Linux's xenvif_max_queues: min(MAX_QUEUES_DEFAULT, online CPUs). */
static unsigned default_queues(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > NB_MAX_QUEUES ? NB_MAX_QUEUES : (unsigned)n;
}

static int own_opt(void *ctx, int ch, const char *name, const char *arg)
{
	struct opts *o = ctx;

	switch (ch) {
	case O_CTL: o->ctl = arg; break;
	case O_DOMID:
		o->xb.self = (domid_t)pvd_opt_range(name, arg, 0,
						    DOMID_FIRST_RESERVED - 1);
		break;
	case O_MAXQ:
		o->xb.max_queues = (unsigned)pvd_opt_range(name, arg, 1,
							   NB_MAX_QUEUES);
		break;
	case O_MKBR: o->xb.create_bridges = true; break;
	case O_STALL:
		o->xb.rx_stall_ms = (unsigned)pvd_opt_range(name, arg, 1, 3600000);
		break;
	case O_IOTHR:
		o->io_threads = (unsigned)pvd_opt_range(name, arg, 0,
							NB_MAX_IO_THREADS);
		break;
	case O_TAPIO:
		if (nb_tapio_mode_parse(arg, &o->tapio) < 0)
			fatal("--%s: %s: not auto, uring or writev", name, arg);
		break;
	default: return -1;
	}
	return 0;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	const struct daemon_args a = {
		"pvd-netback", longopts, "sim|xen", usage, own_opt, o,
	};

	daemon_opts_default(&o->d);
	o->xb.max_queues = default_queues();
	o->io_threads = pvd_iothread_default(NB_MAX_IO_THREADS);
	daemon_parse_args(argc, argv, &o->d, &a);
}

static void on_term(void *arg)
{
	struct netback *n = arg;

	log_info("terminating");
	event_base_loopbreak(n->base);
}

static void on_hup(void *arg)
{
	if (log_reopen() < 0)
		log_err("cannot reopen the log file");
	else
		log_info("log reopened");
}

static void stats(struct evbuffer *out, void *arg)
{
	struct netback *n = arg;

	pvd_ctl_put_json(out, nb_xenbus_stats(&n->xb));
}

static void start_ctl(struct netback *n)
{
	if (!n->o.ctl) {
		if (pvd_rundir_path(n->ctl_path, sizeof(n->ctl_path),
				    "pvd-netback.sock") < 0)
			fatal("PVD_RUNDIR too long");
		n->o.ctl = n->ctl_path;
	}
	if (pvd_ctl_start(&n->ctl, n->base, n->o.ctl, stats, n) < 0)
		fatal("cannot open the control socket %s", n->o.ctl);
}

/* STATUS=: what systemctl status shows. */
static void status_line(void *arg, char *buf, size_t len)
{
	struct netback *n = arg;
	struct nb_xb_summary s;

	nb_xenbus_summary(&n->xb, &s);
	if (!s.store_up) {
		snprintf(buf, len, "waiting for the store (%s); serving %u "
			 "vif(s) on", s.store_losses ? "lost" : "not there yet",
			 s.vifs);
		return;
	}
	snprintf(buf, len, "serving %u vif(s) (%u connected) for %u guest(s), "
		 "%" PRIu64 " store loss(es)", s.vifs, s.connected, s.guests,
		 s.store_losses);
}

static void start(struct netback *n)
{
	struct hv_config hc = { .impl = n->o.d.hv, .domid = n->o.xb.self };
	int rc;

	if (pvd_mkdir_p(pvd_rundir(), 0755) < 0)
		fatal("cannot create %s", pvd_rundir());
	rc = hv_open(&n->hv, &hc);
	if (rc < 0)
		fatal("cannot open the hypervisor layer: %s", strerror(-rc));
	rc = nb_pool_start(n->base, n->hv, &hc, n->o.io_threads, n->o.tapio,
			   &n->pool);
	if (rc < 0)
		fatal("cannot start the I/O threads: %s", strerror(-rc));
	start_ctl(n);
	/* The queues' journals (journal.h), for the daemon after us. */
	if (pvd_journal_dir(n->journal_dir, sizeof(n->journal_dir),
			    "netback-journal") == 0)
		n->o.xb.journal_dir = n->journal_dir;
	/* Waits for the store if it is not there yet (xsconn.h). */
	if (nb_xenbus_start(&n->xb, n->base, n->pool, n->hv, &n->o.xb) < 0)
		fatal("cannot set up the store connection");
	if (nb_metrics_start(&n->metrics, n->base, n->o.d.metrics, &n->xb) < 0)
		fatal("cannot serve metrics on %s", n->o.d.metrics);
	if (daemon_signals_start(&n->sigs, n->base, on_term, on_hup, n) < 0)
		fatal("cannot install signal handlers");
	log_info("serving %s, up to %u queues per vif, %u I/O thread(s), "
		 "tap writes through %s (hv %s)", n->xb.root,
		 n->o.xb.max_queues, n->o.io_threads,
		 nb_pool_tapio_name(n->pool), hv_impl_name(n->hv));
}

int main(int argc, char **argv)
{
	struct netback n;

	memset(&n, 0, sizeof(n));
	parse_opts(argc, argv, &n.o);
	log_init("pvd-netback", n.o.d.level, n.o.d.log_file);
	/* Detach before the hypervisor handle and sockets exist. */
	daemon_start(n.o.d.foreground, NULL);
	n.base = event_base_new();
	if (!n.base)
		fatal("cannot create the event loop");
	start(&n);
	daemon_start(1, n.o.d.pidfile);
	/* Serving, or waiting for the store (STATUS= says which); READY=1
	 * comes once the store answers (xenbus.c: on_store_up). */
	if (pvd_notify_start(&n.notify, n.base, status_line, &n) < 0)
		fatal("cannot start the systemd notifier");

	event_base_dispatch(n.base);

	pvd_notify_stopping();
	pvd_notify_stop(&n.notify);

	pvd_metrics_stop(n.metrics);
	pvd_ctl_stop(&n.ctl);
	nb_xenbus_stop(&n.xb);
	daemon_signals_stop(&n.sigs);
	nb_pool_stop(n.pool);
	hv_close(n.hv);
	event_base_free(n.base);
	daemon_remove_pidfile(n.o.d.pidfile);
	log_info("stopped");
	return 0;
}
