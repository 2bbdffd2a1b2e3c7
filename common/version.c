/* The version every program prints for --version.  PVD_VERSION comes from
 * the top-level VERSION file (the Makefile passes it to this file only, so
 * a new version rebuilds one object). */
#include <stdio.h>

#include "pvd/daemon.h"

#ifndef PVD_VERSION
#define PVD_VERSION "unknown"
#endif

const char *pvd_version(void)
{
	return PVD_VERSION;
}

void pvd_print_version(const char *prog)
{
	printf("%s (pvd) %s\n", prog, PVD_VERSION);
}
