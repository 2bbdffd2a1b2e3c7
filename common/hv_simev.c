/* Simulated event channels.
 *
 * An endpoint is a guest domain ("dom<N>") or a backend handle
 * ("dom<N>.h<hid>"); both work the same way:
 *   <name>.evt   its port table (sealed memfd, F_SEAL_FUTURE_WRITE: only the
 *                owner writes it), read by a binder to check that a port
 *                exists and is unbound for it, as Xen's EVTCHNOP_bind_
 *                interdomain checks;
 *   <name>.sock  a datagram socket on which a binder hands the owner the
 *                pipes of a new channel (SCM_RIGHTS).  The owner takes them
 *                whenever it next looks at its event channels, so binding
 *                never waits for the other side.
 *
 * A bound channel is two pipes, one per direction.  Notify writes one byte,
 * pending reads them all.  Why pipes and not eventfds: both ends of an
 * eventfd are one file description, so a hostile peer could clear
 * O_NONBLOCK on it and saturate the counter, and our write() would block
 * forever (eventfd does not take RWF_NOWAIT for writes).  A pipe's ends are
 * separate file descriptions and take RWF_NOWAIT both ways, a pipe write and
 * wake-up cost the same as an eventfd's (measured: tests/bench/bench_hv.c),
 * and a pipe reports a hang-up when the peer exits, which is how a port
 * returns to "unbound" when the other side closes, as on Xen.  Each side
 * also keeps the read end of the pipe it writes into, so a write never
 * raises SIGPIPE.
 *
 * The endpoint's pollable fd is an epoll set of the per-port read ends and
 * of the socket.  A port that pending returned stays masked until unmask,
 * as on Xen, but masking costs no system call in the common case: only if
 * the port fires while masked does pending take it out of the epoll set
 * (EPOLL_CTL_MOD to no events), and unmask put it back.  So an event costs
 * epoll_wait and one read, and a notify one write (Xen's evtchn driver:
 * a read, a write to unmask, an ioctl to notify).
 *
 * What the sim cannot do: authenticate which domain a binder is (all
 * processes are peers); it guarantees that a misbehaving peer cannot block,
 * crash or confuse the other side, not that domains cannot impersonate each
 * other.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "pvd/log.h"
#include "hv_sim_priv.h"

#define SIMEV_MAGIC   0x50564445u /* "PVDE" */
#define SIMEV_VERSION 1u
#define SIMEV_SOCK_TAG UINT64_MAX
#define SIMEV_READY   16

enum { PORT_FREE, PORT_UNBOUND, PORT_INTERDOMAIN };

struct simev_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t domid;
	uint32_t hid;
	uint32_t nports;
	uint32_t pid;
	uint32_t pad[2];
};

struct simev_ent {
	uint32_t state;
	uint32_t remote_dom;
	uint32_t remote_port;
	uint32_t peer_pid;
};

struct simev_msg {
	uint32_t magic;
	uint32_t op;
	uint32_t port;       /* the owner's port */
	uint32_t from_dom;
	uint32_t from_port;
};
#define SIMEV_OP_BIND 1u
#define SIMEV_MSG_FDS 3

struct simev_port {
	uint8_t state;
	uint8_t masked;   /* returned by pending, not yet unmasked */
	uint8_t parked;   /* fired while masked: out of the epoll set */
	uint8_t own_wfd;  /* we made wfd and hold its only copy */
	uint8_t peer_gone; /* its peer closed: a bind now is a re-bind */
	domid_t remote_dom;
	evtchn_port_t remote_port;
	uint32_t gen;
	int rfd;     /* peer -> us */
	int wfd;     /* us -> peer */
	int keepfd;  /* read end of the pipe behind wfd: no SIGPIPE */
};

struct simev {
	char hvdir[PATH_MAX];
	char name[SIM_NAME_MAX];
	domid_t domid;
	int guest;
	int published;
	uint32_t hid;
	int epfd;
	int sock;
	int lockfd;
	int no_nowait;
	struct simfile tbl;
	struct simev_hdr *hdr;
	struct simev_ent *ents;
	struct epoll_event ready[SIMEV_READY];
	int nready, iready;
	int ready_all;    /* the last epoll_wait returned all that was ready */
	uint32_t next_gen;
	unsigned hint;
	struct simev_port ports[SIMEV_NPORTS];
};

