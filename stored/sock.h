/* The unix socket transport: dom0's privileged socket, and optional guest
 * sockets whose clients act as one unprivileged domain.  A guest socket
 * takes at most quota.socket_conns connections; every accept is checked
 * by conn_admit (per domain, dom0's reserve, the daemon's limit); the
 * connections over a limit are accepted and closed at once (the client
 * sees end of file), and a failing accept pauses the listener (sock.c). */
#ifndef STORED_SOCK_H
#define STORED_SOCK_H

#include <stdbool.h>

struct stored;
struct sock_listener;

int sock_listen(struct stored *sd, const char *path, unsigned domid,
		bool privileged, struct sock_listener **out);
/* After every connection it accepted is closed (stored_destroy). */
void sock_listener_free(struct sock_listener *l);

#endif
