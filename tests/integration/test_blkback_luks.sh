#!/bin/bash
# Encrypted disks (issue 15): LUKS images served by pvd-blkback to a
# pvguest, attached with pvctl's `format=luks,keyfile=PATH`, against
# pvd-stored (--hv sim).  Images from `qemu-img create -f luks` (LUKS1)
# and `cryptsetup luksFormat` (LUKS1 xts and cbc-essiv; LUKS2 with pbkdf2
# and 512-byte sectors, with argon2id and 4096-byte sectors) on plain
# files.  For each: Connected, block-list and stats show the cipher, fio
# verify through the guest's NBD export, then what the guest wrote is
# dumped through pvd and compared, after the detach, with the payload
# decrypted by QEMU's luks driver (LUKS1) or by cryptsetup's offline
# `reencrypt --decrypt` with the image's volume key (LUKS2);
# cryptsetup still accepts the header.  A disk written by qemu-io's luks
# driver reads back through pvd.  Refusals, each one line from pvctl and
# the store as before: wrong key, missing key file, key file open to
# others, corrupt header, unsupported cipher, not LUKS at all; and a
# `pvctl create` whose LUKS disk has the wrong key.
. "$(dirname "$0")/lib.sh"
need_xsutils

PVCTL=$PVD_BIN/pvctl
[ -x "$PVCTL" ] || die "$PVCTL not built (run: make)"
[ -x "$PVD_BIN/pvguest" ] || die "$PVD_BIN/pvguest not built (run: make)"
[ -x "$PVD_BIN/pvd-blkback" ] || skip "pvd-blkback not built"
for p in cryptsetup qemu-img qemu-io fio python3; do
	command -v $p >/dev/null || skip "$p not installed (scripts/deps.sh installs it)"
done
fio --enghelp 2>/dev/null | grep -qw nbd || skip "this fio has no nbd engine"

pvctl() { timeout -k 2 60 "$PVCTL" "$@"; }
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.05
	done
}
state_is() { [ "$(xs read "$1/state" 2>/dev/null)" = "$2" ]; }

BB_PID=
cleanup() {
	local f
	for f in "$PVD_RUNDIR"/guests/dom*/pid; do
		[ -f "$f" ] || continue
		f=${f%/pid}
		timeout -k 2 20 "$PVCTL" destroy "${f##*/dom}" >/dev/null 2>&1
	done
	[ -n "$BB_PID" ] && stop_pid "$BB_PID"
	f=$PVD_RUNDIR/blkback.log
	if [ "$1" != 0 ] && [ "$1" != 77 ] && [ -s "$f" ]; then
		echo "# --- last lines of $f ---"
		tail -n 20 "$f" | sed 's/^/# /'
	fi
}
trap 'rc_=$?; cleanup "$rc_"; (exit $rc_); _pvd_cleanup' EXIT

[ "$(id -u)" = 0 ] && chmod 755 "$PVD_RUNDIR"
STORED_HV=sim stored_start
"$PVD_BIN/pvd-blkback" -f --hv sim --pidfile "$PVD_RUNDIR/blkback.pid" \
	>>"$PVD_RUNDIR/blkback.log" 2>&1 &
BB_PID=$!
track_pid "$BB_PID"
wait_for "$PVD_WAIT_SECS" test -S "$PVD_RUNDIR/pvd-blkback.sock" || die "pvd-blkback did not start"

cat >"$PVD_RUNDIR/luks.cfg" <<'EOF'
name = "luks"
memory = 128
EOF
DOM=$(pvctl create "$PVD_RUNDIR/luks.cfg") || die "pvctl create failed"
FE=/local/domain/$DOM/device/vbd
BE=/local/domain/0/backend/vbd/$DOM
# The error directory xenbus_dev_error creates stays (as in Xen), empty.
snapshot() { xs ls -f -p / 2>&1 | grep -v '^/local/domain/0/error = ""'; }
BEFORE=$(snapshot)

# ------------------------------------------------------------ the images
K=$PVD_RUNDIR/keys
I=$PVD_RUNDIR/img
mkdir -p -m 0700 "$K" "$I"
SECRET="pvd luks test $RANDOM$RANDOM"
KEY=$K/good
printf '%s' "$SECRET" >"$KEY" && chmod 0400 "$KEY"
printf 'not the key' >"$K/wrong" && chmod 0400 "$K/wrong"
printf '%s' "$SECRET" >"$K/open" && chmod 0644 "$K/open"
SIZE=40M
CS_FAST=(--pbkdf pbkdf2 --pbkdf-force-iterations 1000)

