#!/bin/sh
# The Debian packages `make check-xen` needs (tests/xen/run.sh), installed
# when run as root; otherwise it lists them and fails.
exec "$(dirname "$0")/../../scripts/deps.sh" xen-hypervisor-4.17-amd64 xen-utils-4.17 \
	xenstore-utils linux-image-amd64 busybox-static qemu-system-x86 lvm2 cpio xz-utils kmod strace \
	iperf3 ethtool
