/*
 * bench_stored: load generator for pvd-stored (or any xenstored) over its
 * unix socket, speaking struct xsd_sockmsg directly.
 *
 *   bench_stored --socket PATH [--mode] read|write|txn|watch
 *                [--clients N] [--threads T] [--seconds S | --ops N]
 *                [--pipeline D] [--value-size B] [--prefix PATH]
 *                [--libxs | --redis]
 *
 * Prints one line of key=value pairs, e.g.
 *   read clients=16 threads=1 pipeline=1 api=raw ops=... seconds=...
 *        ops_per_sec=... errors=0 retries=0 stray=0
 * and exits 0 only if the run completed with no error reply, no protocol
 * violation and at least one operation.
 *
 * Design.  The raw client is one poll() loop per thread multiplexing its
 * connections (--threads, default 1), like redis-benchmark: on a 2-vCPU
 * machine 16 client threads would measure the scheduler rather than the
 * daemon.  Each connection keeps --pipeline D requests outstanding as D
 * independent "slots" (a sliding window, not redis-benchmark's lock-step
 * batches); each slot is a small state machine and has its own key, so
 * pipelined transactions do not conflict with each other.  A slot's req_id
 * is (generation << 16 | slot): replies may come in any order and a reply
 * that names no outstanding request is a protocol violation.  Every reply
 * is checked (type, payload); a mismatch counts as an error.
 *
 * With --seconds, operations completing after the deadline are not
 * counted (outstanding ones are drained, bounded by --timeout); with --ops
 * the total is split over the clients and the clock stops when the last
 * one finishes.  A txn operation is one committed transaction (START, READ,
 * WRITE, END commit: four round trips); an EAGAIN commit is retried and
 * counted in retries=, not in ops=.
 *
 * watch: one writer connection writes <prefix>/watch/eK while N watcher
 * connections watch <prefix>/watch; one write at a time, the latency of a
 * sample is from just before the write is sent to the read() that returned
 * the matching event, per watcher.  Reports median/p99 in microseconds and
 * the median round trip of the write itself as an in-run reference.
 *
 * --libxs uses libxenstore's blocking calls instead (one thread per
 * client, pipeline 1), to compare with what real tools see; in watch mode
 * the event is only looked at after xs_write() returned, so its latency is
 * at least the write's round trip.
 *
 * --redis drives redis-server (the peer in `make bench`) with the same
 * client, so that a ratio compares the servers and not two load
 * generators: redis-benchmark at 16 connections saturates its own CPU
 * before redis-server does on a 2-vCPU machine.  The same operations in
 * RESP: GET, SET, and MULTI GET SET EXEC for txn (four round trips, the
 * values arrive with EXEC); watch uses keyspace notifications (CONFIG SET
 * notify-keyspace-events K$, PSUBSCRIBE) so an event follows a SET as a
 * xenstore watch event follows a WRITE.  Redis answers in order, so a
 * per-connection fifo maps replies to slots.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>
#include <xenstore.h>

#define HDR_LEN        ((uint32_t)sizeof(struct xsd_sockmsg))
#define MSG_MAX        (HDR_LEN + XENSTORE_PAYLOAD_MAX)
#define INBUF_CAP      (64u * 1024u)
#define PIPELINE_MAX   1024u
#define CLIENTS_MAX    4096u
#define PATH_CAP       256u
#define VALUE_MAX      2048u
#define WATCH_KEYS     16u
#define TXN_RETRIES_MAX 1000u

enum mode { MODE_READ, MODE_WRITE, MODE_TXN, MODE_WATCH };

static const char *const mode_names[] = {
	[MODE_READ] = "read", [MODE_WRITE] = "write",
	[MODE_TXN] = "txn", [MODE_WATCH] = "watch",
};

struct bench_opts {
	const char *socket;
	const char *prefix;
	enum mode mode;
	unsigned clients, threads, pipeline, value_size;
	double seconds, timeout;
	uint64_t ops;		/* 0: run for seconds */
	bool libxs;
	bool redis;		/* the peer: same load in RESP to redis */
};

/* A slot's state: what its outstanding request is. */
enum slot_state {
	ST_IDLE,		/* no request outstanding */
	ST_OP,			/* read or write mode: the one request */
	ST_TX_START, ST_TX_READ, ST_TX_WRITE, ST_TX_COMMIT, ST_TX_ABORT,
};

struct slot {
	enum slot_state state;
	uint16_t gen;
	uint32_t tx_id;
	unsigned retries;	/* of the current transaction */
	uint32_t plen;		/* path length including the NUL */
	char path[PATH_CAP];
};

struct conn {
	int fd;
	unsigned client;
	uint8_t in[INBUF_CAP];
	size_t in_off, in_len;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	struct slot *slots;
	uint16_t *fifo;		/* redis: slots in the order sent */
	unsigned fhead, fcount;
	unsigned outstanding;
	uint64_t quota, started;	/* --ops: operations this conn may start */
	uint64_t wseq;
	bool done;
};

struct counters {
	uint64_t ops, errors, retries, stray;
};

struct bench;

struct worker {
	struct bench *b;
	pthread_t tid;
	unsigned first, nconns;
	struct conn **conns;
	struct counters cnt;
	uint64_t t_end;
	bool failed;
	char first_error[128];
};

struct bench {
	struct bench_opts o;
	char value[VALUE_MAX];
	atomic_bool stop;	/* --seconds deadline passed */
	atomic_bool abort;	/* some worker failed: everyone leaves */
	/* Start line: workers connect and set up, then wait for go. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned ready;
	bool go;
	uint64_t t_start;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void worker_fail(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void worker_fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->failed) {
		va_start(ap, fmt);
		vsnprintf(w->first_error, sizeof(w->first_error), fmt, ap);
		va_end(ap);
		fprintf(stderr, "bench_stored: %s\n", w->first_error);
	}
	w->failed = true;
	atomic_store(&w->b->abort, true);
}

/* Counts an error reply; the first one is kept for the report. */
static void worker_error(struct worker *w, const char *what, const uint8_t *p,
			 uint32_t len)
{
	w->cnt.errors++;
	if (w->first_error[0] == '\0')
		snprintf(w->first_error, sizeof(w->first_error), "%s: %.*s",
			 what, (int)(len && p[len - 1] == '\0' ? len - 1 : len),
			 (const char *)p);
}

/* Reports this worker ready and waits for the main thread's go (or an
 * abort). */
static void worker_wait_start(struct worker *w)
{
	struct bench *b = w->b;

	pthread_mutex_lock(&b->lock);
	b->ready++;
	pthread_cond_broadcast(&b->cond);
	while (!b->go)
		pthread_cond_wait(&b->cond, &b->lock);
	pthread_mutex_unlock(&b->lock);
}

/* ---- raw connection plumbing ------------------------------------------ */

static int conn_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A unix stream connect does not return EINPROGRESS, so a
	 * non-blocking socket is fine here. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static struct conn *conn_new(const struct bench *b, unsigned client)
{
	unsigned depth = b->o.pipeline;
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = -1;
	c->client = client;
	c->out_cap = (size_t)depth * (HDR_LEN + PATH_CAP + VALUE_MAX + 2) + MSG_MAX;
	c->out = malloc(c->out_cap);
	c->slots = calloc(depth, sizeof(*c->slots));
	c->fifo = calloc(depth, sizeof(*c->fifo));
	if (!c->out || !c->slots || !c->fifo) {
		free(c->out);
		free(c->slots);
		free(c->fifo);
		free(c);
		return NULL;
	}
	for (unsigned i = 0; i < depth; i++) {
		int n = snprintf(c->slots[i].path, PATH_CAP, "%s/c%u/s%u",
				 b->o.prefix, client, i);

		c->slots[i].plen = (uint32_t)n + 1;
	}
	return c;
}

static void conn_free(struct conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	free(c->slots);
	free(c->fifo);
	free(c);
}

/* Makes room for need more bytes of output: 0 or -ENOBUFS. */
static int conn_reserve(struct conn *c, size_t need)
{
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + need > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_len + need > c->out_cap)
			return -ENOBUFS;
	}
	return 0;
}

