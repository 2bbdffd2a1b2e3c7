#!/bin/sh
# Installs the Debian packages pvd needs to build, test and benchmark (or
# the packages named as arguments: tests/xen/deps.sh).  As root it runs
# apt-get; otherwise it prints the apt-get line and fails.
set -eu

PKGS="gcc make pkg-config clang libclang-rt-14-dev
libevent-dev libaio-dev liburing-dev libssl-dev libargon2-dev cryptsetup-bin libnl-3-dev libnl-route-3-dev
libcmocka-dev libsystemd-dev libxen-dev zlib1g-dev libjansson-dev
xenstore-utils redis-server redis-tools procps psmisc fio qemu-utils libnbd-bin libnbd-dev nbdkit tmux python3
scdoc man-db socat
iperf3 ethtool iproute2 jq iputils-ping
curl python3-prometheus-client python3-cryptography
librbd-dev ceph-mon ceph-osd ceph-common"
[ $# -gt 0 ] && PKGS="$*"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "pvd: missing Debian packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "pvd: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || true
# redis-server's postinst tries to start the service; that is harmless.
apt-get install -y -q --no-install-recommends $missing >/dev/null