mk_cs() {   # NAME cryptsetup-luksFormat-args...
	local img=$I/$1.img
	shift
	truncate -s $SIZE "$img" &&
		cryptsetup luksFormat -q --key-file "$KEY" "$@" "$img" >"$PVD_RUNDIR/cs.out" 2>&1 ||
		die "cryptsetup luksFormat $*: $(cat "$PVD_RUNDIR/cs.out")"
}
# QEMU times its PBKDF2 iterations; on a loaded machine its measurement
# can come back empty ("Unable to get accurate CPU usage"), several times
# in a row on a busy 2-core machine (half the tries there): tried 12 times.
mk_qemu() { # NAME [qemu-img -o options]
	local img=$I/$1.img o=${2:+,$2} try
	for try in $(seq 12); do
		qemu-img create -q -f luks --object secret,id=s0,file="$KEY" \
			-o key-secret=s0,iter-time=50$o "$img" $SIZE >"$PVD_RUNDIR/qi.out" 2>&1 &&
			return 0
		grep -q "accurate CPU usage" "$PVD_RUNDIR/qi.out" || break
	done
	die "qemu-img create -f luks ${2:-}: $(cat "$PVD_RUNDIR/qi.out")"
}
mk_qemu q1
mk_cs c1 --type luks1 "${CS_FAST[@]}"
mk_cs c1e --type luks1 --cipher aes-cbc-essiv:sha256 --key-size 256 "${CS_FAST[@]}"
mk_cs c2p --type luks2 --sector-size 512 "${CS_FAST[@]}"
mk_cs c2a --type luks2 --sector-size 4096 --pbkdf argon2id --pbkdf-force-iterations 4 \
	--pbkdf-memory 32768 --pbkdf-parallel 1
log "images made"

# QEMU's luks driver on an image (LUKS1): qemu-io commands, and the
# whole payload decrypted into a file.
QSEC=(--object "secret,id=s0,file=$KEY")
qemu_io_luks() { # IMG qemu-io-args...
	local img=$1
	shift
	timeout -k 2 60 qemu-io "${QSEC[@]}" --image-opts "driver=luks,key-secret=s0,file.filename=$img" "$@"
}
qemu_dec() { # IMG OUT
	timeout -k 2 60 qemu-img convert "${QSEC[@]}" \
		--image-opts "driver=luks,key-secret=s0,file.filename=$1" -O raw "$2"
}

# The payload of a LUKS2 image decrypted by cryptsetup itself, without
# device-mapper: the payload copied out, a detached header made for it
# (offset 0) with the volume key `luksDump --dump-volume-key` gives, the
# image's cipher, key size and sector size, then `reencrypt --decrypt
# --force-offline-reencrypt`, cryptsetup's userspace crypto, which
# numbers IVs as its dm-crypt tables do.
luks2_plain() { # IMG OUT
	local img=$1 out=$2 info off ss cipher bits d=$PVD_RUNDIR/l2p rc
	mkdir -p "$d" && rm -f "$d"/* || return 1
	info=$(cryptsetup luksDump "$img") || return 1
	off=$(sed -n 's/^\toffset: *\([0-9]*\) \[bytes\]/\1/p' <<<"$info" | head -n1)
	ss=$(sed -n 's/^\tsector: *\([0-9]*\) \[bytes\]/\1/p' <<<"$info" | head -n1)
	cipher=$(sed -n 's/^\tcipher: *//p' <<<"$info" | head -n1)
	cryptsetup luksDump --dump-volume-key -q --key-file "$KEY" "$img" |
		sed -n '/^\(MK dump\|Volume key\):/,/^[A-Z]/p' | grep -o '[0-9a-f][0-9a-f]' |
		python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex("".join(sys.stdin.read().split())))' \
		>"$d/vk" || return 1
	bits=$(($(stat -c %s "$d/vk") * 8))
	dd if="$img" of="$out" bs=1M iflag=skip_bytes skip="$off" status=none &&
		truncate -s 16M "$d/hdr" &&
		cryptsetup luksFormat -q --type luks2 --header "$d/hdr" --offset 0 --cipher "$cipher" \
			--key-size "$bits" --sector-size "$ss" --volume-key-file "$d/vk" \
			--key-file "$KEY" "${CS_FAST[@]}" "$out" &&
		cryptsetup reencrypt --decrypt --force-offline-reencrypt -q --key-file "$KEY" \
			--header "$d/hdr" "$out"
	rc=$?
	rm -f "$d/vk" "$d/hdr"
	return $rc
}

