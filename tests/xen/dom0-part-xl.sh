# xl as the toolstack for pvd-blkback's disks (docs/xen-host.md "xl"):
# sourced by dom0-test.sh after the pvd part, Linux's xen-blkback
# unloaded, pvd-blkback running.  No pvctl call makes or removes a disk:
#
#   xl create with two disk= lines (a raw file in $D, a loop device), each
#   with script=block-pvd (scripts/xen/block-pvd, by its path on the
#   share); the guest (xt=xl in domu-init.sh) writes and reads a pattern
#   on both; xl block-list shows them in state 4, pvctl block-list and
#   pvctl stats show the same disks; xl block-attach a third disk (a raw
#   file, access=ro: the guest sees it read-only and its write fails, the
#   file stays as it was) to the running guest and xl block-detach it (the
#   guest sees it come and go); xl destroy under the running guest: no backend/vbd
#   directory left, pvd-blkback logged the disks' close; no Oops.
#
# expect: xl-create xl-io-xvda xl-io-xvdb xl-block-list xl-pvctl xl-attach xl-detach xl-destroy xl-no-oops
XLS=/host/scripts/xen/block-pvd
XLLOOP=/dev/loop4
xl_disk() { echo "'format=raw,vdev=$1,access=rw,script=$XLS,target=$2'"; }

