/* pvd-blkback: Xen's block backend (xen-blkback's job) in user space. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include <event2/event.h>

#include "pvd/daemon.h"
#include "pvd/hv.h"
#include "pvd/iothread.h"
#include "pvd/log.h"
#include "pvd/mapfile.h"
#include "pvd/metrics.h"
#include "pvd/num.h"
#include "pvd/ring_util.h"
#include "pvd/sdnotify.h"
#include "pvd/ctl.h"
#include "loop.h"
#include "metrics.h"
#include "pool.h"
#include "queue.h"
#include "req.h"
#include "vbd.h"
#include "xenbus.h"

/* The engine measured faster on the reference machine (docs/pvd-blkback.md). */
#define DEFAULT_ENGINE "aio"

struct opts {
	struct daemon_opts d;
	const char *ctl;
	const char *engine;
	unsigned spin_ns, depth, batch;
	unsigned io_threads;
	struct blk_xb_opts xb;
};

struct blkback {
	struct opts o;
	struct event_base *base;
	struct blk_pool pool;
	struct blk_xenbus xb;
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
"usage: pvd-blkback [options]\n"
DAEMON_USAGE
"      --engine aio|uring    storage engine (default " DEFAULT_ENGINE "); params\n"
"                            \"null:SIZE\" always use the null engine\n"
"      --domid N             the domain we serve from (default 0)\n"
"      --ctl-socket PATH     control socket (default $PVD_RUNDIR/pvd-blkback.sock;\n"
"                            root and our uid only, 1 MiB of unread answers\n"
"                            per client, closed after 5 s without progress)\n"
"      --spin-ns N           busy-poll before sleeping (default %u)\n"
"      --queue-depth N       storage requests in flight per engine (1024)\n"
"      --batch N             requests taken per ring per round (%u)\n"
"      --io-threads N        I/O threads serving the rings (default: the\n"
"                            CPUs it may run on; 0: all on the main thread)\n"
"      --max-queues N        multi-queue-max-queues (4, at most %u)\n"
"      --max-ring-order N    max-ring-page-order (%u, at most %u)\n"
"      --max-indirect N      feature-max-indirect-segments (%u; 0: off)\n"
"      --max-pgrants N       persistent grants per queue (%u)\n"
"      --no-persistent       do not offer feature-persistent\n"
"      --resize-interval MS  how often sizes are checked (1000; 0: never)\n",
		HV_SPIN_NS_DEFAULT, BLK_BATCH_DEFAULT, BLK_MAX_QUEUES,
		BLK_MAX_RING_ORDER, BLK_MAX_RING_ORDER, BLK_MAX_INDIRECT_SEGS,
		BLK_MAX_PGRANTS_DEFAULT);
}

enum { O_CTL = 256, O_ENGINE, O_DOMID, O_SPIN, O_DEPTH, O_BATCH, O_MAXQ,
       O_ORDER, O_IND, O_PGNT, O_NOPERS, O_RESIZE, O_IOTHR };

static const struct option longopts[] = {
	DAEMON_LONGOPTS,
	{ "ctl-socket", required_argument, NULL, O_CTL },
	{ "engine", required_argument, NULL, O_ENGINE },
	{ "domid", required_argument, NULL, O_DOMID },
	{ "spin-ns", required_argument, NULL, O_SPIN },
	{ "queue-depth", required_argument, NULL, O_DEPTH },
	{ "batch", required_argument, NULL, O_BATCH },
	{ "max-queues", required_argument, NULL, O_MAXQ },
	{ "max-ring-order", required_argument, NULL, O_ORDER },
	{ "max-indirect", required_argument, NULL, O_IND },
	{ "max-pgrants", required_argument, NULL, O_PGNT },
	{ "no-persistent", no_argument, NULL, O_NOPERS },
	{ "resize-interval", required_argument, NULL, O_RESIZE },
	{ "io-threads", required_argument, NULL, O_IOTHR },
	{ NULL, 0, NULL, 0 },
};