static size_t tbl_size(void)
{
	return sizeof(struct simev_hdr) +
	       SIMEV_NPORTS * sizeof(struct simev_ent);
}

static void ep_name(char *buf, size_t len, domid_t domid, uint32_t hid)
{
	if (hid)
		snprintf(buf, len, "dom%u.h%u", (unsigned)domid, hid);
	else
		snprintf(buf, len, "dom%u", (unsigned)domid);
}

static int sock_addr(struct sockaddr_un *sa, const char *hvdir,
		     const char *name)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s.sock",
		     hvdir, name);
	return n < 0 || (size_t)n >= sizeof(sa->sun_path) ? -ENAMETOOLONG : 0;
}

/* Mirrors a port's state into the shared table for binders to read. */
static void tbl_set(struct simev *ev, unsigned idx, uint32_t state,
		    uint32_t remote_dom, uint32_t remote_port, uint32_t pid)
{
	struct simev_ent *e = &ev->ents[idx];

	__atomic_store_n(&e->state, PORT_FREE, __ATOMIC_RELEASE);
	e->remote_dom = remote_dom;
	e->remote_port = remote_port;
	e->peer_pid = pid;
	__atomic_store_n(&e->state, state, __ATOMIC_RELEASE);
}

static int publish(struct simev *ev)
{
	char lockname[SIM_NAME_MAX + 8];
	struct sockaddr_un sa;
	struct epoll_event e = { .events = EPOLLIN };
	int one = 1, rc;

	if (ev->published)
		return 0;
	if (!ev->guest) {
		/* Claim a handle id: the lock dies with its process. */
		for (ev->hid = 1; ev->hid <= SIMEV_MAX_HID; ev->hid++) {
			ep_name(ev->name, sizeof(ev->name), ev->domid, ev->hid);
			snprintf(lockname, sizeof(lockname), "%s.lock", ev->name);
			rc = simfile_lock(ev->hvdir, lockname, &ev->lockfd);
			if (rc == 0)
				break;
			if (rc != -EEXIST)
				goto fail;
		}
		if (ev->hid > SIMEV_MAX_HID) {
			log_err("all %u handle ids of dom%u are taken",
				SIMEV_MAX_HID, (unsigned)ev->domid);
			rc = -EMFILE;
			goto fail;
		}
	}
	rc = sock_addr(&sa, ev->hvdir, ev->name);
	if (rc < 0)
		goto fail;
	ev->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ev->sock < 0)
		goto fail_errno;
	/* We hold the endpoint's lock, so any socket file there is stale. */
	unlink(sa.sun_path);
	if (bind(ev->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(ev->sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
		goto fail_errno;
	e.data.u64 = SIMEV_SOCK_TAG;
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, ev->sock, &e) < 0)
		goto fail_errno;
	snprintf(lockname, sizeof(lockname), "%s.evt", ev->name);
	rc = simfile_create(&ev->tbl, ev->hvdir, lockname, tbl_size(), 1);
	if (rc < 0)
		goto fail;
	ev->hdr = ev->tbl.addr;
	ev->ents = (struct simev_ent *)(ev->hdr + 1);
	*ev->hdr = (struct simev_hdr){
		.magic = SIMEV_MAGIC, .version = SIMEV_VERSION,
		.domid = ev->domid, .hid = ev->hid, .nports = SIMEV_NPORTS,
		.pid = (uint32_t)getpid(),
	};
	rc = simfile_publish(&ev->tbl);
	if (rc < 0)
		goto fail;
	ev->published = 1;
	return 0;
fail_errno:
	rc = -errno;
	log_err("%s: %s", sa.sun_path, strerror(-rc));
fail:
	simfile_destroy(&ev->tbl);
	ev->hdr = NULL;
	ev->ents = NULL;
	if (ev->sock >= 0) {
		close(ev->sock);
		unlink(sa.sun_path);
	}
	ev->sock = -1;
	if (!ev->guest && ev->lockfd >= 0)
		close(ev->lockfd);
	if (!ev->guest) {
		ev->lockfd = -1;
		ev->hid = 0;
	}
	return rc;
}

