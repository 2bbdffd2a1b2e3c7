#!/bin/bash
# pvd on a real Xen host: Xen 4.17 with a Linux PV dom0 and PV domUs, booted
# under QEMU's software emulation.  dom0 runs pvd-blkback and pvd-consoled
# (from this tree, over a 9p share) against Xen's own xenstored; the domUs'
# own xen-blkfront and hvc console are what is tested.  See docs/xen-host.md.
#
# Everything is built from Debian packages into $XT_BUILD (default
# build/xen): the hypervisor, the domU kernel (uncompressed), a small dom0
# initramfs and a domU initramfs.  They are rebuilt only when their inputs
# change.  The run is bounded (timeout, one retry); pass or fail comes from
# the XENTEST lines the dom0 and domU scripts print.
#
# Exit: 0 pass, 77 skip (no packages / not root to install them), 1 fail.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
B=${XT_BUILD:-build/xen}
BIN=${XT_BIN:-build/bin}
TIMEOUT=${XT_TIMEOUT:-720}      # seconds per boot attempt (every part: 350-590, by the host)
BUDGET=${XT_BUDGET:-870}        # no retry that could end later than this (15 min in all)
# max without SMAP (dom0 crashes with it) and without AVX: glibc's AVX2
# string functions failed now and then (an ld.so assertion in
# xenstore-exists, a segfault in busybox dd), probably the lazy FPU
# switch's fault below, which was found later; AVX stays off.
CPU=${XT_CPU:-max,-smap,-avx}
ACCEL=${XT_ACCEL:-tcg}
# vCPUs of the emulated machine (dom0 gets as many).
SMP=${XT_SMP:-2}
# Options on Xen's command line.  spec-ctrl=eager-fpu: Xen switches a PV
# vCPU's FPU state lazily here (CR0.TS, #NM), and under QEMU's TCG dom0's
# programs then segfault, or worse compute garbage, whenever a domU runs
# beside them (docs/xen-host.md, "Findings"; dom0-segfaults guards it).
# XT_XEN_ARGS= (empty) boots without it, to see the fault.
XENARGS=${XT_XEN_ARGS-spec-ctrl=eager-fpu}
ATTEMPTS=${XT_ATTEMPTS:-2}
# dd rounds per backend in the guests (fewer for a quick look on a busy host)
ROUNDS=${XT_DD_ROUNDS:-5}
# Extra pvd-blkback options for the pvd part (e.g. "--io-threads 1"), to
# measure settings without editing dom0-test.sh; read by dom0 from the build.
BLKOPTS=${XT_BLKBACK_OPTS:-}
# The same for pvd-netback in the net part (e.g. "--tap-io writev").
NETOPTS=${XT_NETBACK_OPTS:-}
# XT_STRACE=1: pvd-blkback under strace -c for 20 s of the pattern phase
# (system calls per request) and pvd-netback for one more 3 s iperf3 each
# way (per frame), issue 17's probes.  Off by default: they add half a
# minute to a boot that must fit its timeout in CI.
STRACEPROBES=${XT_STRACE:-0}
# XT_PERF=1: Debian's perf in dom0's image (with its libraries, ~40 MB),
# and the net part profiles each backend for one more iperf3 each way
# (perf record -e cpu-clock -g), reported by symbol into out/perf-*.txt.
PERFPROBES=${XT_PERF:-0}
mkdir -p "$B"
B=$(cd "$B" && pwd)
case "$B" in "$repo"/*) ;; *) echo "xentest: XT_BUILD must be inside $repo (it is shared over 9p)" >&2; exit 1 ;; esac
BREL=${B#"$repo"/}

log() { echo "xentest: $*" >&2; }

# ------------------------------------------------------------ packages
"$here/deps.sh" || exit 77

# The kernel linux-image-amd64 points at (not, say, a cloud flavour the
# machine itself runs): dom0 and domU both boot it.
KVER=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null | grep -o 'linux-image-[^ ,]*' | head -1 | sed 's/^linux-image-//')
[ -n "$KVER" ] || KVER=$(cd /lib/modules && ls -d [0-9]*-amd64 2>/dev/null | grep -v cloud | sort -V | tail -1)
[ -n "$KVER" ] && [ -f "/boot/vmlinuz-$KVER" ] || { log "no linux-image-amd64 kernel in /boot"; exit 1; }
XENGZ=/boot/xen-4.17-amd64.gz
XENBIN=/usr/lib/xen-4.17/bin
[ -f "$XENGZ" ] && [ -x "$XENBIN/xl" ] || { log "no xen-hypervisor-4.17-amd64 / xen-utils-4.17 files"; exit 1; }
MODDIR=/lib/modules/$KVER

# ------------------------------------------------------------ artefacts
# A stamp per artefact holds a digest of its inputs; equal stamp, no rebuild.
stamp_ok() { [ -f "$B/$1" ] && [ -f "$B/$1.stamp" ] && [ "$(cat "$B/$1.stamp")" = "$2" ]; }

# The hypervisor: QEMU's -kernel boots the uncompressed multiboot image.
key=$(stat -c '%s %Y' "$XENGZ")
if ! stamp_ok xen "$key"; then
	log "extracting Xen"
	zcat "$XENGZ" > "$B/xen.tmp" && mv "$B/xen.tmp" "$B/xen"
	echo "$key" > "$B/xen.stamp"
fi

# The domU kernel, uncompressed: a PV domU loads it 3x faster under TCG.
key=$(stat -c '%s %Y' "/boot/vmlinuz-$KVER")
if ! stamp_ok vmlinux "$key"; then
	log "extracting vmlinux from vmlinuz-$KVER"
	off=$(LC_ALL=C grep -aboP '\xfd7zXZ\x00' "/boot/vmlinuz-$KVER" | head -1 | cut -d: -f1)
	[ -n "$off" ] || { log "no xz stream in vmlinuz-$KVER"; exit 1; }
	tail -c +$((off + 1)) "/boot/vmlinuz-$KVER" | xz -dc > "$B/vmlinux.tmp" 2>/dev/null || true
	[ "$(head -c 4 "$B/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ] ||
		{ log "vmlinux extraction failed"; exit 1; }
	mv "$B/vmlinux.tmp" "$B/vmlinux"
	echo "$key" > "$B/vmlinux.stamp"
fi

# Copies a program and every library ldd names into root $1.
copy_prog() {
	local root=$1 f lib
	shift
	for f in "$@"; do
		mkdir -p "$root$(dirname "$f")"
		cp -L "$f" "$root$f"
		ldd "$f" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
			[ -e "$root$lib" ] && continue
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
	done
}

# Copies modules and their dependencies, and writes the insmod order.
copy_modules() {
	local root=$1 m ko
	shift
	mkdir -p "$root/lib/modules"
	: > "$root/lib/modules/load.list"
	for m in "$@"; do
		modprobe --show-depends -S "$KVER" "$m" | awk '$1 == "insmod" { print $2 }' |
		while read -r ko; do
			mkdir -p "$root$(dirname "$ko")"
			cp "$ko" "$root$ko"
			grep -qxF "$ko" "$root/lib/modules/load.list" || echo "$ko" >> "$root/lib/modules/load.list"
		done
	done
}

busybox_root() {
	local root=$1
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,run,var/lib,var/log,usr/bin,usr/sbin,lib64}
	cp /bin/busybox "$root/bin/busybox"
	for a in sh; do ln -sf busybox "$root/bin/$a"; done
}

# dom0: busybox, the modules, Xen's tools, lvm2, and the libraries of pvd's
# binaries (which themselves come over the share, built from this tree).
DOM0_MODS="xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc xen-blkback loop dm-mod
virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci 9pnet 9pnet_virtio netfs fscache 9p
tun bridge"
DOM0_PROGS="$XENBIN/xl $XENBIN/xenstored $XENBIN/xen-init-dom0 $XENBIN/xenconsoled $XENBIN/xenconsole
$XENBIN/xenstore-control /usr/bin/xenstore /sbin/lvm /sbin/dmsetup /usr/bin/strace /usr/bin/iperf3"
[ "$PERFPROBES" = 1 ] && DOM0_PROGS="$DOM0_PROGS $(command -v perf)"
PVD_PROGS=$(ls "$BIN"/pvd-* "$BIN"/pvctl "$BIN"/../tests/xen/*)
key=$( { sha256sum "$here/dom0-init.sh" "$0"; echo "$KVER $DOM0_MODS"; ls -l $DOM0_PROGS;
	for p in $PVD_PROGS; do ldd "$p"; done | grep -o '/[^ ]*' | sort -u; } | sha256sum | cut -c1-32)
if ! stamp_ok dom0.cpio.gz "$key"; then
	log "building the dom0 initramfs"
	r=$B/dom0-root
	busybox_root "$r"
	copy_modules "$r" $DOM0_MODS
	# xen-netback in the image but not loaded at boot (not in load.list):
	# the net part's anchor loads it and unloads it before pvd-netback.
	modprobe --show-depends -S "$KVER" xen-netback | awk '$1 == "insmod" { print $2 }' |
	while read -r ko; do mkdir -p "$r$(dirname "$ko")"; cp "$ko" "$r$ko"; done
	copy_prog "$r" $DOM0_PROGS $(readlink -f $PVD_PROGS)
	rm -rf "$r$repo"  # pvd's binaries come over 9p
	cp -L /usr/lib/x86_64-linux-gnu/libgcc_s.so.1 "$r/usr/lib/x86_64-linux-gnu/" 2>/dev/null ||
		{ mkdir -p "$r/usr/lib/x86_64-linux-gnu"; cp -L /usr/lib/x86_64-linux-gnu/libgcc_s.so.1 "$r/usr/lib/x86_64-linux-gnu/"; }
	for t in read write ls rm list exists chmod watch; do ln -sf xenstore "$r/usr/bin/xenstore-$t"; done
	for t in pvcreate vgcreate lvcreate lvs vgs pvs vgchange lvremove vgremove; do ln -sf lvm "$r/sbin/$t"; done
	mkdir -p "$r/etc/xen" "$r/etc/lvm" "$r/var/lib/xen" "$r/var/lib/xenstored" \
		"$r/var/log/xen"
	# lvm: no udev in dom0, no lvmetad, no locking daemon.
	cat > "$r/etc/lvm/lvm.conf" <<-'EOF'
	devices { obtain_device_list_from_udev = 0 scan = [ "/dev" ] }
	activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
	global { use_lvmlockd = 0 }
	EOF
	: > "$r/etc/xen/xl.conf"
	cp "$here/dom0-init.sh" "$r/init"
	chmod 755 "$r/init"
	(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) > "$B/dom0.cpio.gz.tmp"
	mv "$B/dom0.cpio.gz.tmp" "$B/dom0.cpio.gz"
	echo "$key" > "$B/dom0.cpio.gz.stamp"
fi

# domU: busybox, xen-blkfront, xen-netfront, iperf3 and ethtool (the net
# part), xs_bench (the store part's workload), with their libraries, and
# the test script as /init.
XSBENCH=$(readlink -f "$BIN/../tests/xen/xs_bench")
key=$( { sha256sum "$here/domu-init.sh" "$0" "$XSBENCH"; echo "$KVER"; } | sha256sum | cut -c1-32)
if ! stamp_ok domu.cpio.gz "$key"; then
	log "building the domU initramfs"
	r=$B/domu-root
	busybox_root "$r"
	copy_modules "$r" xen-blkfront xen-netfront
	copy_prog "$r" /usr/bin/iperf3 /usr/sbin/ethtool "$XSBENCH"
	mv "$r$XSBENCH" "$r/bin/xs_bench"
	rm -rf "$r$repo"
	cp "$here/domu-init.sh" "$r/init"
	chmod 755 "$r/init"
	(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) > "$B/domu.cpio.gz.tmp"
	mv "$B/domu.cpio.gz.tmp" "$B/domu.cpio.gz"
	echo "$key" > "$B/domu.cpio.gz.stamp"
fi

# ------------------------------------------------------------ boot
# The expected results, in the order the scripts produce them, by group:
# those of every boot, the base (dom0-test.sh's parts 1 and 2: the disk
# figures compare them, so they run in one boot) and each part
# (dom0-part-NAME.sh, from its '# expect:' line).  A retry boots again
# for the groups that did not pass only; a group's results come whole
# from one boot.
ALWAYS="dom0-up dom0-segfaults store-start store-dom0-ring"
declare -A GROUP
GROUP[base]="anchor-release store-special xl-list xl-console store-restart xl-shutdown xl-destroy
anchor-connected anchor-pattern anchor-dd
pvd-daemons vbd-connected-xvda vbd-connected-xvdb vbd-connected-xvdc
pattern-xvda pattern-xvdb pattern-xvdc features discard console-boot console-input
detach-guest detach-store no-oops bytes-xvda bytes-xvdb bytes-xvdc holes-xvda flush leftover-detach pvd-dd pvd-file-dd
hot-attach hv-open hv-alive hv-copy-from hv-unmap hv-copy-to hv-copy-errors hv-map-errors hv-evtchn hv-evtchn-errors"
# XT_PARTS picks the parts (dom0-part-NAME.sh: "net,xl", "none"; default
# all); XT_SKIP_BASE=1 leaves out the base.
PARTS=${XT_PARTS:-all}
PARTS=${PARTS// /,}
part_on() { [ "$PARTS" = all ] || [[ ",$PARTS," == *",$1,"* ]]; }
GROUPS_ON=""
[ "${XT_SKIP_BASE:-0}" = 1 ] || GROUPS_ON=base
for p in "$here"/dom0-part-*.sh; do
	[ -f "$p" ] || continue
	n=${p##*/dom0-part-}; n=${n%.sh}
	part_on "$n" || continue
	GROUP[$n]=$(sed -n 's/^# expect: //p' "$p" | tr '\n' ' ')
	GROUPS_ON="$GROUPS_ON $n"