static void opts_default(struct opts *o)
{
	daemon_opts_default(&o->d);
	o->engine = DEFAULT_ENGINE;
	o->spin_ns = HV_SPIN_NS_DEFAULT;
	o->depth = 1024;
	o->batch = BLK_BATCH_DEFAULT;
	o->io_threads = pvd_iothread_default(BLK_MAX_IO_THREADS);
	o->xb.max_queues = 4;
	o->xb.max_ring_order = BLK_MAX_RING_ORDER;
	o->xb.max_indirect = BLK_MAX_INDIRECT_SEGS;
	o->xb.max_pgrants = BLK_MAX_PGRANTS_DEFAULT;
	o->xb.persistent = true;
	o->xb.resize_ms = 1000;
}

/* A number option in [lo, hi]: fatal otherwise. */
static unsigned num(const char *opt, unsigned lo, unsigned hi)
{
	return (unsigned)pvd_opt_range(opt, optarg, lo, hi);
}

/* pvd-blkback's own options; 0, or -1 for one it does not know. */
static int own_opt(void *ctx, int ch, const char *name, const char *arg)
{
	struct opts *o = ctx;

	switch (ch) {
	case O_CTL: o->ctl = optarg; break;
	case O_ENGINE: o->engine = optarg; break;
	case O_DOMID:
		o->xb.self = (domid_t)num("domid", 0, DOMID_FIRST_RESERVED - 1);
		break;
	case O_SPIN: o->spin_ns = num("spin-ns", 0, 1000000); break;
	case O_DEPTH: o->depth = num("queue-depth", 16, 65536); break;
	case O_BATCH: o->batch = num("batch", 1, 4096); break;
	case O_MAXQ: o->xb.max_queues = num("max-queues", 1, BLK_MAX_QUEUES); break;
	case O_ORDER:
		o->xb.max_ring_order = num("max-ring-order", 0, BLK_MAX_RING_ORDER);
		break;
	case O_IND:
		o->xb.max_indirect = num("max-indirect", 0, BLK_MAX_INDIRECT_SEGS);
		if (o->xb.max_indirect &&
		    o->xb.max_indirect <= BLKIF_MAX_SEGMENTS_PER_REQUEST)
			fatal("--max-indirect: 0 or more than %d",
			      BLKIF_MAX_SEGMENTS_PER_REQUEST);
		break;
	case O_PGNT: o->xb.max_pgrants = num("max-pgrants", 1, 1u << 16); break;
	case O_NOPERS: o->xb.persistent = false; break;
	case O_IOTHR: o->io_threads = num("io-threads", 0, BLK_MAX_IO_THREADS); break;
	case O_RESIZE: o->xb.resize_ms = num("resize-interval", 0, 3600000); break;
	default: return -1;
	}
	return 0;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	const struct daemon_args a = {
		"pvd-blkback", longopts, "sim|xen", usage, own_opt, o,
	};

	opts_default(o);
	daemon_parse_args(argc, argv, &o->d, &a);
	o->xb.ops = blk_backend_find(o->engine);
	if (!o->xb.ops || o->xb.ops == &blk_backend_null)
		fatal("--engine: want aio or uring, got %s", o->engine);
}

static void on_term(void *arg)
{
	struct blkback *b = arg;

	log_info("terminating");
	event_base_loopbreak(b->base);
}

static void on_hup(void *arg)
{
	if (log_reopen() < 0)
		log_err("cannot reopen the log file");
	else
		log_info("log reopened");
}

static void stats_json(struct evbuffer *out, void *arg)
{
	struct blkback *b = arg;

	blk_xenbus_stats_json(&b->xb, out);
}

