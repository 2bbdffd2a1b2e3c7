#!/bin/sh
# /init of the test's dom0 (tests/xen/run.sh): mounts, loads the modules,
# mounts the 9p share holding pvd's tree and runs tests/xen/dom0-test.sh
# from it, so that the test changes without rebuilding this initramfs.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /run/lock /run/xen /run/xenstored
ln -s /run /var/run

end() {
	echo "XENTEST END $*"
	sync
	poweroff -f
}

while read -r ko; do
	insmod "$ko" 2>/dev/null || echo "xentest: insmod $ko failed"
done < /lib/modules/load.list
mount -t xenfs xenfs /proc/xen || { echo "XENTEST FAIL dom0-up no xenfs"; end; }
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host /host ||
	{ echo "XENTEST FAIL dom0-up no 9p share"; end; }
for a in $(cat /proc/cmdline); do
	case "$a" in
	xtbuild=*) XT_BUILD=/host/${a#xtbuild=} ;;
	xtbin=*) XT_BIN=/host/${a#xtbin=} ;;
	xtskip=*) XT_SKIP_BASE=${a#xtskip=} ;;
	xtrounds=*) XT_ROUNDS=${a#xtrounds=} ;;
	xtparts=*) XT_PARTS=${a#xtparts=} ;;
	esac
done
export XT_BUILD XT_BIN XT_SKIP_BASE XT_ROUNDS XT_PARTS
echo "XENTEST PASS dom0-up $(cut -d' ' -f1 /proc/uptime)s after dom0's kernel start"
sh /host/tests/xen/dom0-test.sh
end "rc=$?"