done
GROUPS_ON=${GROUPS_ON# }
# expect GROUP...: the results a boot of those groups must give.
expect() {
	local g
	echo $ALWAYS
	for g in "$@"; do echo ${GROUP[$g]}; done
}
# A boot that prints nothing on its console for this long is stuck (the
# verdict prints a boot's longest quiet stretch: 16-17 s in whole passing
# boots; the guests print a line per dd round, dom0 one per step).  Under
# dom0's 120 s waits for a guest's marks, so that a guest stuck in its
# boot makes a stuck boot, which is retried, not a run of failures.
STALL=${XT_STALL:-100}
# dom0's test script starts 12-20 s after QEMU; not by this, dom0 is stuck.
DOM0_WAIT=${XT_DOM0_WAIT:-60}
# XT_HANG=GROUP: the first boot stops, silent, before that group, to see
# the stall found and the retry (dom0-test.sh reads it from the build).
HANG=${XT_HANG:-}
# No retry with less time left than this (dom0 up, the shortest part).
RETRY_MIN=${XT_RETRY_MIN:-150}
# The emulator; tests/xen/selftest.sh puts a stand-in here that prints
# results (tests/xen/fake-qemu) to check the retry and the verdict.
QEMU=${XT_QEMU:-qemu-system-x86_64}

# boot_once ATTEMPT TIMEOUT SKIP_BASE PARTS
boot_once() {
	local attempt=$1 timeout=$2 skip=$3 parts=$4 serial=$B/serial-$1.log qpid rc=0 t0
	rm -rf "$B/out"
	printf '%s\n' "$BLKOPTS" > "$B/blkback-opts"
	printf '%s\n' "$NETOPTS" > "$B/netback-opts"
	# Each group's expected results, for reading (and for fake-qemu).
	for g in base $GROUPS_ON; do echo "$g" ${GROUP[$g]}; done | sort -u > "$B/groups.txt"
	if [ "$attempt" = 1 ]; then printf '%s\n' "$HANG"; else echo; fi > "$B/hang-part"
	printf '%s\n' "$STRACEPROBES" > "$B/strace-probes"
	printf '%s\n' "$PERFPROBES" > "$B/perf-probes"
	mkdir -p "$B/out"
	: > "$serial"
	t0=$(date +%s.%N)
	# The domU kernel and initramfs are copied into dom0's memory by the
	# dom0 script; pvd's binaries are run from the share.
	"$QEMU" -accel "$ACCEL" -cpu "$CPU" -m 2048 -smp "$SMP" -display none -no-reboot \
		-kernel "$B/xen" \
		-append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=$SMP loglvl=all guest_loglvl=all noreboot $XENARGS" \
		-initrd "/boot/vmlinuz-$KVER console=hvc0 earlyprintk=xen loglevel=5 xtbuild=$BREL xtbin=$BIN xtskip=$skip xtparts=$parts xtrounds=$ROUNDS,$B/dom0.cpio.gz" \
		-serial "file:$serial" -monitor none -net none \
		-virtfs "local,path=$repo,mount_tag=host,security_model=none,id=host0" \
		</dev/null >"$B/qemu-$attempt.log" 2>&1 &
	qpid=$!
	QPID=$qpid
	echo "$qpid" > "$B/qemu.pid"
	# Bounded: the dom0 script prints XENTEST END when it is done.
	local waited=0 t_dom0="" t_domu="" size=0 s quiet_at=0 quiet=0 quiet_end=0 lines=0 n
	while kill -0 "$qpid" 2>/dev/null; do
		# Boot times, to the second: dom0's /init, the first domU's first line.
		waited=$(( $(date +%s) - ${t0%.*} ))
		# The longest stretch with no console output, and a stall.
		s=$(stat -c %s "$serial" 2>/dev/null || echo 0)
		if [ "$s" != "$size" ]; then
			size=$s quiet_at=$waited
			# When each result line came, to the second (out/timeline.txt).
			n=$(wc -l < "$serial")
			if [ "$n" -gt "$lines" ]; then
				sed -n "$((lines + 1)),${n}p" "$serial" | tr -d '\r' |
					grep -aE '^(\[domU [^]]*\] )?XENTEST (PASS|FAIL|INFO part|INFO anchor done|INFO dom0 test done|SYNC)' |
					sed "s/^/$waited /" | cut -c1-160 >> "$B/out/timeline.txt" || true
				lines=$n
			fi
		elif [ $((waited - quiet_at)) -gt "$quiet" ]; then
			quiet=$((waited - quiet_at)) quiet_end=$waited
		fi
		[ -z "$t_dom0" ] && grep -q "XENTEST PASS dom0-up" "$serial" 2>/dev/null && t_dom0=$waited
		[ -z "$t_domu" ] && grep -q "^\[domU " "$serial" 2>/dev/null && t_domu=$waited
		if grep -q '^XENTEST END' "$serial" 2>/dev/null; then
			sleep 1
			break
		fi
		if [ -z "$t_dom0" ] && [ "$waited" -ge "$DOM0_WAIT" ]; then
			log "attempt $attempt: dom0 not up after ${waited}s"
			break
		fi
		if [ "$waited" -ge "$timeout" ]; then
			log "attempt $attempt: no end after ${timeout}s"
			rc=124
			break
		fi
		if [ -n "$t_dom0" ] && [ $((waited - quiet_at)) -ge "$STALL" ]; then
			log "attempt $attempt: stuck, no console output for ${STALL}s (at ${waited}s)"
			rc=124
			break
		fi
		sleep 1
	done
	grep -q "^XENTEST END" "$serial" 2>/dev/null || [ "$rc" != 0 ] || rc=124
	kill "$qpid" 2>/dev/null || true
	wait "$qpid" 2>/dev/null || true
	QPID=""
	rm -f "$B/qemu.pid"
	echo "$(date +%s.%N) $t0" | awk '{ printf "%.1f\n", $1 - $2 }' > "$B/out/wall.txt"
	echo "QEMU start to dom0's test script: ${t_dom0:-?} s, to the first domU's first console line: ${t_domu:-?} s; the longest quiet stretch on the console: ${quiet} s (to ${quiet_end} s)" > "$B/out/boot.txt"
	tr -d '\r' < "$serial" > "$serial.txt"
	# Booted at all?  (A hang early in dom0 is retried.)
	grep -q 'XENTEST PASS dom0-up' "$serial.txt" || return 2
	return $rc
}

# QEMU is ours: stopped by its PID if we are interrupted.
QPID=""
trap '[ -n "$QPID" ] && kill "$QPID" 2>/dev/null' EXIT

RUN_START=$(date +%s)
# results ATTEMPT: the serial console's lines, plus the guests' result
# lines from their console logs (build/xen/out/guest-*.log, pvd-consoled's
# own) that the relay to the serial console lost (it is a busybox
# pipeline in dom0, which dies with a segfaulting applet, see below).
results() {
	local serial=$B/serial-$1.log.txt out=$B/results-$1.txt g name
	cp "$serial" "$out" 2>/dev/null || : > "$out"
	for g in "$B"/out/guest-*.log; do
		[ -f "$g" ] || continue
		name=${g##*/guest-}; name=${name%.log}
		tr -d '\r' < "$g" | grep -E '^XENTEST (PASS |FAIL |FIGURE [a-z]+-dd round)' | while IFS= read -r l; do
			grep -qF -- "$l" "$out" || echo "[domU $name] $l (from its console log)"
		done >> "$out"
	done
	echo "$out"
}

# ok FILE NAME: the result NAME passed in FILE and did not fail there.
ok() { grep -qE "XENTEST PASS $2( |\$)" "$1" && ! grep -qE "XENTEST FAIL $2( |\$)" "$1"; }
# unexpected FILE EXPECTED...: FAIL lines in FILE of results not expected.
unexpected() {
	local f=$1
	shift
	grep -E 'XENTEST FAIL' "$f" | grep -vE "XENTEST FAIL ($(echo "$@" | tr ' ' '|'))( |\$)"
}
# passed FILE GROUP...: every result of a boot of those groups passed and
# nothing else failed.
passed() {
	local f=$1 t
	shift
	for t in $(expect "$@"); do ok "$f" "$t" || return 1; done
	! unexpected "$f" $(expect "$@") > /dev/null
}
# unpassed FILE GROUP...: those of the groups whose results did not all pass.
unpassed() {
	local f=$1 g t
	shift
	for g in "$@"; do
		for t in ${GROUP[$g]}; do ok "$f" "$t" || { echo "$g"; break; }; done
	done
}

# User-space segfaults in dom0 (busybox applets reading garbage through
# their TLS pointer, libxenstore walking a corrupted list) came a few
# times a run under QEMU's TCG until Xen switched FPU state eagerly
# (XENARGS above; docs/xen-host.md); none since.  Should they come back,
# a failed run that saw them is retried, and says so.
segfaults() {
	local n
	n=$(grep -c 'segfault at' "$B/out/dom0-dmesg.txt" 2>/dev/null) || true
	echo "${n:-0}"
}

# Each attempt boots for some groups (RAN), and each group's results come
# from the last boot that ran it (FROM).  The first boot runs them all; a
# retry only those that did not pass, in the time left of XT_BUDGET.
declare -A RAN FROM
rc=1 groups=$GROUPS_ON limit=$TIMEOUT
for attempt in $(seq 1 "$ATTEMPTS"); do
	skip=1
	[[ " $groups " == *" base "* ]] && skip=0
	# '+' between them: a ',' would split QEMU's -initrd module list.
	parts=$(for g in $groups; do [ "$g" = base ] || echo "$g"; done | paste -sd+ -)
	RAN[$attempt]=$groups
	log "boot attempt $attempt: ${groups:-no group} (log: $B/serial-$attempt.log, bound ${limit}s)"
	rm -rf "$B/out-$attempt"
	if boot_once "$attempt" "$limit" "$skip" "${parts:-none}"; then rc=0; else rc=$?; fi
	res=$(results "$attempt")
	for g in $groups; do FROM[$g]=$attempt; done
	segfaults > "$B/segfaults-$attempt.txt"
	cp -a "$B/out" "$B/out-$attempt" 2>/dev/null || true
	# A hang (dom0 never up, or stuck: seen about once in 13 boots under
	# emulation) is retried; so is a run that ended failed while dom0's
	# programs segfaulted; any other run is judged.
	if [ "$rc" = 0 ]; then
		passed "$res" $groups && break
		nseg=$(cat "$B/segfaults-$attempt.txt")
		[ "$nseg" -gt 0 ] || break
		log "attempt $attempt: failed with $nseg user-space segfault(s) in dom0 (the emulation's, see docs/xen-host.md): $(grep -E 'XENTEST FAIL' "$res" | head -3 | sed 's/.*XENTEST FAIL //' | cut -c1-120 | tr '\n' ';')"
	elif [ "$rc" = 2 ] || [ "$rc" = 124 ]; then
		log "attempt $attempt: $([ "$rc" = 2 ] && echo "dom0 did not come up" || echo "stuck or past its bound")"
	else
		break
	fi
	[ "$attempt" -lt "$ATTEMPTS" ] || break
	# Again only what did not pass (all of it when only the results of
	# every boot failed).
	again=$(unpassed "$res" $groups | paste -sd' ' -)
	groups=${again:-$groups}
	limit=$(( BUDGET - ($(date +%s) - RUN_START) ))
	[ "$limit" -gt "$TIMEOUT" ] && limit=$TIMEOUT
	if [ "$limit" -lt "$RETRY_MIN" ]; then
		log "no time left for another attempt (${limit}s of XT_BUDGET ${BUDGET}s)"
		break
	fi
done
last=$attempt
cp "$B/serial-$last.log.txt" "$B/xentest.log" 2>/dev/null || true

# ------------------------------------------------------------ verdict
# dd_figures FILE: pvd-blkback against Linux's xen-blkback, same domU
# kernel, same kind of backing (a loop device over a dom0 tmpfs file), same
# boot: the median of the guest's 5 rounds each (the host is shared and
# emulation is noisy).
dd_figures() {
	grep -E 'XENTEST FIGURE (anchor|pvd|pvd-file)-dd round' "$1" | awk -v opts="$BLKOPTS" '
	function med(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n ? a[int((n + 1) / 2)] + 0 : 0 }
	{ l = $0; sub(/.*XENTEST FIGURE /, "", l); split(l, a, " "); who = a[1]
	  match(l, /write [0-9.]+ s = [0-9.]+/); w = substr(l, RSTART, RLENGTH); sub(/.*= /, "", w)
	  match(l, /read [0-9.]+ s = [0-9.]+/); r = substr(l, RSTART, RLENGTH); sub(/.*= /, "", r)
	  ws[who] = ws[who] " " w; rs[who] = rs[who] " " r }
	END { aw = med(ws["anchor-dd"]); ar = med(rs["anchor-dd"]); pw = med(ws["pvd-dd"]); pr = med(rs["pvd-dd"])
	  fw = med(ws["pvd-file-dd"]); fr = med(rs["pvd-file-dd"])
	  if (aw > 0 && ar > 0 && pw > 0)
		printf "  dd in the domU, median of 5 rounds: Linux xen-blkback write %.1f MB/s read %.1f MB/s; pvd-blkback write %.1f MB/s (%.2fx) read %.1f MB/s (%.2fx)\n",
			aw, ar, pw, pw / aw, pr, pr / ar
	  if (aw > 0 && ar > 0 && fw > 0)
		printf "  a file: disk (pvd-blkback serves the tmpfs file itself; Linux'"'"'s through the loop device above): pvd-blkback write %.1f MB/s (%.2fx) read %.1f MB/s (%.2fx)\n",
			fw, fw / aw, fr, fr / ar
	  if (aw > 0 && opts != "") printf "  (pvd-blkback with XT_BLKBACK_OPTS \"%s\")\n", opts }' || true
}
# timeline ATTEMPT: when each group's first and last results came in that
# boot (seconds from QEMU's start; from out-N/timeline.txt).
timeline() {
	local t=$B/out-$1/timeline.txt
	[ -s "$t" ] || return 0
	awk -v ran="$2" 'NR == FNR { for (i = 2; i <= NF; i++) n[$i] = n[$i] ? "-" : $1; next }
		{ for (i = 2; i <= NF; i++) if ($i == "PASS" || $i == "FAIL") { g = n[$(i + 1)]; break }
		  if (g == "" || g == "-") next
		  if (!(g in a)) a[g] = $1; b[g] = $1; g = "" }
		END { k = split(ran, r, " "); for (i = 1; i <= k; i++) if (r[i] in a) printf "%s%s %d-%d s", (c++ ? ", " : ""), r[i], a[r[i]], b[r[i]] }' \
		"$B/groups.txt" "$t"
}
for a in $(seq 1 "$last"); do
	f=$B/results-$a.txt
	echo "==== XENTEST results, attempt $a: ${RAN[$a]:-no group} ($(cat "$B/out-$a/wall.txt" 2>/dev/null)s wall) ===="
	echo "  $(cat "$B/out-$a/boot.txt" 2>/dev/null); user-space segfaults in dom0: $(cat "$B/segfaults-$a.txt")"
	echo "  results came (from QEMU's start): $(timeline "$a" "${RAN[$a]}")"
	grep -E '^(\[domU[^]]*\] )?XENTEST (INFO|FIGURE)' "$f" | sed 's/^/  /' || true
	if [[ " ${RAN[$a]} " == *" base "* ]]; then dd_figures "$f"; fi
done
if [ "$last" -gt 1 ]; then
	echo "(each group's results come from the last attempt that ran it; those of every boot from attempt $last)"
fi
# judge NAME FILE: the result NAME as FILE holds it.
fail=0
judge() {
	if grep -qE "XENTEST FAIL $1( |\$)" "$2"; then
		echo "FAIL $1: $(grep -E "XENTEST FAIL $1( |\$)" "$2" | head -1 | sed 's/.*XENTEST FAIL //')"
		fail=1
	elif grep -qE "XENTEST PASS $1( |\$)" "$2"; then
		echo "PASS $1: $(grep -E "XENTEST PASS $1( |\$)" "$2" | head -1 | sed 's/.*XENTEST PASS //')"
	else
		echo "FAIL $1: no result"
		fail=1
	fi
}
for t in $ALWAYS; do judge "$t" "$B/results-$last.txt"; done
for g in $GROUPS_ON; do
	for t in ${GROUP[$g]}; do judge "$t" "$B/results-${FROM[$g]}.txt"; done
done
for a in $(seq 1 "$last"); do
	if unexpected "$B/results-$a.txt" $(expect $GROUPS_ON) > /dev/null; then
		unexpected "$B/results-$a.txt" $(expect $GROUPS_ON) | sed "s/^/unexpected (attempt $a): /"
		fail=1
	fi
done
echo "full log: $B/xentest.log"
if [ "$fail" = 0 ] && [ "$rc" = 0 ]; then
	echo "xentest: PASS"
	exit 0
fi
echo "xentest: FAIL"
exit 1
