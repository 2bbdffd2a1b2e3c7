#!/bin/sh
# /init of the test's domU (tests/xen/run.sh).  Everything it prints goes to
# hvc0, i.e. to the console backend in dom0 (pvd-consoled), whose log the
# dom0 script reads: XENTEST PASS/FAIL/INFO/FIGURE lines are results,
# XENTEST SYNC lines ask dom0 to act.  xt=anchor, xt=pvd or xt=xl on the
# kernel command line picks the part.  Every wait is bounded.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# xl shutdown: Linux's orderly_poweroff runs /sbin/poweroff, which asks
# this shell (pid 1) to power off.
printf '#!/bin/sh\nkill -USR2 1\n' > /sbin/poweroff
chmod 755 /sbin/poweroff
mode=none
ROUNDS=5
for a in $(cat /proc/cmdline); do
	case "$a" in xt=*) mode=${a#xt=} ;; xtrounds=*) ROUNDS=${a#xtrounds=} ;; esac
done
echo "XENTEST INFO domU $mode up after $(cut -d' ' -f1 /proc/uptime)s, $(nproc) vcpus"

pass() { echo "XENTEST PASS $*"; }
fail() { echo "XENTEST FAIL $*"; }

# Linux's blkfront as shipped asks for a one-page ring; ask for a multi-page
# one (order 2) so that the backend's support is exercised.  Same for the
# in-kernel backend (the anchor) and pvd.
insmod /lib/modules/*/kernel/drivers/block/xen-blkfront.ko max_ring_page_order=2 ||
	fail "blkfront-module"

MIB=1048576
PAT=/tmp/pattern
# A deterministic 1 MiB block; dom0 builds the same one.
seq 1 200000 | head -c $MIB > $PAT

# waitfor SECONDS COMMAND...: bounded wait for a condition.
waitfor() {
	local n=$(($1 * 10))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ "$n" -le 0 ] && return 1
		usleep 100000
	done
}

# pattern DISK MIB: writes MIB MiB of the pattern, flushes, reads back
# with O_DIRECT and compares.
pattern() {
	local d=$1 n=$2 i=0 want got
	want=$(i=0; while [ $i -lt "$n" ]; do cat $PAT; i=$((i + 1)); done | md5sum | cut -d' ' -f1)
	while [ $i -lt "$n" ]; do
		dd if=$PAT of=/dev/$d bs=$MIB seek=$i count=1 oflag=direct conv=notrunc 2>/dev/null ||
			{ fail "$3 write error at MiB $i"; return 1; }
		i=$((i + 1))
	done
	sync
	# fsync: a flush request (write cache is "write back") down to the backend
	dd if=/dev/null of=/dev/$d count=0 conv=notrunc,fsync 2>/dev/null || { fail "$3 fsync"; return 1; }
	blockdev --flushbufs /dev/$d
	got=$(dd if=/dev/$d bs=$MIB count=$n iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
	if [ "$want" = "$got" ]; then
		pass "$3 $d: $n MiB written, flushed, read back, md5 $got"
	else
		fail "$3 $d: md5 $got, want $want"
	fi
}

# speed DISK: dd throughput as busybox reports it, O_DIRECT, 1 MiB blocks.
speed() {
	local d=$1 label=$2 t0 t1 t2 w r round=1 ok=1 s0
	s0=$(head -1 /proc/stat)
	while [ $round -le $ROUNDS ]; do
		t0=$(cut -d' ' -f1 /proc/uptime)
		w=$(dd if=/dev/zero of=/dev/$d bs=$MIB count=64 oflag=direct conv=fsync 2>&1 | tail -1)
		t1=$(cut -d' ' -f1 /proc/uptime)
		r=$(dd if=/dev/$d of=/dev/null bs=$MIB count=64 iflag=direct 2>&1 | tail -1)
		t2=$(cut -d' ' -f1 /proc/uptime)
		if [ "$w$r" != "64+0 records out64+0 records out" ]; then
			fail "$label dd: $w / $r"
			return 1
		fi
		echo "$t0 $t1 $t2" | awk -v l="$label" -v n=$round '{
			w = $2 - $1; r = $3 - $2; if (w <= 0) w = 0.01; if (r <= 0) r = 0.01
			printf "XENTEST FIGURE %s round %d: dd 64 MiB, 1 MiB blocks, O_DIRECT: write %.2f s = %.1f MB/s, read %.2f s = %.1f MB/s\n", l, n, w, 67.108864 / w, r, 67.108864 / r }'
		round=$((round + 1))
	done
	# Where the guest's vCPUs were meanwhile (steal: waiting for a CPU).
	echo "$s0 $(head -1 /proc/stat)" | awk -v l="$label" '{
		for (i = 2; i <= 9; i++) { d[i] = $(i + 11) - $i; t += d[i] }
		if (t > 0) printf "XENTEST INFO %s: the guest'"'"'s CPUs during the rounds: user %.0f%% system %.0f%% idle %.0f%% iowait %.0f%% irq+softirq %.0f%% steal %.0f%%\n", l,
			100 * (d[2] + d[3]) / t, 100 * d[4] / t, 100 * d[5] / t, 100 * d[6] / t, 100 * (d[7] + d[8]) / t, 100 * d[9] / t }'
	pass "$label $ROUNDS x 64 MiB written and read with dd"
}

features() {
	local d=$1 q=/sys/block/$1/queue
	echo "XENTEST INFO $d size=$(($(cat /sys/block/$d/size) / 2048))MiB" \
		"hw_queues=$(ls /sys/block/$d/mq | wc -l)" \
		"max_segments=$(cat $q/max_segments)" \
		"max_hw_sectors_kb=$(cat $q/max_hw_sectors_kb)" \
		"discard_max_bytes=$(cat $q/discard_max_bytes)" \
		"write_cache=$(cat $q/write_cache 2>/dev/null)" \
		"ro=$(cat /sys/block/$d/ro)"
}

case $mode in
anchor)
	if waitfor 60 test -b /dev/xvda; then
		pass "anchor-connected xvda from Linux's xen-blkback"
		features xvda
		speed xvda anchor-dd
		echo "XENTEST SYNC dd-done"
		pattern xvda 32 anchor-pattern
	else
		fail "anchor-connected no xvda after 60s"
	fi
	;;
pvd)
	for d in xvda xvdb xvdc; do
		if waitfor 60 test -b /dev/$d; then
			features $d
		else
			fail "vbd-connected-$d no /dev/$d after 60s"
		fi
	done
	# Measured before dom0 is asked to look (its checks would compete for
	# the CPUs), so that dom0 is as idle as during the anchor's rounds.
	[ -b /dev/xvdb ] && speed xvdb pvd-dd
	# The same rounds on xvda, the raw file that pvd-blkback serves
	# itself: what an xl `file:` disk is with pvd's backend, where Linux's
	# needs the loop device the anchor had.  Then the whole disk is
	# discarded, so that dom0's allocation check starts from holes.
	if [ -b /dev/xvda ] && speed xvda pvd-file-dd; then
		blkdiscard /dev/xvda || fail "pvd-file-dd blkdiscard of the whole xvda"
	fi
	echo "XENTEST SYNC disks-up"
	for d in xvda xvdb xvdc; do
		[ -b /dev/$d ] && pattern $d 32 pattern-$d
	done
	# Discard: 16 MiB written past the pattern, then discarded; dom0 checks
	# that the file's blocks went away.
	if [ -b /dev/xvda ]; then
		i=32
		while [ $i -lt 48 ]; do
			dd if=$PAT of=/dev/xvda bs=$MIB seek=$i count=1 oflag=direct conv=notrunc 2>/dev/null
			i=$((i + 1))
		done
		sync
		# dom0 measures the file's blocks, then tells us to go on.
		echo "XENTEST SYNC written-48"
		read -t 60 line || fail "discard no go-ahead from dom0"
		if out=$(blkdiscard -o $((32 * MIB)) -l $((16 * MIB)) /dev/xvda 2>&1); then
			pass "discard blkdiscard of 16 MiB at 32 MiB on xvda (discard_max_bytes=$(cat /sys/block/xvda/queue/discard_max_bytes))"
		else
			fail "discard blkdiscard: $out"
		fi
	fi
	# Console input: dom0 writes a line into our pty.
	echo "XENTEST SYNC want-input"
	if read -t 120 line; then
		case "$line" in
		*xentest-ping*) pass "console-input read '$line' from hvc0" ;;
		*) fail "console-input read '$line'" ;;
		esac
	else
		fail "console-input nothing within 120s"
	fi
	# Detach under the running guest.
	echo "XENTEST SYNC want-detach"
	# dom0 restarts the store first (a while under a busy emulation).
	if waitfor 180 test ! -e /sys/block/xvdb; then
		if dd if=/dev/xvdb of=/dev/null bs=4096 count=1 2>/dev/null; then
			fail "detach-guest xvdb still readable"
		else
			pass "detach-guest xvdb went away; $(ls /sys/block | tr '\n' ' ')left"
		fi
	else
		fail "detach-guest xvdb still there after 180s"
	fi
	# Attach under the running guest: dom0 hot-plugs xvdd, whose first
	# bytes it wrote; blkfront picks it up from the store.
	if waitfor 60 test -b /dev/xvdd; then
		got=$(dd if=/dev/xvdd bs=512 count=1 iflag=direct 2>/dev/null | head -c 20)
		case "$got" in
		xentest-hot-attach*) pass "hot-attach xvdd appeared in the running guest and reads '$got'" ;;
		*) fail "hot-attach xvdd reads '$got'" ;;
		esac
	else
		fail "hot-attach no /dev/xvdd after 60s"
	fi
	if dmesg | grep -qE 'Oops|BUG:|WARNING:|Call Trace'; then
		dmesg | grep -E -A5 'Oops|BUG:|WARNING:|Call Trace' | sed 's/^/XENTEST INFO dmesg: /'
	fi
	;;
zstore)
	# The store's workload over this guest's own ring (xenbus's
	# /dev/xen/xenbus); dom0 collects the line from the store, then
	# destroys us (tests/xen/dom0-part-zstore.sh).
	XENSTORED_PATH=/dev/xen/xenbus XS_BENCH_RESULT=data/xs-bench-result \
		XS_BENCH_DENIED=/local/domain/0/name XS_BENCH_QUOTA_VALUE=3000 \
		/bin/xs_bench domU 400 || fail "store-bench xs_bench in the domU: exit $?"
	sleep 120
	;;
xl)
	# tests/xen/dom0-part-xl.sh: two disks from xl create's disk= lines,
	# a third hot-plugged read-only and unplugged by xl
	# block-attach/detach, then
	# xl destroy under the running guest.
	for d in xvda xvdb; do
		waitfor 60 test -b /dev/$d || fail "xl-io-$d no /dev/$d after 60s"
	done
	for d in xvda xvdb; do
		[ -b /dev/$d ] && pattern $d 8 xl-io-$d
	done
	echo "XENTEST SYNC xl-disks-up"
	if waitfor 90 test -b /dev/xvdc; then
		got=$(dd if=/dev/xvdc bs=512 count=1 iflag=direct 2>/dev/null | head -c 16)
		# xl attached it read-only (access=ro): the backend's "info"
		# says VDISK_READONLY, so blkfront makes the disk read-only and
		# a write fails in the guest.
		ro=$(cat /sys/block/xvdc/ro 2>/dev/null)
		if dd if=/dev/zero of=/dev/xvdc bs=512 count=1 oflag=direct 2>/dev/null; then
			wr="a write went through"
		else
			wr="a write failed"
		fi
		case "$got/$ro/$wr" in
		"xentest-xl-hot"*"/1/a write failed") echo "XENTEST INFO xl-attach xvdc appeared in the guest and reads '$got'; read-only (ro=1), a write failed" ;;
		*) fail "xl-attach xvdc reads '$got'; ro=$ro, $wr" ;;
		esac
	else
		fail "xl-attach no /dev/xvdc after 90s"
	fi
	echo "XENTEST SYNC xl-attached"
	if waitfor 90 test ! -e /sys/block/xvdc; then
		echo "XENTEST INFO xl-detach xvdc went away in the guest; $(ls /sys/block | tr '\n' ' ')left"
	else
		fail "xl-detach xvdc still there after 90s"
	fi
	echo "XENTEST SYNC xl-detached"
	if dmesg | grep -qE 'Oops|BUG:|WARNING:|Call Trace'; then
		dmesg | grep -E -A5 'Oops|BUG:|WARNING:|Call Trace' | sed 's/^/XENTEST INFO dmesg: /'
	fi
	# dom0 destroys us with the disks connected; bounded all the same.
	sleep 300
	;;
net|netanchor)
	# Linux's own netfront against pvd-netback (tests/xen/dom0-part-net.sh):
	# eth0 up, ping dom0, an iperf3 server for dom0's client, the offloads
	# and queues the guest took; then eth1 hot-plugged and unplugged by
	# xl under it.  dom0 destroys the domain at the end.  netanchor: the
	# same against Linux's xen-netback, up to the iperf3 server, results
	# as INFO lines (the anchor is a figure, not a test of pvd).
	if [ $mode = netanchor ]; then
		pass() { echo "XENTEST INFO anchor: $*"; }
		fail() { echo "XENTEST INFO anchor: FAIL $*"; }
	fi
	insmod /lib/modules/*/kernel/drivers/net/xen-netfront.ko || fail "net-connected insmod xen-netfront"
	if waitfor 60 test -e /sys/class/net/eth0; then
		ip addr add 10.99.0.2/24 dev eth0
		ip link set lo up
		ip link set eth0 up
		waitfor 20 grep -q 1 /sys/class/net/eth0/carrier || echo "XENTEST INFO eth0 no carrier after 20s"
		echo "XENTEST INFO eth0 $(cat /sys/class/net/eth0/address) mtu $(cat /sys/class/net/eth0/mtu)" \
			"tx queues $(ls -d /sys/class/net/eth0/queues/tx-* | wc -l)" \
			"rx queues $(ls -d /sys/class/net/eth0/queues/rx-* | wc -l)"
		k=$(/usr/sbin/ethtool -k eth0 2>&1)
		echo "$k" | grep -E 'scatter-gather:|tcp-segmentation-offload:|tx-checksumming:|rx-checksumming:|generic-receive-offload:|tx-tcp6-segmentation:' |
			sed 's/^[[:space:]]*/XENTEST INFO ethtool -k eth0: /'
		sg=$(echo "$k" | sed -n 's/^scatter-gather: \([a-z]*\).*/\1/p')
		tso=$(echo "$k" | sed -n 's/^tcp-segmentation-offload: \([a-z]*\).*/\1/p')
		csum=$(echo "$k" | sed -n 's/^tx-checksumming: \([a-z]*\).*/\1/p')
		if [ "$sg" = on ] && [ "$tso" = on ]; then
			pass "net-offloads the guest's eth0: scatter-gather $sg, tcp-segmentation-offload $tso, tx-checksumming $csum"
		else
			fail "net-offloads the guest's eth0: scatter-gather '$sg', tcp-segmentation-offload '$tso': $(echo "$k" | head -3 | tr '\n' ' ')"
		fi
		i=0
		while [ $i -lt 10 ] && ! ping -c 1 -W 1 10.99.0.1 >/dev/null 2>&1; do i=$((i + 1)); done
		if out=$(ping -c 3 -W 2 10.99.0.1 2>&1); then
			pass "net-ping-guest domU -> dom0: $(echo "$out" | tail -1)"
		else
			fail "net-ping-guest domU -> dom0: $(echo "$out" | tail -2 | tr '\n' ' ')"
		fi
		/usr/bin/iperf3 -s > /tmp/iperf3-s.log 2>&1 &
		# Listening on 5201 (0x1451); its own output is buffered.
		waitfor 10 grep -q ':1451 0' /proc/net/tcp /proc/net/tcp6 ||
			echo "XENTEST INFO iperf3 -s not listening after 10s: $(head -3 /tmp/iperf3-s.log | tr '\n' ' ')"
	else
		fail "net-connected no eth0 after 60s"
	fi
	echo "XENTEST SYNC net-up"
	# dom0 runs iperf3 against us, then network-attach.
	if [ $mode = netanchor ]; then
		:
	elif waitfor 240 test -e /sys/class/net/eth1; then
		ip link set eth1 up
		echo "XENTEST INFO eth1 appeared: $(cat /sys/class/net/eth1/address)"
		echo "XENTEST SYNC eth1-up"
		if waitfor 120 test ! -e /sys/class/net/eth1; then
			echo "XENTEST INFO eth1 went away; $(ls /sys/class/net | tr '\n' ' ')left"
			echo "XENTEST SYNC eth1-gone"
		else
			echo "XENTEST INFO eth1 still there after 120s"
		fi
	else
		echo "XENTEST INFO no eth1 after 240s"
	fi
	if dmesg | grep -qE 'Oops|BUG:|WARNING:|Call Trace'; then
		dmesg | grep -E -A5 'Oops|BUG:|WARNING:|Call Trace' | sed 's/^/XENTEST INFO dmesg: /'
	fi
	dmesg | grep -iE 'xen_netfront|netfront' | tail -5 | sed 's/^/XENTEST INFO dmesg: /'
	echo "XENTEST SYNC net-done"
	# dom0 destroys us (xl destroy is what it checks); bounded all the same.
	sleep 300
	;;
*)
	fail "domU-mode unknown mode $mode"
	;;
esac
sync
echo "XENTEST SYNC domu-done"
if [ "$mode" = pvd ]; then
	# dom0 shuts us down with xl shutdown (bounded).
	trap 'echo "XENTEST INFO domU pvd: poweroff requested by xl shutdown"; sync; poweroff -f' USR2
	n=0
	while [ $n -lt 180 ]; do
		sleep 1
		n=$((n + 1))
	done
	echo "XENTEST INFO domU pvd: no shutdown request within 180s"
fi
poweroff -f