/* STATUS=: what systemctl status shows. */
static void status_line(void *arg, char *buf, size_t len)
{
	struct blkback *b = arg;
	struct blk_xb_summary s;

	blk_xenbus_summary(&b->xb, &s);
	if (!s.store_up) {
		snprintf(buf, len, "waiting for the store (%s); serving %u "
			 "device(s) on", s.store_losses ? "lost" : "not there yet",
			 s.devices);
		return;
	}
	snprintf(buf, len, "serving %u device(s) (%u connected) for %u guest(s), "
		 "%" PRIu64 " error answer(s)", s.devices, s.connected, s.guests,
		 s.errors);
}

static void start(struct blkback *b)
{
	struct hv_config hc = { .impl = b->o.d.hv, .domid = b->o.xb.self };
	struct blk_pool_cfg pc = {
		.threads = b->o.io_threads, .hv = &hc, .spin_ns = b->o.spin_ns,
		.depth = b->o.depth, .batch = b->o.batch,
	};
	int rc;

	if (pvd_mkdir_p(pvd_rundir(), 0755) < 0)
		fatal("cannot create %s", pvd_rundir());
	/* A hypervisor handle, a loop and engines per I/O thread. */
	rc = blk_pool_start(&b->pool, b->base, &pc);
	if (rc < 0)
		fatal("cannot start the I/O threads: %s", strerror(-rc));
	if (!b->o.ctl) {
		if (pvd_rundir_path(b->ctl_path, sizeof(b->ctl_path),
				    "pvd-blkback.sock") < 0)
			fatal("PVD_RUNDIR too long");
		b->o.ctl = b->ctl_path;
	}
	if (pvd_ctl_start(&b->ctl, b->base, b->o.ctl, stats_json, b) < 0)
		fatal("cannot open the control socket %s", b->o.ctl);
	/* The queues' journals (journal.h), for the daemon after us. */
	if (pvd_journal_dir(b->journal_dir, sizeof(b->journal_dir),
			    "blkback-journal") == 0)
		b->o.xb.journal_dir = b->journal_dir;
	/* Waits for the store if it is not there yet (xsconn.h). */
	if (blk_xenbus_start(&b->xb, b->base, &b->pool, &b->o.xb) < 0)
		fatal("cannot set up the store connection");
	if (blk_metrics_start(&b->metrics, b->base, b->o.d.metrics, &b->xb) < 0)
		fatal("cannot serve metrics on %s", b->o.d.metrics);
	if (daemon_signals_start(&b->sigs, b->base, on_term, on_hup, b) < 0)
		fatal("cannot install signal handlers");
	log_info("serving %s with the %s engine (hv %s), %u I/O thread(s)",
		 b->xb.root, b->o.xb.ops->name, hv_impl_name(b->pool.t[0].hv),
		 b->o.io_threads);
}

int main(int argc, char **argv)
{
	struct blkback b;

	memset(&b, 0, sizeof(b));
	parse_opts(argc, argv, &b.o);
	log_init("pvd-blkback", b.o.d.level, b.o.d.log_file);
	/* Detach before anything a fork would not carry over (io_uring,
	 * the hypervisor handle); the pidfile says we are serving. */
	daemon_start(b.o.d.foreground, NULL);
	b.base = event_base_new();
	if (!b.base)
		fatal("cannot create the event loop");
	start(&b);
	daemon_start(1, b.o.d.pidfile);
	/* Serving, or waiting for the store (STATUS= says which). */
	if (pvd_notify_start(&b.notify, b.base, status_line, &b) < 0)
		fatal("cannot start the systemd notifier");
	/* READY=1 comes once the store answers (blk_xenbus: on_store_up). */

	event_base_dispatch(b.base);

	pvd_notify_stopping();
	pvd_notify_stop(&b.notify);

	pvd_metrics_stop(b.metrics);
	pvd_ctl_stop(&b.ctl);
	blk_xenbus_stop(&b.xb);
	daemon_signals_stop(&b.sigs);
	blk_pool_stop(&b.pool);
	event_base_free(b.base);
	daemon_remove_pidfile(b.o.d.pidfile);
	log_info("stopped");
	return 0;
}