# -------------------------------------------------------- served images
VDEVS=(xvdb xvdc xvdd xvde xvdf)
NAMES=(q1 c1 c1e c2p c2a)
WANT=(luks1:aes-xts-plain64 luks1:aes-xts-plain64 luks1:aes-cbc-essiv:sha256
      luks2:aes-xts-plain64 luks2:aes-xts-plain64)

# Written by QEMU's luks driver before pvd sees it.
expect_ok "qemu-io (luks driver) writes a pattern into q1" qemu_io_luks "$I/q1.img" \
	-c "write -P 0x77 2M 1M"
expect_ok "qemu-io (luks driver) writes a pattern into c1" qemu_io_luks "$I/c1.img" \
	-c "write -P 0x77 2M 1M"

for n in "${!NAMES[@]}"; do
	name=${NAMES[$n]} vd=${VDEVS[$n]} img=$I/${NAMES[$n]}.img
	devid=$((51712 + 16 * (n + 1)))
	if ! expect_ok "$name: attach" pvctl block-attach luks \
		"format=luks,keyfile=$KEY,vdev=$vd,access=rw,target=$img"; then
		continue
	fi
	wait_for 20 state_is $FE/$devid 4 && pass "$name: Connected" ||
		{ fail "$name: Connected" "frontend $(xs read $FE/$devid/state 2>&1)"; continue; }
	URI="nbd+unix:///?socket=$PVD_RUNDIR/guests/dom$DOM/vbd-$devid.nbd"
	wait_for 10 test -s "$PVD_RUNDIR/guests/dom$DOM/vbd-$devid.nbd.uri"
	row=$(pvctl block-list luks | awk -v d=$devid '$1 == d')
	[[ "$row" == *" ${WANT[$n]} "* ]] && pass "$name: block-list shows ${WANT[$n]}" ||
		fail "$name: block-list shows ${WANT[$n]}" "$row"
	out=$(pvctl stats luks)
	[[ "$out" == *"$vd"*"encrypted: ${WANT[$n]%%:*} ${WANT[$n]#*:}, "* ]] &&
		pass "$name: stats shows the cipher" || fail "$name: stats shows the cipher" "$out"
	# A LUKS disk is not spread over the I/O threads (spread.c): its
	# queues (the guest's CPUs, 2 here) name one thread.
	qt=$(pvctl stats --json | jq -c "[.. | objects | select(.devid? == $devid and has(\"queue\")) | .queue[].thread]")
	[ "$(printf '%s\n' "$qt" | jq 'length')" -ge 1 ] &&
		[ "$(printf '%s\n' "$qt" | jq 'unique | length')" = 1 ] &&
		pass "$name: its queues are served by one thread ($qt)" ||
		fail "$name: its queues are served by one thread" "$qt"
	expect_eq "$name: the key file's node is dom0's alone" "n0" \
		"$(xs ls -p $BE/$devid 2>/dev/null | sed -n 's/^key-file = .*(\(.*\))$/\1/p')"
	if [ "$name" = q1 ] || [ "$name" = c1 ]; then
		expect_ok "$name: QEMU's pattern reads back through pvd" timeout 60 \
			qemu-io -f raw -c "read -P 0x77 2M 1M" "$URI"
	fi
	out=$(timeout -k 5 120 fio --name=v --ioengine=nbd --uri="$URI" --rw=randwrite --bs=4k \
		--iodepth=16 --size=16M --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--verify_state_save=0 2>&1)
	expect_eq "$name: fio randwrite 4k with verify through the guest" 0 "$?"
	expect_ok "$name: qemu-io writes through the guest" timeout 60 qemu-io -f raw \
		-c "write -P 0x5a 17M 1M" -c flush "$URI"
	expect_ok "$name: the guest's view dumped" timeout 60 \
		qemu-img convert -f raw -O raw "$URI" "$I/$name.pvd.raw"
	expect_ok "$name: detach" pvctl block-detach luks $vd
	if [[ ${WANT[$n]} == luks1:* ]]; then
		expect_ok "$name: QEMU's luks driver decrypts the payload" qemu_dec "$img" \
			"$I/$name.qemu.raw"
	else
		expect_ok "$name: cryptsetup decrypts the payload (reencrypt --decrypt)" \
			luks2_plain "$img" "$I/$name.qemu.raw"
	fi
	expect_ok "$name: the same plaintext through pvd and the reference" \
		cmp "$I/$name.pvd.raw" "$I/$name.qemu.raw"
	expect_ok "$name: cryptsetup luksDump accepts the header after use" \
		cryptsetup luksDump "$img"
	rm -f "$I/$name.pvd.raw" "$I/$name.qemu.raw"
