/* pvctl: the network commands' (network.c) parsing of the command line,
 * exposed for tests/unit/test_pvctl_net.c.  The commands themselves
 * (cmd_network_attach, ...) are in pvctl.h. */
#ifndef PVCTL_NETWORK_H
#define PVCTL_NETWORK_H

#include <stddef.h>

#include "pvctl.h"

/* network-attach's words (xl's: key=value each) as one VIFSPEC for
 * xlcfg_parse_vif: joined by commas, every ip= word merged into one ip=
 * (blank separated), as xl's ip= takes a list.  0, or -E2BIG when the spec
 * would not fit in len, -EINVAL for a word without '='. */
int network_spec(int argc, char **argv, char *spec, size_t len);

/* DEVID or MAC, as network-detach takes it: 1 and *devid for a number, 2
 * and mac for a MAC, -EINVAL otherwise. */
int network_which(const char *arg, unsigned *devid, uint8_t mac[6]);

#endif