int simev_create(struct simev **out, const char *hvdir, domid_t domid,
		 int guest)
{
	struct simev *ev;
	int rc;

	*out = NULL;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	ev->domid = domid;
	ev->guest = guest;
	ev->sock = -1;
	ev->lockfd = -1;
	ev->tbl.fd = -1;
	ev->tbl.addr = MAP_FAILED;
	for (unsigned i = 0; i < SIMEV_NPORTS; i++) {
		ev->ports[i].rfd = -1;
		ev->ports[i].wfd = -1;
		ev->ports[i].keepfd = -1;
	}
	if (snprintf(ev->hvdir, sizeof(ev->hvdir), "%s", hvdir) >=
	    (int)sizeof(ev->hvdir)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ev->epfd < 0) {
		rc = -errno;
		log_err("epoll_create1: %s", strerror(-rc));
		goto fail;
	}
	if (guest) {
		ep_name(ev->name, sizeof(ev->name), domid, 0);
		rc = publish(ev);
		if (rc < 0)
			goto fail;
	}
	*out = ev;
	return 0;
fail:
	simev_destroy(ev);
	return rc;
}

static void port_close_fds(struct simev *ev, struct simev_port *p)
{
	if (p->rfd >= 0) {
		epoll_ctl(ev->epfd, EPOLL_CTL_DEL, p->rfd, NULL);
		close(p->rfd);
	}
	if (p->wfd >= 0)
		close(p->wfd);
	if (p->keepfd >= 0)
		close(p->keepfd);
	p->rfd = p->wfd = p->keepfd = -1;
	p->masked = 0;
	p->parked = 0;
}

void simev_destroy(struct simev *ev)
{
	struct sockaddr_un sa;

	if (!ev)
		return;
	for (unsigned i = 0; i < SIMEV_NPORTS; i++)
		port_close_fds(ev, &ev->ports[i]);
	if (ev->sock >= 0) {
		close(ev->sock);
		if (sock_addr(&sa, ev->hvdir, ev->name) == 0)
			unlink(sa.sun_path);
	}
	simfile_destroy(&ev->tbl);
	if (!ev->guest && ev->lockfd >= 0)
		close(ev->lockfd);
	if (ev->epfd >= 0)
		close(ev->epfd);
	free(ev);
}

int simev_fd(struct simev *ev)
{
	return ev->epfd;
}

/* Local port -> index, or -EINVAL (no such port anywhere) / -ENOTCONN (not
 * one of ours), like the Linux evtchn driver. */
static int port_index(struct simev *ev, evtchn_port_t port)
{
	unsigned idx = port & (SIMEV_NPORTS - 1);

	if (idx == 0 || (port >> SIMEV_HID_SHIFT) > SIMEV_MAX_HID)
		return -EINVAL;
	if (!ev->published || (port >> SIMEV_HID_SHIFT) != ev->hid ||
	    ev->ports[idx].state == PORT_FREE)
		return -ENOTCONN;
	return (int)idx;
}

static evtchn_port_t port_number(struct simev *ev, unsigned idx)
{
	return (ev->hid << SIMEV_HID_SHIFT) | idx;
}

static int port_alloc(struct simev *ev)
{
	for (unsigned n = 0; n < SIMEV_NPORTS - 1; n++) {
		unsigned idx = 1 + (ev->hint + n) % (SIMEV_NPORTS - 1);

		if (ev->ports[idx].state == PORT_FREE) {
			ev->hint = idx;
			return (int)idx;
		}
	}
	return -ENOSPC;
}

/* EPOLL_CTL_ADD/MOD: watch the port; EPOLL_CTL_DEL: park it (MOD to no
 * events, so that hang-ups are still reported). */
static int arm(struct simev *ev, unsigned idx, int op)
{
	struct simev_port *p = &ev->ports[idx];
	struct epoll_event e = {
		.events = op == EPOLL_CTL_DEL ? 0 : EPOLLIN,
		.data.u64 = (uint64_t)p->gen << 32 | idx,
	};

	if (epoll_ctl(ev->epfd, op == EPOLL_CTL_DEL ? EPOLL_CTL_MOD : op,
		      p->rfd, &e) < 0) {
		int rc = -errno;

		log_err("epoll_ctl port %u: %s", port_number(ev, idx),
			strerror(-rc));
		return rc;
	}
	return 0;
}