xl_part() {
	local dom be t0 t1 f s bl rows n
	truncate -s 32M $D/xl-a.img
	truncate -s 32M $D/xl-b.img
	truncate -s 16M $D/xl-c.img
	printf 'xentest-xl-hot %s\n' "$$" | dd of=$D/xl-c.img conv=notrunc 2>/dev/null
	timeout 30 losetup $XLLOOP $D/xl-b.img || { fail "xl-create losetup $XLLOOP"; return 1; }
	domcfg xl xl
	echo "disk = [ $(xl_disk xvda $D/xl-a.img), $(xl_disk xvdb $XLLOOP) ]" >> /tmp/xl.cfg
	t0=$(now)
	timeout 180 xl create /tmp/xl.cfg > $D/xl-create.log 2>&1
	f=$?
	if [ "$f" != 0 ]; then
		fail "xl-create xl create (exit $f): $(tail -5 $D/xl-create.log | tr '\n' ' ')"
		xenstore-ls -fp /local/domain/0/backend/vbd 2>&1 | sed 's/^/XENTEST INFO xl store: /'
		return 1
	fi
	dom=$(timeout 30 xl domid xl)
	echo "$dom" > /run/domid-xl
	XLDOM=$dom
	be=/local/domain/0/backend/vbd/$dom
	pass "xl-create domain $dom with two disks (a file, $XLLOOP) up in $(echo "$(now) $t0" | awk '{print $1-$2}')s, no pvctl call; backend types: $(xenstore-read $be/51712/type 2>&1)/$(xenstore-read $be/51728/type 2>&1), script $(xenstore-read $be/51712/script 2>&1), hotplug-status $(xenstore-read $be/51712/hotplug-status 2>&1)"
	relay xl
	if ! mark xl xl-disks-up 240; then
		fail "xl-block-list the guest never got to its disks"
		return 1
	fi
	timeout 60 xl block-list xl > $OUT/xl-block-list.txt 2>&1
	sed 's/^/XENTEST INFO xl block-list: /' $OUT/xl-block-list.txt
	rows=$(awk '($1 == 51712 || $1 == 51728) && $4 == 4' $OUT/xl-block-list.txt | wc -l)
	if [ "$rows" = 2 ] && [ "$(state $be/51712)" = 4 ] && [ "$(state $be/51728)" = 4 ]; then
		pass "xl-block-list xvda (51712) and xvdb (51728) in state 4 in xl block-list, backends Connected"
	else
		fail "xl-block-list $rows of 2 rows in state 4; backends $(state $be/51712)/$(state $be/51728)"
	fi
	# pvctl beside xl: the same disks, by the domain's name.
	pvctl block-list xl > $OUT/xl-pvctl-block-list.txt 2>&1
	pvctl stats xl > $OUT/xl-pvctl-stats.txt 2>&1
	sed 's/^/XENTEST INFO pvctl block-list: /' $OUT/xl-pvctl-block-list.txt
	sed 's/^/XENTEST INFO pvctl stats: /' $OUT/xl-pvctl-stats.txt
	bl=$(awk '($1 == 51712 || $1 == 51728) && $4 == 4' $OUT/xl-pvctl-block-list.txt | wc -l)
	s=$(awk '$1 == "xl" && ($3 == "xvda" || $3 == "xvdb") && $4 == "all" && $5 == "Connected" && $7 > 0' $OUT/xl-pvctl-stats.txt | wc -l)
	if [ "$bl" = 2 ] && [ "$s" = 2 ]; then
		pass "xl-pvctl pvctl block-list shows xl's two disks in state 4; pvctl stats xl shows both Connected with the guest's writes"
	else
		fail "xl-pvctl pvctl block-list: $bl of 2 disks in state 4; pvctl stats: $s of 2 Connected with writes"
	fi

	# Hot-plug a third disk, then take it away, with xl.
	t0=$(now)
	f=$(md5sum < $D/xl-c.img)
	timeout 120 xl block-attach xl "format=raw,vdev=xvdc,access=ro,script=$XLS,target=$D/xl-c.img" > $D/xl-attach.log 2>&1
	s=$?
	if [ "$s" = 0 ]; then
		t1=$(now)
		if mark xl xl-attached 120 && grep -q 'XENTEST INFO xl-attach xvdc appeared.*read-only' $CONS/guest-xl.log &&
		   [ "$(md5sum < $D/xl-c.img)" = "$f" ]; then
			pass "xl-attach xl block-attach xvdc read-only in $(echo "$t1 $t0" | awk '{print $1-$2}')s; backend state $(state $be/51744), mode $(xenstore-read $be/51744/mode 2>&1), info $(xenstore-read $be/51744/info 2>&1); the guest read the disk's first bytes, its write failed, the file is unchanged"
		else
			fail "xl-attach the guest did not see xvdc read-only, or the file changed (backend state $(state $be/51744), mode $(xenstore-read $be/51744/mode 2>&1), info $(xenstore-read $be/51744/info 2>&1))"
		fi
	else
		fail "xl-attach xl block-attach (exit $s): $(tail -3 $D/xl-attach.log | tr '\n' ' ')"
	fi
	t0=$(now)
	timeout 120 xl block-detach xl xvdc > $D/xl-detach.log 2>&1
	f=$?
	if [ "$f" = 0 ]; then
		t1=$(now)
		if mark xl xl-detached 120 && grep -q 'XENTEST INFO xl-detach xvdc went away' $CONS/guest-xl.log &&
		   ! xenstore-exists $be/51744; then
			pass "xl-detach xl block-detach xvdc in $(echo "$t1 $t0" | awk '{print $1-$2}')s; backend directory gone; the guest saw it go"
		else
			fail "xl-detach the guest still has xvdc, or $be/51744 is left ($(xenstore-exists $be/51744 && echo there || echo gone))"
		fi
	else
		fail "xl-detach xl block-detach (exit $f): $(tail -3 $D/xl-detach.log | tr '\n' ' ')"
	fi

	# xl destroy with both disks connected.
	t0=$(now)
	timeout 120 xl destroy xl > $D/xl-destroy.log 2>&1
	f=$?
	t1=$(now)
	waitfor 60 gone xl || info "xl domain still there: $(timeout 30 xl list 2>&1 | tr '\n' ' ')"
	unrelay xl
	n=$(grep -cE "vbd/$dom/517(12|28): .*-> Closed" $D/pvd-blkback.log)
	if [ "$f" = 0 ] && ! xenstore-exists $be && [ "$n" = 2 ] &&
	   grep -q "vbd/$dom/51712: removed" $D/pvd-blkback.log; then
		pass "xl-destroy xl destroy in $(echo "$t1 $t0" | awk '{print $1-$2}')s (libxl waits up to 10 s a disk for Closed); no backend/vbd/$dom left; pvd-blkback closed both disks: $(grep -E "vbd/$dom/51712: .*(-> Closed|removed)" $D/pvd-blkback.log | sed 's/.*info: //' | tr '\n' ' ')"
	else
		fail "xl-destroy exit $f in $(echo "$t1 $t0" | awk '{print $1-$2}')s; $be $(xenstore-exists $be && echo left || echo gone); $n of 2 closes logged; $(tail -3 $D/xl-destroy.log | tr '\n' ' ')"
	fi
	grep -E "vbd/$dom/" $D/pvd-blkback.log | grep -vE ' (info|debug): ' | head -5 | sed 's/^/XENTEST INFO pvd-blkback: /'
	if grep -qE 'Oops|BUG:|WARNING:|Call Trace|general protection' $CONS/guest-xl.log; then
		fail "xl-no-oops $(grep -hE 'Oops|BUG:|WARNING:|Call Trace' $CONS/guest-xl.log | head -2)"
	else
		pass "xl-no-oops in the xl guest's console log ($(wc -l < $CONS/guest-xl.log) lines)"
	fi
}

XLDOM=
xl_part
# What the part started: the domain (if a step failed), the loop device.
if [ -n "$XLDOM" ] && ! gone xl; then
	timeout 60 xl destroy xl > /dev/null 2>&1
	unrelay xl
fi
timeout 30 losetup -d $XLLOOP 2>/dev/null
rm -f $D/xl-a.img $D/xl-b.img $D/xl-c.img
cp $D/xl-*.log "$OUT"/ 2>/dev/null