done
expect_eq "every disk detached: the store as before" "$BEFORE" "$(snapshot)"
if grep -qF "$SECRET" "$PVD_RUNDIR/blkback.log" || pvctl stats --json | grep -qF "$SECRET"; then
	fail "the passphrase is in neither the log nor the stats"
else
	pass "the passphrase is in neither the log nor the stats"
fi

# ------------------------------------------------------------- refusals
cp "$I/c2p.img" "$I/corrupt.img"
# Both LUKS2 header copies' JSON changed: the checksums no longer match.
printf 'X' | dd of="$I/corrupt.img" bs=1 seek=$((4096 + 20)) conv=notrunc status=none
printf 'X' | dd of="$I/corrupt.img" bs=1 seek=$((16384 + 4096 + 20)) conv=notrunc status=none
cryptsetup luksDump "$I/corrupt.img" >/dev/null 2>&1 &&
	fail "cryptsetup refuses the corrupted header too"
mk_qemu serpent cipher-alg=serpent-256
truncate -s $SIZE "$I/plain.img"

# refused NAME IMG KEYFILE CAUSE: attach exits 1 with one line naming
# the disk and the cause; the store is as before.
refused() {
	local out rc
	out=$(PVCTL_DEVICE_TIMEOUT=20 pvctl block-attach luks \
		"format=luks,keyfile=$3,vdev=xvdg,access=rw,target=$2" 2>&1)
	rc=$?
	expect_eq "$1: attach exits 1" 1 "$rc"
	if [ "$(wc -l <<<"$out")" = 1 ] &&
	   [[ "$out" == "pvctl: vbd $DOM/51808: backend error: ${2##*/}: "*"$4"* ]]; then
		pass "$1: one line naming the disk and the cause"
	else
		fail "$1: one line naming the disk and the cause" "$out"
	fi
	expect_eq "$1: the store is as before" "$BEFORE" "$(snapshot)"
}
refused "wrong key" "$I/c1.img" "$K/wrong" "no keyslot"
refused "wrong key (LUKS2, argon2id)" "$I/c2a.img" "$K/wrong" "no keyslot"
refused "missing key file" "$I/c1.img" "$K/none" "key file $K/none: No such file"
refused "key file open to others" "$I/c1.img" "$K/open" "open to group or others (mode 0644"
refused "corrupt header" "$I/corrupt.img" "$KEY" ""
refused "unsupported cipher" "$I/serpent.img" "$KEY" "serpent"
refused "not a LUKS image" "$I/plain.img" "$KEY" "not a LUKS"

cat >"$PVD_RUNDIR/bad.cfg" <<EOF
name = "badkey"
memory = 16
disk = [ 'format=luks,keyfile=$K/wrong,vdev=xvda,target=$I/c1.img' ]
EOF
out=$(pvctl create "$PVD_RUNDIR/bad.cfg" 2>&1); rc=$?
expect_eq "create with a LUKS disk and the wrong key: exit 1" 1 "$rc"
[[ "$out" =~ ^"pvctl: vbd "[0-9]+"/51712: backend error: c1.img: ".*"no keyslot" ]] &&
	[ "$(wc -l <<<"$out")" = 1 ] && pass "create with the wrong key: one line" ||
	fail "create with the wrong key: one line" "$out"
pvctl list 2>/dev/null | grep -qw badkey && fail "the failed create left no domain"

pid_alive "$BB_PID" && pass "pvd-blkback still runs" || fail "pvd-blkback still runs"
if grep -qiE 'runtime error|sanitizer|assert' "$PVD_RUNDIR/blkback.log"; then
	fail "pvd-blkback's log is free of sanitizer reports" \
		"$(grep -iE 'runtime error|sanitizer|assert' "$PVD_RUNDIR/blkback.log" | head -n 3)"
fi
pvctl destroy luks >/dev/null 2>&1
finish