/* Installs the pipes of a connected channel. */
static int port_connect(struct simev *ev, unsigned idx, domid_t remote,
			evtchn_port_t remote_port, uint32_t peer_pid,
			int rfd, int wfd, int keepfd, int own_wfd)
{
	struct simev_port *p = &ev->ports[idx];
	int rc;

	p->rfd = rfd;
	p->wfd = wfd;
	p->keepfd = keepfd;
	p->own_wfd = (uint8_t)own_wfd;
	p->gen = ++ev->next_gen;
	p->masked = 0;
	p->parked = 0;
	rc = arm(ev, idx, EPOLL_CTL_ADD);
	if (rc < 0) {
		port_close_fds(ev, p);
		return rc;
	}
	p->state = PORT_INTERDOMAIN;
	p->remote_dom = remote;
	p->remote_port = remote_port;
	tbl_set(ev, idx, PORT_INTERDOMAIN, remote, remote_port, peer_pid);
	return 0;
}

/* The other side closed: back to unbound for the same remote domain, as
 * Xen's evtchn_close leaves the surviving end. */
static void port_disconnect(struct simev *ev, unsigned idx)
{
	struct simev_port *p = &ev->ports[idx];

	port_close_fds(ev, p);
	p->state = PORT_UNBOUND;
	p->peer_gone = 1;
	tbl_set(ev, idx, PORT_UNBOUND, p->remote_dom, 0, 0);
	log_debug("port %u: peer dom%u closed", port_number(ev, idx),
		  (unsigned)p->remote_dom);
}

static int fd_is_pipe_end(int fd, int accmode, struct stat *st)
{
	int fl = fcntl(fd, F_GETFL);

	return fstat(fd, st) == 0 && S_ISFIFO(st->st_mode) && fl >= 0 &&
	       (fl & O_ACCMODE) == accmode;
}

static void close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* One bind request from the socket: check it against our own state (the
 * shared table is only a hint for binders) and the fds it carries. */
static void take_bind(struct simev *ev, const struct simev_msg *m,
		      int *fds, int nfds, pid_t pid)
{
	struct stat st_r, st_w, st_k;
	unsigned idx = m->port & (SIMEV_NPORTS - 1);
	struct simev_port *p = &ev->ports[idx];
	struct pollfd pf;

	if (nfds != SIMEV_MSG_FDS || m->op != SIMEV_OP_BIND || idx == 0 ||
	    (m->port >> SIMEV_HID_SHIFT) != ev->hid ||
	    m->from_dom >= DOMID_FIRST_RESERVED) {
		log_warn("%s: malformed bind request", ev->name);
		goto reject;
	}
	if (p->state == PORT_INTERDOMAIN && p->remote_dom == m->from_dom) {
		/* A restarted peer rebinding: only if the old one is gone. */
		pf = (struct pollfd){ .fd = p->rfd, .events = POLLIN };
		if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLHUP))
			port_disconnect(ev, idx);
	}
	if (p->state != PORT_UNBOUND || p->remote_dom != m->from_dom) {
		log_warn("%s: bind of port %u by dom%u refused: not unbound for it",
			 ev->name, m->port, m->from_dom);
		goto reject;
	}
	if (!fd_is_pipe_end(fds[0], O_RDONLY, &st_r) ||
	    !fd_is_pipe_end(fds[1], O_WRONLY, &st_w) ||
	    !fd_is_pipe_end(fds[2], O_RDONLY, &st_k) ||
	    st_w.st_ino != st_k.st_ino || st_w.st_dev != st_k.st_dev ||
	    st_r.st_ino == st_w.st_ino) {
		log_warn("%s: bind of port %u: bad descriptors", ev->name,
			 m->port);
		goto reject;
	}
	/* On failure port_connect has closed the fds. */
	if (port_connect(ev, idx, (domid_t)m->from_dom, m->from_port,
			 (uint32_t)pid, fds[0], fds[1], fds[2], 0) == 0 &&
	    p->peer_gone) {
		/* A re-bind (a restarted backend).  On Xen the bind is
		 * synchronous; here what we notified between the new peer's
		 * bind and our taking it went into the dead peer's pipe, and
		 * a ring's next request need not notify again (its req_event
		 * is passed): one spare event makes the new peer look. */
		p->peer_gone = 0;
		(void)simev_notify(ev, m->port);
	}
	return;
reject:
	close_fds(fds, nfds);
}

