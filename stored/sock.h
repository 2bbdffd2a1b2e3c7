/* The unix socket transport: dom0's privileged socket, and optional guest
 * sockets whose clients act as one unprivileged domain. */
#ifndef STORED_SOCK_H
#define STORED_SOCK_H

#include <stdbool.h>

struct stored;
struct sock_listener;

int sock_listen(struct stored *sd, const char *path, unsigned domid,
		bool privileged, struct sock_listener **out);
void sock_listener_free(struct sock_listener *l);

#endif