/* Appends one message to the output buffer; payload is up to three
 * pieces (path with its NUL, value, ...). */
static int conn_queue(struct conn *c, uint32_t type, uint32_t req_id,
		      uint32_t tx_id, const void *p1, uint32_t l1,
		      const void *p2, uint32_t l2)
{
	struct xsd_sockmsg h = {
		.type = type, .req_id = req_id, .tx_id = tx_id, .len = l1 + l2,
	};

	if (h.len > XENSTORE_PAYLOAD_MAX)
		return -E2BIG;
	if (conn_reserve(c, HDR_LEN + h.len) < 0)
		return -ENOBUFS;
	memcpy(c->out + c->out_len, &h, HDR_LEN);
	c->out_len += HDR_LEN;
	if (l1)
		memcpy(c->out + c->out_len, p1, l1);
	c->out_len += l1;
	if (l2)
		memcpy(c->out + c->out_len, p2, l2);
	c->out_len += l2;
	return 0;
}

/* Writes what it can; 0 (maybe with output left) or -errno. */
static int conn_flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

/* One read(); 0, -EAGAIN, or -errno (-EPIPE for end of file). */
static int conn_fill(struct conn *c)
{
	ssize_t n;

	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (c->in_len == INBUF_CAP)
		return 0;
	do
		n = read(c->fd, c->in + c->in_len, INBUF_CAP - c->in_len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	c->in_len += (size_t)n;
	return 0;
}

/* Takes the next complete message out of the input buffer: 1 if one was
 * there, 0 if not yet, -EPROTO if its header is impossible. */
static int conn_next(struct conn *c, struct xsd_sockmsg *h, const uint8_t **p)
{
	size_t avail = c->in_len - c->in_off;

	if (avail < HDR_LEN)
		return 0;
	memcpy(h, c->in + c->in_off, HDR_LEN);
	if (h->len > XENSTORE_PAYLOAD_MAX)
		return -EPROTO;
	if (avail < HDR_LEN + h->len)
		return 0;
	*p = c->in + c->in_off + HDR_LEN;
	c->in_off += HDR_LEN + h->len;
	return 1;
}

static int poll_one(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	uint64_t now = now_ns();
	int r;

	if (now >= deadline)
		return -ETIMEDOUT;
	r = poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return 0;
}

/* Synchronous request for set-up: sends, then waits (bounded) for the
 * reply with this req_id, skipping watch events.  On success the reply
 * payload is copied to rbuf (NUL-terminated) and its type returned. */
static int conn_call(struct conn *c, uint32_t type, uint32_t tx_id,
		     const void *p1, uint32_t l1, const void *p2, uint32_t l2,
		     char *rbuf, size_t rcap, double timeout)
{
	uint64_t deadline = now_ns() + (uint64_t)(timeout * 1e9);
	uint32_t req_id = 0x7fff0000u;	/* no slot uses this range */
	struct xsd_sockmsg h;
	const uint8_t *p;
	int r;

	r = conn_queue(c, type, req_id, tx_id, p1, l1, p2, l2);
	if (r < 0)
		return r;
	for (;;) {
		r = conn_flush(c);
		if (r < 0)
			return r;
		if (c->out_off == c->out_len)
			break;
		r = poll_one(c->fd, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
	for (;;) {
		while ((r = conn_next(c, &h, &p)) == 1) {
			if (h.type == XS_WATCH_EVENT || h.req_id != req_id)
				continue;
			if (rbuf && rcap) {
				size_t n = h.len < rcap - 1 ? h.len : rcap - 1;

				memcpy(rbuf, p, n);
				rbuf[n] = '\0';
			}
			return (int)h.type;
		}
		if (r < 0)
			return r;
		r = poll_one(c->fd, POLLIN, deadline);
		if (r < 0)
			return r;
		r = conn_fill(c);
		if (r < 0 && r != -EAGAIN)
			return r;
	}
}

/* ---- RESP (redis) framing, for the peer -------------------------------- */

struct resp_val {
	char type;		/* '+' '-' ':' '$' ('$' with n < 0: nil) */
	const uint8_t *data;	/* string or bulk payload */
	long long n;		/* length of data, or the integer */
};

struct resp {
	struct resp_val v;	/* the value, or the array header ('*') */
	unsigned nelem;		/* array elements kept in elem[] */
	struct resp_val elem[4];
};

/* Parses one non-array value at p: 1 with *used set, 0 if incomplete,
 * -EPROTO if malformed. */
static int resp_scalar(const uint8_t *p, size_t avail, size_t *used,
		       struct resp_val *v)
{
	const uint8_t *cr;
	size_t line;
	char num[24];

	if (avail < 3)
		return 0;
	cr = memchr(p, '\r', avail);
	if (!cr)	/* a line as long as half the buffer is no reply */
		return avail >= INBUF_CAP / 2 ? -EPROTO : 0;
	line = (size_t)(cr - p);
	if (line + 2 > avail)
		return 0;
	if (cr[1] != '\n')
		return -EPROTO;
	v->type = (char)p[0];
	v->data = p + 1;
	v->n = (long long)line - 1;
	*used = line + 2;
	if (v->type == '+' || v->type == '-')
		return 1;
	if ((v->type != ':' && v->type != '$' && v->type != '*') ||
	    line - 1 >= sizeof(num) || line < 2)
		return -EPROTO;
	memcpy(num, p + 1, line - 1);
	num[line - 1] = '\0';
	v->n = strtoll(num, NULL, 10);
	if (v->type != '$' || v->n < 0)
		return 1;
	if (v->n > XENSTORE_PAYLOAD_MAX)
		return -EPROTO;
	if (*used + (size_t)v->n + 2 > avail)
		return 0;
	v->data = p + *used;
	*used += (size_t)v->n + 2;
	return 1;
}

/* Takes the next complete reply out of the input buffer: 1, 0 if not yet,
 * -EPROTO.  Arrays may hold scalars only (all that GET, SET, MULTI/EXEC
 * and keyspace notifications need). */
static int resp_next(struct conn *c, struct resp *r)
{
	const uint8_t *p = c->in + c->in_off;
	size_t avail = c->in_len - c->in_off, used, off;
	int q;

	q = resp_scalar(p, avail, &used, &r->v);
	if (q <= 0)
		return q;
	r->nelem = 0;
	if (r->v.type == '*') {
		if (r->v.n > 64)
			return -EPROTO;
		off = used;
		for (long long k = 0; k < r->v.n; k++) {
			struct resp_val e;

			q = resp_scalar(p + off, avail - off, &used, &e);
			if (q <= 0)
				return q;
			if (e.type == '*')
				return -EPROTO;
			if (r->nelem < 4)
				r->elem[r->nelem++] = e;
			off += used;
		}
		used = off;
	}
	c->in_off += used;
	return 1;
}

/* Appends one command: argc arguments as a RESP array of bulk strings. */
static int resp_queue(struct conn *c, unsigned argc, const char *const *argv,
		      const uint32_t *lens)
{
	size_t need = 16;
	int n;

	for (unsigned k = 0; k < argc; k++)
		need += 16 + lens[k];
	if (conn_reserve(c, need) < 0)
		return -ENOBUFS;
	n = sprintf((char *)c->out + c->out_len, "*%u\r\n", argc);
	c->out_len += (size_t)n;
	for (unsigned k = 0; k < argc; k++) {
		n = sprintf((char *)c->out + c->out_len, "$%u\r\n", lens[k]);
		c->out_len += (size_t)n;
		memcpy(c->out + c->out_len, argv[k], lens[k]);
		c->out_len += lens[k];
		memcpy(c->out + c->out_len, "\r\n", 2);
		c->out_len += 2;
	}
	return 0;
}

static bool resp_is(const struct resp_val *v, char type, const char *s)
{
	size_t l = strlen(s);

	return v->type == type && v->n == (long long)l && memcmp(v->data, s, l) == 0;
}

/* Synchronous command for set-up (bounded wait); the reply's first line
 * goes to rbuf.  Returns the reply's type character or -errno. */
static int resp_call(struct conn *c, unsigned argc, const char *const *argv,
		     const uint32_t *lens, char *rbuf, size_t rcap,
		     double timeout)
{
	uint64_t deadline = now_ns() + (uint64_t)(timeout * 1e9);
	struct resp r;
	int q;

	q = resp_queue(c, argc, argv, lens);
	while (q == 0 && c->out_off < c->out_len) {
		q = conn_flush(c);
		if (q == 0 && c->out_off < c->out_len)
			q = poll_one(c->fd, POLLOUT, deadline);
	}
	while (q == 0 && (q = resp_next(c, &r)) == 0) {
		q = poll_one(c->fd, POLLIN, deadline);
		if (q == 0) {
			q = conn_fill(c);
			if (q == -EAGAIN)
				q = 0;
		}
	}
	if (q < 0)
		return q;
	snprintf(rbuf, rcap, "%c%.*s", r.v.type,
		 (int)(r.v.n > 0 && r.v.type != ':' && r.v.type != '*' ? r.v.n : 0),
		 (const char *)r.v.data);
	return r.v.type;
}

/* ---- raw load: read / write / txn ------------------------------------- */

static bool bench_stopping(struct bench *b, struct conn *c)
{
	if (atomic_load_explicit(&b->abort, memory_order_relaxed))
		return true;
	if (b->o.ops)
		return c->started >= c->quota;
	return atomic_load_explicit(&b->stop, memory_order_relaxed);
}

/* Sends a request about the slot's node: its path, then p2. */
static int slot_send(struct bench *b, struct conn *c, unsigned i,
		     uint32_t type, uint32_t tx_id, const void *p2, uint32_t l2)
{
	struct slot *s = &c->slots[i];

	s->gen++;
	return conn_queue(c, type, (uint32_t)s->gen << 16 | i, tx_id,
			  s->path, s->plen, p2, l2);
}

/* Sends a request whose payload is just the string arg (with its NUL):
 * TRANSACTION_START "" and TRANSACTION_END "T" or "F". */
static int slot_send_arg(struct conn *c, unsigned i, uint32_t type,
			 uint32_t tx_id, const char *arg)
{
	struct slot *s = &c->slots[i];

	s->gen++;
	return conn_queue(c, type, (uint32_t)s->gen << 16 | i, tx_id,
			  arg, (uint32_t)strlen(arg) + 1, NULL, 0);
}

static int slot_send_write(struct bench *b, struct conn *c, unsigned i,
			   uint32_t tx_id)
{
	char v[VALUE_MAX];

	/* Vary the value so that every write changes the node. */
	memcpy(v, b->value, b->o.value_size);
	if (b->o.value_size)
		v[0] = (char)('a' + c->wseq++ % 26);
	return slot_send(b, c, i, XS_WRITE, tx_id, v, b->o.value_size);
}

/* Starts the slot's next operation, or leaves it idle when stopping. */
static int slot_start(struct bench *b, struct conn *c, unsigned i)
{
	struct slot *s = &c->slots[i];

	if (bench_stopping(b, c)) {
		s->state = ST_IDLE;
		c->outstanding--;
		return 0;
	}
	c->started++;
	switch (b->o.mode) {
	case MODE_READ:
		s->state = ST_OP;
		return slot_send(b, c, i, XS_READ, 0, NULL, 0);
	case MODE_WRITE:
		s->state = ST_OP;
		return slot_send_write(b, c, i, 0);
	case MODE_TXN:
		s->state = ST_TX_START;
		return slot_send_arg(c, i, XS_TRANSACTION_START, 0, "");
	case MODE_WATCH:
		break;
	}
	return -EINVAL;
}

static bool reply_is_ok(const struct xsd_sockmsg *h, const uint8_t *p,
			uint32_t type)
{
	return h->type == type && h->len == 3 && memcmp(p, "OK", 3) == 0;
}

/* With --seconds, operations completing after the deadline are not
 * counted. */
static void count_op(struct bench *b, struct worker *w)
{
	if (b->o.ops || !atomic_load_explicit(&b->stop, memory_order_relaxed))
		w->cnt.ops++;
}

/* Handles one reply for the slot; returns 0 or -errno (fatal). */
static int slot_reply(struct worker *w, struct conn *c, unsigned i,
		      const struct xsd_sockmsg *h, const uint8_t *p)
{
	struct bench *b = w->b;
	struct slot *s = &c->slots[i];
	bool err = h->type == XS_ERROR;
	char num[16];
	unsigned long tx;
	char *end;

	switch (s->state) {
	case ST_OP:
		if (b->o.mode == MODE_READ) {
			if (h->type == XS_READ && h->len == b->o.value_size)
				count_op(b, w);
			else
				worker_error(w, err ? "read" : "read: bad reply",
					     p, h->len);
		} else {
			if (reply_is_ok(h, p, XS_WRITE))
				count_op(b, w);
			else
				worker_error(w, err ? "write" : "write: bad reply",
					     p, h->len);
		}
		return slot_start(b, c, i);
	case ST_TX_START:
		if (h->type != XS_TRANSACTION_START || h->len < 2 ||
		    h->len > sizeof(num) || p[h->len - 1] != '\0') {
			worker_error(w, "transaction_start", p, h->len);
			return slot_start(b, c, i);
		}
		memcpy(num, p, h->len);
		errno = 0;
		tx = strtoul(num, &end, 10);
		if (errno || *end || tx == 0 || tx > UINT32_MAX) {
			worker_error(w, "transaction_start: bad id", p, h->len);
			return slot_start(b, c, i);
		}
		s->tx_id = (uint32_t)tx;
		s->state = ST_TX_READ;
		return slot_send(b, c, i, XS_READ, s->tx_id, NULL, 0);
	case ST_TX_READ:
		if (h->type != XS_READ || h->len != b->o.value_size) {
			worker_error(w, err ? "txn read" : "txn read: bad reply",
				     p, h->len);
			s->state = ST_TX_ABORT;
			return slot_send_arg(c, i, XS_TRANSACTION_END, s->tx_id,
					     "F");
		}
		s->state = ST_TX_WRITE;
		return slot_send_write(b, c, i, s->tx_id);
	case ST_TX_WRITE:
		if (!reply_is_ok(h, p, XS_WRITE)) {
			worker_error(w, err ? "txn write" : "txn write: bad reply",
				     p, h->len);
			s->state = ST_TX_ABORT;
			return slot_send_arg(c, i, XS_TRANSACTION_END, s->tx_id,
					     "F");
		}
		s->state = ST_TX_COMMIT;
		return slot_send_arg(c, i, XS_TRANSACTION_END, s->tx_id, "T");
	case ST_TX_COMMIT:
		if (reply_is_ok(h, p, XS_TRANSACTION_END)) {
			count_op(b, w);
		} else if (err && h->len == 7 && memcmp(p, "EAGAIN", 7) == 0 &&
			   s->retries < TXN_RETRIES_MAX) {
			/* Conflict: retry the same operation (a bounded
			 * number of times: a daemon that always says EAGAIN
			 * must not keep us here). */
			w->cnt.retries++;
			s->retries++;
			s->state = ST_TX_START;
			return slot_send_arg(c, i, XS_TRANSACTION_START, 0,
					     "");
		} else {
			worker_error(w, "transaction_end", p, h->len);
		}
		s->retries = 0;
		return slot_start(b, c, i);
	case ST_TX_ABORT:
		return slot_start(b, c, i);
	case ST_IDLE:
		break;
	}
	return -EPROTO;
}

/* The same operations against redis: GET, SET, and MULTI GET SET EXEC
 * (four round trips, as a xenstore transaction).  Replies come in order,
 * so a per-connection fifo says which slot each one answers. */
static int rslot_cmd(struct bench *b, struct conn *c, unsigned i,
		     const char *cmd, bool key, bool value)
{
	struct slot *s = &c->slots[i];
	const char *argv[3] = { cmd, s->path, b->value };
	uint32_t lens[3] = { (uint32_t)strlen(cmd), s->plen - 1, b->o.value_size };
	char v[VALUE_MAX];

	if (value) {
		memcpy(v, b->value, b->o.value_size);
		if (b->o.value_size)
			v[0] = (char)('a' + c->wseq++ % 26);
		argv[2] = v;
	}
	c->fifo[(c->fhead + c->fcount++) % b->o.pipeline] = (uint16_t)i;
	return resp_queue(c, 1 + key + value, argv, lens);
}

static int rslot_start(struct bench *b, struct conn *c, unsigned i)
{
	struct slot *s = &c->slots[i];

	if (bench_stopping(b, c)) {
		s->state = ST_IDLE;
		c->outstanding--;
		return 0;
	}
	c->started++;
	switch (b->o.mode) {
	case MODE_READ:
		s->state = ST_OP;
		return rslot_cmd(b, c, i, "GET", true, false);
	case MODE_WRITE:
		s->state = ST_OP;
		return rslot_cmd(b, c, i, "SET", true, true);
	case MODE_TXN:
		s->state = ST_TX_START;
		return rslot_cmd(b, c, i, "MULTI", false, false);
	case MODE_WATCH:
		break;
	}
	return -EINVAL;
}

static int rslot_reply(struct worker *w, struct conn *c, unsigned i,
		       const struct resp *r)
{
	struct bench *b = w->b;
	struct slot *s = &c->slots[i];
	const uint8_t *ep = r->v.type == '-' ? r->v.data : (const uint8_t *)"";
	uint32_t el = r->v.type == '-' ? (uint32_t)r->v.n : 0;

	switch (s->state) {
	case ST_OP:
		if (b->o.mode == MODE_READ ?
		    r->v.type == '$' && r->v.n == b->o.value_size :
		    resp_is(&r->v, '+', "OK"))
			count_op(b, w);
		else
			worker_error(w, b->o.mode == MODE_READ ? "GET" : "SET", ep, el);
		return rslot_start(b, c, i);
	case ST_TX_START:
		if (!resp_is(&r->v, '+', "OK")) {
			worker_error(w, "MULTI", ep, el);
			return rslot_start(b, c, i);
		}
		s->state = ST_TX_READ;
		return rslot_cmd(b, c, i, "GET", true, false);
	case ST_TX_READ:
	case ST_TX_WRITE:
		if (!resp_is(&r->v, '+', "QUEUED")) {
			worker_error(w, "GET/SET in MULTI", ep, el);
			s->state = ST_TX_ABORT;
			return rslot_cmd(b, c, i, "DISCARD", false, false);
		}
		if (s->state == ST_TX_READ) {
			s->state = ST_TX_WRITE;
			return rslot_cmd(b, c, i, "SET", true, true);
		}
		s->state = ST_TX_COMMIT;
		return rslot_cmd(b, c, i, "EXEC", false, false);
	case ST_TX_COMMIT:
		if (r->v.type == '*' && r->nelem == 2 && r->elem[0].type == '$' &&
		    r->elem[0].n == b->o.value_size &&
		    resp_is(&r->elem[1], '+', "OK"))
			count_op(b, w);
		else
			worker_error(w, "EXEC", ep, el);
		return rslot_start(b, c, i);
	case ST_TX_ABORT:
		return rslot_start(b, c, i);
	case ST_IDLE:
		break;
	}
	return -EPROTO;
}

static int conn_process_resp(struct worker *w, struct conn *c)
{
	struct resp r;
	unsigned i;
	int q;

	while ((q = resp_next(c, &r)) == 1) {
		if (c->fcount == 0) {
			worker_fail(w, "client %u: redis reply with no command "
				    "outstanding", c->client);
			return -EPROTO;
		}
		i = c->fifo[c->fhead];
		c->fhead = (c->fhead + 1) % w->b->o.pipeline;
		c->fcount--;
		q = rslot_reply(w, c, i, &r);
		if (q < 0) {
			worker_fail(w, "client %u: queueing command: %s",
				    c->client, strerror(-q));
			return q;
		}
	}
	if (q < 0)
		worker_fail(w, "client %u: malformed redis reply", c->client);
	return q;
}

static int conn_process(struct worker *w, struct conn *c)
{
	struct xsd_sockmsg h;
	const uint8_t *p;
	unsigned i;
	int r;

	while ((r = conn_next(c, &h, &p)) == 1) {
		if (h.type == XS_WATCH_EVENT) {
			w->cnt.stray++;
			continue;
		}
		i = h.req_id & 0xffffu;
		if (i >= w->b->o.pipeline || c->slots[i].state == ST_IDLE ||
		    c->slots[i].gen != h.req_id >> 16) {
			worker_fail(w, "client %u: reply type %u req_id %#x "
				    "matches no outstanding request", c->client,
				    h.type, h.req_id);
			return -EPROTO;
		}
		r = slot_reply(w, c, i, &h, p);
		if (r < 0) {
			worker_fail(w, "client %u: queueing request: %s",
				    c->client, strerror(-r));
			return r;
		}
	}
	if (r < 0)
		worker_fail(w, "client %u: bad message length %u", c->client,
			    h.len);
	return r;
}

/* Connects and writes the keys that read and txn operations read. */
static int conn_setup(struct worker *w, struct conn *c)
{
	struct bench *b = w->b;
	char rbuf[64];
	int r;

	r = conn_connect(b->o.socket);
	if (r < 0) {
		worker_fail(w, "connect %s: %s", b->o.socket, strerror(-r));
		return r;
	}
	c->fd = r;
	if (b->o.mode == MODE_WRITE)
		return 0;
	for (unsigned i = 0; i < b->o.pipeline; i++) {
		struct slot *s = &c->slots[i];

		if (b->o.redis) {
			const char *argv[3] = { "SET", s->path, b->value };
			uint32_t lens[3] = { 3, s->plen - 1, b->o.value_size };

			r = resp_call(c, 3, argv, lens, rbuf, sizeof(rbuf),
				      b->o.timeout);
			if (r != '+') {
				worker_fail(w, "set-up SET %s: %s", s->path,
					    r < 0 ? strerror(-r) : rbuf);
				return r < 0 ? r : -EIO;
			}
			continue;
		}
		r = conn_call(c, XS_WRITE, 0, s->path, s->plen, b->value,
			      b->o.value_size, rbuf, sizeof(rbuf), b->o.timeout);
		if (r != XS_WRITE) {
			worker_fail(w, "set-up write %s: %s", s->path,
				    r < 0 ? strerror(-r) : rbuf);
			return r < 0 ? r : -EIO;
		}
	}
	return 0;
}

static void *worker_raw(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;
	struct pollfd *pfd = calloc(w->nconns, sizeof(*pfd));
	struct conn **live = calloc(w->nconns, sizeof(*live));
	uint64_t last_progress;
	unsigned nlive = 0;

	if (!pfd || !live)
		worker_fail(w, "out of memory");
	for (unsigned k = 0; k < w->nconns && !w->failed; k++)
		conn_setup(w, w->conns[k]);
	worker_wait_start(w);
	if (w->failed)
		goto out;

	for (unsigned k = 0; k < w->nconns; k++) {
		struct conn *c = w->conns[k];

		c->outstanding = b->o.pipeline;
		for (unsigned i = 0; i < b->o.pipeline; i++)
			if ((b->o.redis ? rslot_start(b, c, i) :
			     slot_start(b, c, i)) < 0)
				worker_fail(w, "queueing request");
		if (c->outstanding)
			live[nlive++] = c;
		else
			c->done = true;
	}
	last_progress = now_ns();

	while (nlive && !w->failed) {
		int r;

		for (unsigned k = 0; k < nlive; k++) {
			struct conn *c = live[k];

			if (c->out_off < c->out_len) {
				r = conn_flush(c);
				if (r < 0) {
					worker_fail(w, "client %u: send: %s",
						    c->client, strerror(-r));
					goto out;
				}
			}
			pfd[k] = (struct pollfd){
				.fd = c->fd,
				.events = POLLIN |
					  (c->out_off < c->out_len ? POLLOUT : 0),
			};
		}
		r = poll(pfd, nlive, 100);
		if (r < 0 && errno != EINTR) {
			worker_fail(w, "poll: %s", strerror(errno));
			break;
		}
		if (r <= 0) {
			if (now_ns() - last_progress > b->o.timeout * 1e9) {
				worker_fail(w, "no reply for %.0f s (%u "
					    "connections waiting)",
					    b->o.timeout, nlive);
				break;
			}
			if (atomic_load(&b->abort))
				break;
			continue;
		}
		last_progress = now_ns();
		for (unsigned k = 0; k < nlive; k++) {
			struct conn *c = live[k];

			if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) {
				r = conn_fill(c);
				if (r < 0 && r != -EAGAIN) {
					worker_fail(w, "client %u: %s",
						    c->client,
						    r == -EPIPE ?
						    "daemon closed the connection" :
						    strerror(-r));
					goto out;
				}
				if ((b->o.redis ? conn_process_resp(w, c) :
				     conn_process(w, c)) < 0)
					goto out;
				/* Send the replies' follow-ups in one go. */
				r = conn_flush(c);
				if (r < 0) {
					worker_fail(w, "client %u: send: %s",
						    c->client, strerror(-r));
					goto out;
				}
			}
			if (c->outstanding == 0)
				c->done = true;
		}
		for (unsigned k = 0; k < nlive;) {
			if (live[k]->done)
				live[k] = live[--nlive];
			else
				k++;
		}
		if (atomic_load_explicit(&b->abort, memory_order_relaxed))
			break;
	}
out:
	w->t_end = now_ns();
	free(pfd);
	free(live);
	return NULL;
}

/* ---- libxenstore load ------------------------------------------------- */

static void *worker_libxs(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;
	unsigned client = w->first;
	struct xs_handle *h;
	char path[PATH_CAP];
	char v[VALUE_MAX + 1];
	uint64_t done = 0, quota = 0;

	snprintf(path, sizeof(path), "%s/c%u/s0", b->o.prefix, client);
	memcpy(v, b->value, b->o.value_size);
	if (b->o.ops)
		quota = b->o.ops / b->o.clients +
			(client < b->o.ops % b->o.clients);
	h = xs_open(XS_OPEN_SOCKETONLY);
	if (!h)
		worker_fail(w, "xs_open %s: %s", b->o.socket, strerror(errno));
	else if (b->o.mode != MODE_WRITE &&
		 !xs_write(h, XBT_NULL, path, v, b->o.value_size))
		worker_fail(w, "set-up xs_write %s: %s", path, strerror(errno));
	worker_wait_start(w);

	while (!w->failed && !atomic_load_explicit(&b->abort, memory_order_relaxed)) {
		xs_transaction_t t = XBT_NULL;
		unsigned len;
		char *r;

		if (b->o.ops ? done >= quota :
		    atomic_load_explicit(&b->stop, memory_order_relaxed))
			break;
		if (b->o.value_size)
			v[0] = (char)('a' + done % 26);
		switch (b->o.mode) {
		case MODE_READ:
			r = xs_read(h, XBT_NULL, path, &len);
			if (!r || len != b->o.value_size)
				worker_error(w, "xs_read", (const uint8_t *)"", 0);
			free(r);
			break;
		case MODE_WRITE:
			if (!xs_write(h, XBT_NULL, path, v, b->o.value_size))
				worker_error(w, "xs_write", (const uint8_t *)"", 0);
			break;
		case MODE_TXN:
			for (;;) {
				t = xs_transaction_start(h);
				if (t == XBT_NULL) {
					worker_error(w, "xs_transaction_start",
						     (const uint8_t *)"", 0);
					break;
				}
				r = xs_read(h, t, path, &len);
				free(r);
				if (!r || !xs_write(h, t, path, v, b->o.value_size)) {
					worker_error(w, "xs_read/xs_write in txn",
						     (const uint8_t *)"", 0);
					xs_transaction_end(h, t, true);
					break;
				}
				if (xs_transaction_end(h, t, false))
					break;
				if (errno != EAGAIN) {
					worker_error(w, "xs_transaction_end",
						     (const uint8_t *)"", 0);
					break;
				}
				w->cnt.retries++;
			}
			break;
		case MODE_WATCH:
			break;
		}
		done++;
		if (b->o.ops || !atomic_load_explicit(&b->stop, memory_order_relaxed))
			w->cnt.ops++;
		/* libxenstore calls block without a timeout: a hung daemon
		 * hangs us; run.sh bounds the whole run with timeout(1). */
	}
	w->t_end = now_ns();
	if (h)
		xs_close(h);
	return NULL;
}

static const char *api_name(const struct bench_opts *o)
{
	return o->libxs ? "libxs" : o->redis ? "redis" : "raw";
}

/* ---- watch latency ---------------------------------------------------- */

struct samples {
	double *v;
	size_t n, cap;
};

static int samples_add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		double *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double samples_pct(const struct samples *s, double pct)
{
	size_t k;

	if (s->n == 0)
		return 0;
	double x = pct / 100.0 * (double)s->n;

	k = (size_t)x;
	if ((double)k < x)
		k++;	/* ceil without libm */
	return s->v[k ? k - 1 : 0];
}

static bool watch_done(const struct bench *b, uint64_t seq, uint64_t t_end)
{
	if (atomic_load_explicit(&b->abort, memory_order_relaxed))
		return true;
	return b->o.ops ? seq >= b->o.ops : now_ns() >= t_end;
}

/* Is this event (path NUL token NUL) the one for key `key`, watcher i? */
static bool event_matches(const uint8_t *p, uint32_t len, const char *want,
			  const char *token)
{
	size_t pl = strlen(want), tl = strlen(token);

	return len >= pl + tl + 2 && memcmp(p, want, pl + 1) == 0 &&
	       memcmp(p + pl + 1, token, tl + 1) == 0;
}

/* What the next message on a watch-mode connection is. */
enum wmsg { WM_NONE, WM_REPLY_OK, WM_REPLY_BAD, WM_EVENT, WM_OTHER };

/* Takes the next message off c and classifies it for sample seq: the
 * writer's reply, or watcher i's event for key.  <0: protocol error. */
static int watch_next(struct bench *b, struct conn *c, bool writer,
		      uint64_t seq, const char *key, unsigned i,
		      enum wmsg *kind)
{
	char want[PATH_CAP + 32];
	int q;

	if (b->o.redis) {
		struct resp r;

		q = resp_next(c, &r);
		if (q <= 0) {
			*kind = WM_NONE;
			return q;
		}
		snprintf(want, sizeof(want), "__keyspace@0__:%s", key);
		if (writer)
			*kind = resp_is(&r.v, '+', "OK") ? WM_REPLY_OK : WM_REPLY_BAD;
		else if (r.v.type == '*' && r.nelem == 4 &&
			 resp_is(&r.elem[0], '$', "pmessage") &&
			 resp_is(&r.elem[2], '$', want))
			*kind = WM_EVENT;
		else
			*kind = WM_OTHER;
		return 1;
	}

	struct xsd_sockmsg h;
	const uint8_t *p;

	q = conn_next(c, &h, &p);
	if (q <= 0) {
		*kind = WM_NONE;
		return q;
	}
	snprintf(want, sizeof(want), "w%u", i);
	if (writer && h.type != XS_WATCH_EVENT)
		*kind = h.req_id == (uint32_t)seq + 1 && reply_is_ok(&h, p, XS_WRITE) ?
			WM_REPLY_OK : WM_REPLY_BAD;
	else if (!writer && h.type == XS_WATCH_EVENT &&
		 event_matches(p, h.len, key, want))
		*kind = WM_EVENT;
	else
		*kind = WM_OTHER;	/* e.g. a watch's initial event */
	return 1;
}

/* Registers watcher i (xenstore WATCH, or redis keyspace notifications
 * and PSUBSCRIBE); the writer connection (i == nw) only enables the
 * notifications. */
static int watch_setup(struct bench *b, struct worker *w, struct conn *c,
		       unsigned i, unsigned nw, const char *watched)
{
	char token[32], rbuf[64], pattern[PATH_CAP];
	int r;

	if (b->o.redis) {
		const char *cfg[4] = { "CONFIG", "SET", "notify-keyspace-events", "K$" };
		const char *sub[2] = { "PSUBSCRIBE", pattern };
		uint32_t cl[4] = { 6, 3, 22, 2 }, sl[2] = { 10, 0 };

		if (i == nw) {
			r = resp_call(c, 4, cfg, cl, rbuf, sizeof(rbuf), b->o.timeout);
			if (r == '+')
				return 0;
			worker_fail(w, "redis CONFIG SET notify-keyspace-events: %s",
				    r < 0 ? strerror(-r) : rbuf);
			return r < 0 ? r : -EIO;
		}
		sl[1] = (uint32_t)snprintf(pattern, sizeof(pattern),
					   "__keyspace@0__:%s/*", watched);
		r = resp_call(c, 2, sub, sl, rbuf, sizeof(rbuf), b->o.timeout);
		if (r == '*')
			return 0;
		worker_fail(w, "redis PSUBSCRIBE: %s", r < 0 ? strerror(-r) : rbuf);
		return r < 0 ? r : -EIO;
	}
	if (i == nw)
		return 0;
	snprintf(token, sizeof(token), "w%u", i);
	r = conn_call(c, XS_WATCH, 0, watched, strlen(watched) + 1, token,
		      strlen(token) + 1, rbuf, sizeof(rbuf), b->o.timeout);
	if (r == XS_WATCH)
		return 0;
	worker_fail(w, "watch %s: %s", watched, r < 0 ? strerror(-r) : rbuf);
	return r < 0 ? r : -EIO;
}

static int watch_send(struct bench *b, struct conn *wr, uint64_t seq,
		      const char *key)
{
	char val[24];
	int vl = snprintf(val, sizeof(val), "%" PRIu64, seq);

	if (b->o.redis) {
		const char *argv[3] = { "SET", key, val };
		uint32_t lens[3] = { 3, (uint32_t)strlen(key), (uint32_t)vl };

		return resp_queue(wr, 3, argv, lens);
	}
	return conn_queue(wr, XS_WRITE, (uint32_t)seq + 1, 0, key,
			  strlen(key) + 1, val, (uint32_t)vl);
}

static int watch_raw(struct bench *b, struct worker *w, struct samples *lat,
		     struct samples *rtt)
{
	unsigned nw = b->o.clients;
	struct conn **c = calloc(nw + 1, sizeof(*c));	/* c[nw]: writer */
	struct pollfd *pfd = calloc(nw + 1, sizeof(*pfd));
	bool *got = calloc(nw, sizeof(*got));
	char watched[PATH_CAP / 2], keys[WATCH_KEYS][PATH_CAP];
	uint64_t seq = 0, t_end;
	int r = -ENOMEM;

	if (!c || !pfd || !got)
		goto fail;
	snprintf(watched, sizeof(watched), "%s/watch", b->o.prefix);
	for (unsigned k = 0; k < WATCH_KEYS; k++)
		snprintf(keys[k], PATH_CAP, "%s/e%u", watched, k);
	for (unsigned i = 0; i <= nw; i++) {
		c[i] = conn_new(b, i);
		if (!c[i])
			goto fail;
		r = conn_connect(b->o.socket);
		if (r < 0) {
			worker_fail(w, "connect %s: %s", b->o.socket, strerror(-r));
			goto fail;
		}
		c[i]->fd = r;
	}
	/* The writer first: redis needs notifications enabled. */
	for (unsigned k = 0; k <= nw; k++) {
		unsigned i = (k + nw) % (nw + 1);

		r = watch_setup(b, w, c[i], i, nw, watched);
		if (r < 0)
			goto fail;
	}
	t_end = now_ns() + (uint64_t)(b->o.seconds * 1e9);
	b->t_start = now_ns();

	while (!watch_done(b, seq, t_end)) {
		const char *key = keys[seq % WATCH_KEYS];
		struct conn *wr = c[nw];
		unsigned pending = nw;
		bool replied = false;
		uint64_t t0, deadline;

		memset(got, 0, nw * sizeof(*got));
		t0 = now_ns();
		deadline = t0 + (uint64_t)(b->o.timeout * 1e9);
		r = watch_send(b, wr, seq, key);
		if (r == 0)
			r = conn_flush(wr);
		if (r < 0) {
			worker_fail(w, "send write: %s", strerror(-r));
			goto fail;
		}
		while (pending || !replied) {
			uint64_t now = now_ns();

			for (unsigned i = 0; i <= nw; i++)
				pfd[i] = (struct pollfd){
					.fd = c[i]->fd,
					.events = POLLIN |
						  (i == nw && wr->out_off < wr->out_len ?
						   POLLOUT : 0),
				};
			if (now >= deadline) {
				worker_fail(w, "write %" PRIu64 ": no %s after "
					    "%.0f s", seq, replied ? "event" :
					    "reply", b->o.timeout);
				r = -ETIMEDOUT;
				goto fail;
			}
			r = poll(pfd, nw + 1, (int)((deadline - now) / 1000000u) + 1);
			if (r < 0 && errno != EINTR) {
				r = -errno;
				worker_fail(w, "poll: %s", strerror(-r));
				goto fail;
			}
			for (unsigned i = 0; i <= nw && r > 0; i++) {
				enum wmsg kind;
				uint64_t t;
				int q;

				if (pfd[i].revents & POLLOUT)
					conn_flush(wr);
				if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
					continue;
				q = conn_fill(c[i]);
				t = now_ns();
				if (q < 0 && q != -EAGAIN) {
					worker_fail(w, "%s: %s", i == nw ?
						    "writer" : "watcher",
						    q == -EPIPE ? "daemon closed "
						    "the connection" : strerror(-q));
					r = q;
					goto fail;
				}
				while ((q = watch_next(b, c[i], i == nw, seq, key,
						       i, &kind)) == 1) {
					switch (kind) {
					case WM_REPLY_BAD:
						worker_error(w, "watch-mode write",
							     (const uint8_t *)"", 0);
						/* fall through */
					case WM_REPLY_OK:
						if (!replied)
							samples_add(rtt, (t - t0) / 1e3);
						replied = true;
						break;
					case WM_EVENT:
						if (got[i]) {
							w->cnt.stray++;
							break;
						}
						got[i] = true;
						pending--;
						if (samples_add(lat, (t - t0) / 1e3) < 0) {
							r = -ENOMEM;
							goto fail;
						}
						break;
					case WM_NONE:
					case WM_OTHER:
						w->cnt.stray++;
						break;
					}
				}
				if (q < 0) {
					worker_fail(w, "malformed message");
					r = q;
					goto fail;
				}
			}
		}
		seq++;
		w->cnt.ops++;
	}
	w->t_end = now_ns();
	r = 0;
fail:
	for (unsigned i = 0; c && i <= nw; i++)
		conn_free(c[i]);
	free(c);
	free(pfd);
	free(got);
	return r;
}

static int watch_libxs(struct bench *b, struct worker *w, struct samples *lat,
		       struct samples *rtt)
{
	unsigned nw = b->o.clients;
	struct xs_handle **h = calloc(nw + 1, sizeof(*h));
	bool *got = calloc(nw, sizeof(*got));
	char watched[PATH_CAP / 2], key[PATH_CAP], token[32];
	uint64_t seq = 0, t_end;
	int r = -ENOMEM;

	if (!h || !got)
		goto fail;
	snprintf(watched, sizeof(watched), "%s/watch", b->o.prefix);
	for (unsigned i = 0; i <= nw; i++) {
		h[i] = xs_open(XS_OPEN_SOCKETONLY);
		if (!h[i]) {
			r = -errno;
			worker_fail(w, "xs_open: %s", strerror(-r));
			goto fail;
		}
	}
	for (unsigned i = 0; i < nw; i++) {
		snprintf(token, sizeof(token), "w%u", i);
		if (!xs_watch(h[i], watched, token)) {
			r = -errno;
			worker_fail(w, "xs_watch: %s", strerror(-r));
			goto fail;
		}
	}
	t_end = now_ns() + (uint64_t)(b->o.seconds * 1e9);
	b->t_start = now_ns();
	while (!watch_done(b, seq, t_end)) {
		unsigned pending = nw;
		uint64_t t0, deadline;
		char val[24];
		int vl = snprintf(val, sizeof(val), "%" PRIu64, seq);

		snprintf(key, sizeof(key), "%s/e%u", watched,
			 (unsigned)(seq % WATCH_KEYS));
		memset(got, 0, nw * sizeof(*got));
		t0 = now_ns();
		deadline = t0 + (uint64_t)(b->o.timeout * 1e9);
		if (!xs_write(h[nw], XBT_NULL, key, val, (unsigned)vl)) {
			worker_error(w, "xs_write", (const uint8_t *)"", 0);
			break;
		}
		samples_add(rtt, (now_ns() - t0) / 1e3);
		while (pending) {
			for (unsigned i = 0; i < nw; i++) {
				char **vec;

				snprintf(token, sizeof(token), "w%u", i);
				while (!got[i] && (vec = xs_check_watch(h[i]))) {
					if (strcmp(vec[XS_WATCH_PATH], key) == 0 &&
					    strcmp(vec[XS_WATCH_TOKEN], token) == 0) {
						got[i] = true;
						pending--;
						samples_add(lat, (now_ns() - t0) / 1e3);
					} else {
						w->cnt.stray++;
					}
					free(vec);
				}
			}
			if (!pending)
				break;
			if (now_ns() >= deadline) {
				worker_fail(w, "write %" PRIu64 ": no event", seq);
				r = -ETIMEDOUT;
				goto fail;
			}
			for (unsigned i = 0; i < nw; i++) {
				if (got[i])
					continue;
				poll_one(xs_fileno(h[i]), POLLIN, deadline);
				break;
			}
		}
		seq++;
		w->cnt.ops++;
	}
	w->t_end = now_ns();
	r = 0;
fail:
	for (unsigned i = 0; h && i <= nw; i++)
		if (h[i])
			xs_close(h[i]);
	free(h);
	free(got);
	return r;
}

static int bench_watch(struct bench *b)
{
	struct worker w = { .b = b };
	struct samples lat = { 0 }, rtt = { 0 };
	double secs;
	int r;

	r = b->o.libxs ? watch_libxs(b, &w, &lat, &rtt) :
			 watch_raw(b, &w, &lat, &rtt);
	secs = w.t_end > b->t_start ? (w.t_end - b->t_start) / 1e9 : 0;
	qsort(lat.v, lat.n, sizeof(double), cmp_double);
	qsort(rtt.v, rtt.n, sizeof(double), cmp_double);
	printf("watch clients=%u api=%s writes=%" PRIu64 " events=%zu "
	       "seconds=%.3f ops_per_sec=%.0f median_us=%.1f p99_us=%.1f "
	       "max_us=%.1f write_rtt_median_us=%.1f errors=%" PRIu64
	       " stray=%" PRIu64 "\n",
	       b->o.clients, api_name(&b->o), w.cnt.ops, lat.n,
	       secs, secs > 0 ? w.cnt.ops / secs : 0, samples_pct(&lat, 50),
	       samples_pct(&lat, 99), samples_pct(&lat, 100),
	       samples_pct(&rtt, 50), w.cnt.errors, w.cnt.stray);
	if (w.first_error[0])
		fprintf(stderr, "bench_stored: first error: %s\n", w.first_error);
	free(lat.v);
	free(rtt.v);
	return r == 0 && !w.failed && w.cnt.errors == 0 && lat.n > 0 ? 0 : 1;
}

/* ---- load runs -------------------------------------------------------- */

static int bench_load(struct bench *b)
{
	unsigned nthreads = b->o.libxs ? b->o.clients : b->o.threads;
	struct worker *w = calloc(nthreads, sizeof(*w));
	struct conn **conns = calloc(b->o.clients, sizeof(*conns));
	struct counters tot = { 0 };
	uint64_t t_stop = 0;
	unsigned started = 0;
	bool failed = false;
	double secs;
	int r = 1;

	if (!w || !conns) {
		fprintf(stderr, "bench_stored: out of memory\n");
		goto out;
	}
	if (!b->o.libxs) {
		for (unsigned i = 0; i < b->o.clients; i++) {
			conns[i] = conn_new(b, i);
			if (!conns[i]) {
				fprintf(stderr, "bench_stored: out of memory\n");
				goto out;
			}
			if (b->o.ops)
				conns[i]->quota = b->o.ops / b->o.clients +
						  (i < b->o.ops % b->o.clients);
		}
	}
	/* Clients dealt out round-robin over the threads. */
	for (unsigned t = 0, first = 0; t < nthreads; t++) {
		unsigned n = b->o.clients / nthreads + (t < b->o.clients % nthreads);

		w[t].b = b;
		w[t].first = first;
		w[t].nconns = n;
		w[t].conns = conns + first;
		first += n;
	}
	for (; started < nthreads; started++) {
		if (pthread_create(&w[started].tid, NULL,
				   b->o.libxs ? worker_libxs : worker_raw,
				   &w[started])) {
			fprintf(stderr, "bench_stored: pthread_create failed\n");
			atomic_store(&b->abort, true);
			break;
		}
	}
	/* Wait for every started worker to be set up, then let them go. */
	pthread_mutex_lock(&b->lock);
	while (b->ready < started)
		pthread_cond_wait(&b->cond, &b->lock);
	b->go = true;
	b->t_start = now_ns();
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	if (started == nthreads && !b->o.ops) {
		uint64_t end = b->t_start + (uint64_t)(b->o.seconds * 1e9);

		while (now_ns() < end && !atomic_load(&b->abort)) {
			struct timespec ts = { 0, 20 * 1000000 };
			uint64_t left = end - now_ns();

			if (left < 20000000u)
				ts.tv_nsec = (long)left;
			nanosleep(&ts, NULL);
		}
		t_stop = now_ns();
		atomic_store(&b->stop, true);
	}
	for (unsigned t = 0; t < started; t++)
		pthread_join(w[t].tid, NULL);
	if (started < nthreads)
		goto out;

	uint64_t t_end = t_stop;
	const char *first_error = NULL;

	for (unsigned t = 0; t < nthreads; t++) {
		tot.ops += w[t].cnt.ops;
		tot.errors += w[t].cnt.errors;
		tot.retries += w[t].cnt.retries;
		tot.stray += w[t].cnt.stray;
		failed |= w[t].failed;
		if (b->o.ops && w[t].t_end > t_end)
			t_end = w[t].t_end;
		if (!first_error && w[t].first_error[0])
			first_error = w[t].first_error;
	}
	secs = (t_end - b->t_start) / 1e9;
	printf("%s clients=%u threads=%u pipeline=%u api=%s ops=%" PRIu64
	       " seconds=%.3f ops_per_sec=%.0f errors=%" PRIu64
	       " retries=%" PRIu64 " stray=%" PRIu64 "%s\n",
	       mode_names[b->o.mode], b->o.clients, nthreads, b->o.pipeline,
	       api_name(&b->o), tot.ops, secs,
	       secs > 0 ? tot.ops / secs : 0, tot.errors, tot.retries,
	       tot.stray, failed ? " failed=1" : "");
	if (first_error)
		fprintf(stderr, "bench_stored: first error: %s\n", first_error);
	r = failed || tot.errors || tot.ops == 0 ? 1 : 0;
out:
	for (unsigned i = 0; conns && i < b->o.clients; i++)
		conn_free(conns[i]);
	free(conns);
	free(w);
	return r;
}

/* ---- options ---------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: bench_stored --socket PATH [--mode] read|write|txn|watch [options]\n"
"  --socket PATH     the daemon's unix socket\n"
"  --clients N       connections (watch: watchers) (default 1)\n"
"  --threads T       raw mode: client threads sharing the connections\n"
"                    (default 1, like redis-benchmark)\n"
"  --seconds S       run time (default 3)\n"
"  --ops N           total operations instead of a run time\n"
"  --pipeline D      outstanding requests per connection (default 1)\n"
"  --value-size B    bytes per value (default 3, as redis-benchmark -d)\n"
"  --prefix PATH     store subtree to use (default /bench)\n"
"  --timeout S       longest wait for a reply before failing (default 10)\n"
"  --libxs           use libxenstore (one thread per client, pipeline 1)\n"
"  --redis           the peer: the same load against redis-server's unix\n"
"                    socket (GET, SET, MULTI GET SET EXEC; watch: keyspace\n"
"                    notifications, which it enables with CONFIG SET)\n");
}

static int parse_uint(const char *s, unsigned long long max,
		      unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s || *end || *out > max || s[0] == '-' ? -EINVAL : 0;
}

static int parse_opts(int argc, char **argv, struct bench_opts *o)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "clients", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 'S' },
		{ "ops", required_argument, NULL, 'n' },
		{ "pipeline", required_argument, NULL, 'P' },
		{ "value-size", required_argument, NULL, 'd' },
		{ "prefix", required_argument, NULL, 'x' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "libxs", no_argument, NULL, 'L' },
		{ "redis", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *mode = NULL;
	unsigned long long v;
	char *end;
	int opt;

	*o = (struct bench_opts){
		.prefix = "/bench", .clients = 1, .threads = 1, .pipeline = 1,
		.value_size = 3, .seconds = 3, .timeout = 10,
	};
	while ((opt = getopt_long(argc, argv, "s:m:c:t:S:n:P:d:x:T:LRh", lo,
				  NULL)) != -1) {
		switch (opt) {
		case 's': o->socket = optarg; break;
		case 'm': mode = optarg; break;
		case 'x': o->prefix = optarg; break;
		case 'L': o->libxs = true; break;
		case 'R': o->redis = true; break;
		case 'h': usage(stdout); exit(0);
		case 'c':
			if (parse_uint(optarg, CLIENTS_MAX, &v) || !v)
				goto bad;
			o->clients = (unsigned)v;
			break;
		case 't':
			if (parse_uint(optarg, CLIENTS_MAX, &v) || !v)
				goto bad;
			o->threads = (unsigned)v;
			break;
		case 'n':
			if (parse_uint(optarg, UINT32_MAX, &v) || !v)
				goto bad;
			o->ops = v;
			break;
		case 'P':
			if (parse_uint(optarg, PIPELINE_MAX, &v) || !v)
				goto bad;
			o->pipeline = (unsigned)v;
			break;
		case 'd':
			if (parse_uint(optarg, VALUE_MAX, &v))
				goto bad;
			o->value_size = (unsigned)v;
			break;
		case 'S':
		case 'T':
			errno = 0;
			double d = strtod(optarg, &end);

			if (errno || *end || !(d > 0) || d > 86400)
				goto bad;
			*(opt == 'S' ? &o->seconds : &o->timeout) = d;
			break;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (!mode && optind < argc)
		mode = argv[optind++];
	if (optind < argc || !mode || !o->socket) {
		usage(stderr);
		return -EINVAL;
	}
	unsigned m = 0;

	while (m < sizeof(mode_names) / sizeof(*mode_names) &&
	       strcmp(mode, mode_names[m]) != 0)
		m++;
	o->mode = (enum mode)m;
	if (m == sizeof(mode_names) / sizeof(*mode_names)) {
		fprintf(stderr, "bench_stored: unknown mode %s\n", mode);
		return -EINVAL;
	}
	if (o->prefix[0] != '/' || strlen(o->prefix) > 128) {
		fprintf(stderr, "bench_stored: --prefix must be an absolute "
			"path of at most 128 bytes\n");
		return -EINVAL;
	}
	if (o->libxs && o->redis) {
		fprintf(stderr, "bench_stored: --libxs and --redis exclude "
			"each other\n");
		return -EINVAL;
	}
	if (o->redis && o->mode == MODE_TXN && o->pipeline > 1) {
		fprintf(stderr, "bench_stored: redis has one MULTI per "
			"connection: --pipeline must be 1 for txn\n");
		return -EINVAL;
	}
	if (o->libxs && o->pipeline > 1) {
		fprintf(stderr, "bench_stored: --libxs is synchronous: "
			"--pipeline must be 1\n");
		return -EINVAL;
	}
	if (o->threads > o->clients)
		o->threads = o->clients;
	return 0;
bad:
	fprintf(stderr, "bench_stored: bad value for option: %s\n", optarg);
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct bench *b = calloc(1, sizeof(*b));

	if (!b || parse_opts(argc, argv, &b->o) < 0)
		return 2;
	memset(b->value, 'v', sizeof(b->value));
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	if (b->o.libxs && setenv("XENSTORED_PATH", b->o.socket, 1) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	int r = b->o.mode == MODE_WATCH ? bench_watch(b) : bench_load(b);

	free(b);
	return r;
}