/* Takes every queued bind request; never blocks. */
static void drain_sock(struct simev *ev)
{
	for (;;) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * SIMEV_MSG_FDS) +
				 CMSG_SPACE(sizeof(struct ucred))];
			struct cmsghdr align;
		} cbuf;
		struct simev_msg m;
		struct iovec iov = { &m, sizeof(m) };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
		};
		int fds[SIMEV_MSG_FDS], nfds = 0;
		pid_t pid = 0;
		ssize_t n;

		n = recvmsg(ev->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log_warn("%s: recvmsg: %s", ev->name, strerror(errno));
			return;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
		     c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET)
				continue;
			if (c->cmsg_type == SCM_RIGHTS) {
				int cnt = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
				int *cf = (int *)CMSG_DATA(c);

				for (int i = 0; i < cnt; i++) {
					int fd;

					memcpy(&fd, cf + i, sizeof(fd));
					if (nfds < SIMEV_MSG_FDS)
						fds[nfds++] = fd;
					else
						close(fd);
				}
			} else if (c->cmsg_type == SCM_CREDENTIALS &&
				   c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
				struct ucred uc;

				memcpy(&uc, CMSG_DATA(c), sizeof(uc));
				pid = uc.pid;
			}
		}
		if ((size_t)n != sizeof(m) || m.magic != SIMEV_MAGIC ||
		    (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
			log_warn("%s: malformed message", ev->name);
			close_fds(fds, nfds);
			continue;
		}
		take_bind(ev, &m, fds, nfds, pid);
	}
}

