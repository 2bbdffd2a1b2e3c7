/* udp_pps: small-packet rate, for `make bench`'s netback section.
 *
 * iperf3's UDP receiver tops out near 80k packets/s on this machine
 * (../shared/baselines.md), below what the paths under test carry, so the
 * packet rate is measured with batched system calls on both ends:
 *
 *   udp_pps recv PORT SECS          counts datagrams for SECS seconds after
 *                                   the first one, prints "pps N"
 *   udp_pps send ADDR PORT SECS LEN sends LEN-byte datagrams as fast as
 *                                   sendmmsg allows, prints "sent N"
 *
 * IPv4 only.  Exit 1 on a socket error, 2 on bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pvd/num.h"

#define BATCH 64
#define MAXLEN 1472

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int do_recv(unsigned port, unsigned secs)
{
	static char buf[BATCH][MAXLEN];
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rcvbuf = 8 << 20;
	unsigned long long n = 0;
	double t0 = 0, t;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				 sizeof(rcvbuf)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("udp_pps recv");
		return 1;
	}
	memset(msg, 0, sizeof(msg));
	for (unsigned i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ buf[i], MAXLEN };
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		/* Bounded: a sender that never comes ends the run. */
		if (poll(&p, 1, 2000) <= 0)
			break;
		int r = recvmmsg(fd, msg, BATCH, MSG_DONTWAIT, NULL);
		if (r < 0 && errno != EAGAIN) {
			perror("recvmmsg");
			return 1;
		}
		if (r > 0 && !t0)
			t0 = now_s();
		n += r > 0 ? (unsigned)r : 0;
		if (t0 && now_s() - t0 >= secs)
			break;
	}
	t = t0 ? now_s() - t0 : 0;
	printf("pps %.0f\n", t > 0 ? (double)n / t : 0.0);
	close(fd);
	return 0;
}

static int do_send(const char *addr, unsigned port, unsigned secs,
		   unsigned len)
{
	static char buf[MAXLEN];
	struct mmsghdr msg[BATCH];
	struct iovec iov = { buf, len };
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	unsigned long long n = 0;
	double end;

	if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("udp_pps send");
		return 1;
	}
	memset(msg, 0, sizeof(msg));
	for (unsigned i = 0; i < BATCH; i++) {
		msg[i].msg_hdr.msg_iov = &iov;
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	end = now_s() + secs;
	while (now_s() < end) {
		int r = sendmmsg(fd, msg, BATCH, 0);
		/* A full queue on the way (ENOBUFS) is the rate limit. */
		if (r < 0 && errno != ENOBUFS && errno != EAGAIN &&
		    errno != ECONNREFUSED) {
			perror("sendmmsg");
			return 1;
		}
		n += r > 0 ? (unsigned)r : 0;
	}
	printf("sent %llu\n", n);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t port, secs, len;

	if (argc == 4 && !strcmp(argv[1], "recv") &&
	    !pvd_parse_uint(argv[2], 65535, &port) &&
	    !pvd_parse_uint(argv[3], 3600, &secs))
		return do_recv((unsigned)port, (unsigned)secs);
	if (argc == 6 && !strcmp(argv[1], "send") &&
	    !pvd_parse_uint(argv[3], 65535, &port) &&
	    !pvd_parse_uint(argv[4], 3600, &secs) &&
	    !pvd_parse_uint(argv[5], MAXLEN, &len))
		return do_send(argv[2], (unsigned)port, (unsigned)secs,
			       (unsigned)len);
	fprintf(stderr, "usage: udp_pps recv PORT SECS | "
		"udp_pps send ADDR PORT SECS LEN\n");
	return 2;
}