int simev_alloc_unbound(struct simev *ev, domid_t remote, evtchn_port_t *port)
{
	int idx, rc;

	if (remote >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	rc = publish(ev);
	if (rc < 0)
		return rc;
	idx = port_alloc(ev);
	if (idx < 0)
		return idx;
	ev->ports[idx].state = PORT_UNBOUND;
	ev->ports[idx].peer_gone = 0;
	ev->ports[idx].remote_dom = remote;
	ev->ports[idx].remote_port = 0;
	tbl_set(ev, (unsigned)idx, PORT_UNBOUND, remote, 0, 0);
	*port = port_number(ev, (unsigned)idx);
	return 0;
}

/* Reads the remote's view of its port: one copy, then checked. */
static int remote_port_check(struct simev *ev, domid_t remote,
			     evtchn_port_t rport, char *rname, size_t rlen)
{
	uint32_t rhid = rport >> SIMEV_HID_SHIFT;
	unsigned ridx = rport & (SIMEV_NPORTS - 1);
	char fname[SIM_NAME_MAX + 8];
	struct simev_hdr hdr;
	struct simev_ent ent;
	size_t size;
	void *map;
	int fd, rc;

	if (ridx == 0 || rhid > SIMEV_MAX_HID || remote >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	ep_name(rname, rlen, remote, rhid);
	snprintf(fname, sizeof(fname), "%s.evt", rname);
	rc = simfile_open(ev->hvdir, fname, 0, &fd, &size);
	if (rc < 0)
		return rc == -ESRCH && rhid ? -EINVAL : rc;
	if (size < tbl_size()) {
		close(fd);
		return -EINVAL;
	}
	map = mmap(NULL, tbl_size(), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -errno;
	memcpy(&hdr, map, sizeof(hdr));
	memcpy(&ent, (char *)map + sizeof(hdr) + ridx * sizeof(ent), sizeof(ent));
	munmap(map, tbl_size());
	if (hdr.magic != SIMEV_MAGIC || hdr.version != SIMEV_VERSION ||
	    hdr.domid != remote || hdr.hid != rhid || hdr.nports != SIMEV_NPORTS) {
		log_warn("%s: bad port table", rname);
		return -EINVAL;
	}
	if (ent.state == PORT_UNBOUND && ent.remote_dom == ev->domid)
		return 0;
	/* Bound to a process of ours that died before the owner noticed. */
	if (ent.state == PORT_INTERDOMAIN && ent.remote_dom == ev->domid &&
	    ent.peer_pid && ent.peer_pid != (uint32_t)getpid() &&
	    kill((pid_t)ent.peer_pid, 0) < 0 && errno == ESRCH)
		return 0;
	log_debug("%s port %u is not unbound for dom%u", rname, rport,
		  (unsigned)ev->domid);
	return -EINVAL;
}

static void pipe_shrink(int fd)
{
	/* One page instead of sixteen: notifications are single bytes, and
	 * the per-user pipe page budget is shared by every channel. */
	(void)fcntl(fd, F_SETPIPE_SZ, 4096);
}

/* The two pipes of a channel, each shrunk to a page. */
static int open_pipes(int to_peer[2], int from_peer[2])
{
	if (pipe2(to_peer, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pipe2(from_peer, O_CLOEXEC | O_NONBLOCK) < 0) {
		int rc = -errno;

		log_err("pipe2: %s", strerror(-rc));
		return rc;
	}
	pipe_shrink(to_peer[1]);
	pipe_shrink(from_peer[1]);
	return 0;
}

/* Sends m with the descriptors sfds to the remote's socket at sa.  A
 * unix datagram stays charged to its sender's buffer until the receiver
 * reads it: sent from our own socket, binds to guests that never look
 * would use it up and block binds to every other guest.  A socket of its
 * own per bind charges only itself. */
static int send_bind(const struct sockaddr_un *sa, const char *rname,
		     struct simev_msg *m, const int sfds[SIMEV_MSG_FDS])
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SIMEV_MSG_FDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { m, sizeof(*m) };
	struct msghdr mh = {
		.msg_name = (void *)sa, .msg_namelen = sizeof(*sa),
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
	};
	struct cmsghdr *c;
	int tx, rc = 0;

	memset(&cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * SIMEV_MSG_FDS);
	memcpy(CMSG_DATA(c), sfds, sizeof(int) * SIMEV_MSG_FDS);
	tx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (tx < 0 || sendmsg(tx, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		rc = errno == ENOENT || errno == ECONNREFUSED ? -ESRCH : -errno;
		log_warn("bind to %s port %u: %s", rname, m->port,
			 strerror(errno));
	}
	if (tx >= 0)
		close(tx);
	return rc;
}

int simev_bind_interdomain(struct simev *ev, domid_t remote,
			   evtchn_port_t remote_port, evtchn_port_t *local)
{
	char rname[SIM_NAME_MAX];
	struct sockaddr_un sa;
	int to_peer[2] = { -1, -1 }, from_peer[2] = { -1, -1 };
	struct simev_msg m = {
		.magic = SIMEV_MAGIC, .op = SIMEV_OP_BIND,
		.port = remote_port, .from_dom = ev->domid,
	};
	int idx, rc;

	rc = publish(ev);
	if (rc < 0)
		return rc;
	rc = remote_port_check(ev, remote, remote_port, rname, sizeof(rname));
	if (rc < 0)
		return rc;
	idx = port_alloc(ev);
	if (idx < 0)
		return idx;
	rc = sock_addr(&sa, ev->hvdir, rname);
	if (rc < 0)
		return rc;
	rc = open_pipes(to_peer, from_peer);
	if (rc < 0)
		goto fail;
	m.from_port = port_number(ev, (unsigned)idx);
	/* The owner gets: its read end, its write end, and the read end
	 * behind its write end (its guard against SIGPIPE). */
	rc = send_bind(&sa, rname, &m,
		       (int[SIMEV_MSG_FDS]){ to_peer[0], from_peer[1], from_peer[0] });
	if (rc < 0)
		goto fail;
	/* Only the owner may write into from_peer: its exit is our hang-up. */
	close(from_peer[1]);
	from_peer[1] = -1;
	rc = port_connect(ev, (unsigned)idx, remote, remote_port, 0,
			  from_peer[0], to_peer[1], to_peer[0], 1);
	if (rc < 0)
		return rc;
	*local = port_number(ev, (unsigned)idx);
	return 0;
fail:
	close_fds(to_peer, 2);
	close_fds(from_peer, 2);
	return rc;
}

static ssize_t pipe_rw(struct simev *ev, int fd, void *buf, size_t len,
		       int wr)
{
	struct iovec iov = { buf, len };
	ssize_t n;

	if (!ev->no_nowait) {
		/* RWF_NOWAIT: non-blocking whatever a peer sharing the file
		 * description did to O_NONBLOCK. */
		n = wr ? pwritev2(fd, &iov, 1, -1, RWF_NOWAIT)
		       : preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
		if (n >= 0 || errno != EOPNOTSUPP)
			return n;
		log_warn("kernel lacks RWF_NOWAIT on pipes: relying on O_NONBLOCK");
		ev->no_nowait = 1;
	}
	return wr ? write(fd, buf, len) : read(fd, buf, len);
}

int simev_notify(struct simev *ev, evtchn_port_t port)
{
	int idx = port_index(ev, port);
	struct simev_port *p;
	ssize_t n;

	if (idx < 0)
		return idx;
	p = &ev->ports[idx];
	if (p->state == PORT_UNBOUND && ev->sock >= 0) {
		/* A bind may be waiting on the socket. */
		drain_sock(ev);
	}
	if (p->state != PORT_INTERDOMAIN)
		return 0;   /* Xen drops notifications on unbound ports */
	/* A write end we made and alone hold keeps our O_NONBLOCK: plain
	 * write() is safe, and cheaper than pwritev2. */
	do
		n = p->own_wfd ? write(p->wfd, "!", 1)
			       : pipe_rw(ev, p->wfd, "!", 1, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN) {
		/* EAGAIN: the pipe is full, so an event is pending already. */
		int rc = -errno;

		log_warn("notify port %u: %s", port, strerror(-rc));
		return rc;
	}
	return 0;
}

/* Empties a port's pipe: 1 if it had notifications, 0 if it was empty,
 * -EPIPE if the peer is gone. */
static int port_drain(struct simev *ev, struct simev_port *p, int hup)
{
	char buf[256];
	int got = 0;
	ssize_t n;

	for (;;) {
		n = pipe_rw(ev, p->rfd, buf, sizeof(buf), 0);
		if (n > 0) {
			got = 1;
			if ((size_t)n < sizeof(buf))
				return 1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (n < 0 && errno == EAGAIN && hup && !got))
			return got ? 1 : -EPIPE;
		return got;
	}
}

int simev_pending(struct simev *ev, evtchn_port_t *port)
{
	for (;;) {
		struct epoll_event e;
		struct simev_port *p;
		unsigned idx;
		int rc, hup;

		if (ev->iready == ev->nready) {
			int n;

			/* Everything that was ready has been returned: say so
			 * without another epoll_wait.  Anything newer keeps
			 * the fd readable, so an event loop comes back. */
			if (ev->ready_all) {
				ev->ready_all = 0;
				return -EAGAIN;
			}
			n = epoll_wait(ev->epfd, ev->ready, SIMEV_READY, 0);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				rc = -errno;
				log_err("epoll_wait: %s", strerror(-rc));
				return rc;
			}
			ev->nready = n;
			ev->iready = 0;
			if (n == 0)
				return -EAGAIN;
			ev->ready_all = n < SIMEV_READY;
		}
		e = ev->ready[ev->iready++];
		if (e.data.u64 == SIMEV_SOCK_TAG) {
			/* New ports may be ready already: look again. */
			drain_sock(ev);
			ev->ready_all = 0;
			continue;
		}
		idx = (unsigned)(e.data.u64 & (SIMEV_NPORTS - 1));
		p = &ev->ports[idx];
		if (p->state != PORT_INTERDOMAIN || p->gen != e.data.u64 >> 32)
			continue;   /* unbound since epoll_wait */
		hup = (e.events & (EPOLLHUP | EPOLLERR)) != 0;
		if (p->masked) {
			/* Fired while masked: the event waits in the pipe; park
			 * the port until unmask.  A hang-up cannot wait (epoll
			 * reports it even when parked), and the channel is gone
			 * anyway. */
			if (hup || arm(ev, idx, EPOLL_CTL_DEL) < 0)
				port_disconnect(ev, idx);
			else
				p->parked = 1;
			continue;
		}
		rc = port_drain(ev, p, hup);
		if (rc < 0) {
			port_disconnect(ev, idx);
			continue;
		}
		if (rc == 0)
			continue;   /* spurious: nothing to read after all */
		p->masked = 1;
		*port = port_number(ev, idx);
		return 0;
	}
}

int simev_unmask(struct simev *ev, evtchn_port_t port)
{
	int idx = port_index(ev, port);
	struct simev_port *p;

	if (idx < 0)
		return idx;
	p = &ev->ports[idx];
	if (p->state != PORT_INTERDOMAIN || !p->masked)
		return 0;
	p->masked = 0;
	if (!p->parked)
		return 0;
	p->parked = 0;
	return arm(ev, (unsigned)idx, EPOLL_CTL_MOD);
}

int simev_unbind(struct simev *ev, evtchn_port_t port)
{
	int idx = port_index(ev, port);
	struct simev_port *p;

	if (idx < 0)
		return idx;
	p = &ev->ports[idx];
	/* Closing our ends is what tells the peer. */
	port_close_fds(ev, p);
	p->state = PORT_FREE;
	tbl_set(ev, (unsigned)idx, PORT_FREE, 0, 0, 0);
	return 0;
}
