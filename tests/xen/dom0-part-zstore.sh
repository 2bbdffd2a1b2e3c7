# The store against its anchor, Xen's own C xenstored, in the same boot
# (sourced by dom0-test.sh; named to run last, as it replaces the store):
#  - xs_bench's fixed workload (writes, reads, directory listings,
#    transactions; one process, one connection) over the unix socket and
#    over dom0's kernel ring (/dev/xen/xenbus);
#  - `xl create -p` + `xl destroy` of a small domain, 3 rounds;
#  - the same workload in a domU over its own ring (xt=zstore), its line
#    left in the store for us;
# first with pvd-stored, then, pvd-stored stopped, with Xen's xenstored
# started on the same dom0 ring (its dom0_init maps xsd_kva as pvd-stored
# did) and xen-init-dom0 run again.  Figures only: no timing decides a
# result; store-bench passes when every workload ran to completion on both.
# expect: store-bench
XSB="$XT_BIN/../tests/xen/xs_bench"
ZN=400

# zprobe LABEL PID: the store's system calls per request (issue 17), one
# more run of the dom0-ring workload under `strace -c -f`; xs_bench makes
# about 3.1 requests per N (N writes, N reads, N/10 listings, N/4
# transactions of 4).  Only with XT_STRACE=1.
zprobe() {
	local st n=$((ZN * 31 / 10))
	[ "$(cat "$XT_BUILD/strace-probes" 2>/dev/null)" = 1 ] && command -v strace > /dev/null || return 0
	timeout -s INT 120 strace -c -f -p "$2" -o $D/strace-$1.txt > /dev/null 2>&1 &
	st=$!
	sleep 2
	XENSTORED_PATH=/dev/xen/xenbus timeout 120 "$XSB" "$1-probe" $ZN > /dev/null 2>> $D/zstore.err
	kill -INT $st 2>/dev/null
	wait $st
	cp $D/strace-$1.txt "$OUT"/ 2>/dev/null
	info "store probe $1 (strace -c, dom0's ring, about $n requests): $(awk -v n=$n '
		$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { printf "%s%s %.2f", (c++ ? ", " : ""), $NF, $4 / n }
		$NF == "total" { t = $4 } END { printf "; %.2f system calls per request in all", t / n }' $D/strace-$1.txt)"
}

# zperf LABEL PID: where the store's CPU goes (issue 17), one more run of
# the dom0-ring workload under `perf record -e cpu-clock -g`, by symbol
# into $OUT/perf-LABEL*.txt (perf_summary), the top lines as INFO.  Only
# with XT_PERF=1.
zperf() {
	local pr
	[ "$(cat "$XT_BUILD/perf-probes" 2>/dev/null)" = 1 ] && command -v perf > /dev/null || return 0
	timeout -s INT 120 perf record -q -N -e cpu-clock -F 999 -g -p "$2" -o $D/perf-z.data > $D/perf-z-rec.log 2>&1 &
	pr=$!
	sleep 2
	XENSTORED_PATH=/dev/xen/xenbus timeout 120 "$XSB" "$1-perf" $ZN > /dev/null 2>> $D/zstore.err
	kill -INT $pr 2>/dev/null
	wait $pr
	perf_summary $D/perf-z.data "$1" "over the dom0-ring workload"
}

# zrun LABEL PID: the workloads on the store now serving; appends to $D/zstore.txt.
zrun() {
	local t0 t1 r ok=0
	timeout 120 "$XSB" "$1-socket" $ZN >> $D/zstore.txt 2>> $D/zstore.err || ok=1
	XENSTORED_PATH=/dev/xen/xenbus timeout 120 "$XSB" "$1-ring" $ZN >> $D/zstore.txt 2>> $D/zstore.err || ok=1
	zprobe "$1" "$2"
	zperf "$1" "$2"
	domcfg ztiny none
	sed -i 's/^memory = .*/memory = 128/; s/^vcpus = .*/vcpus = 1/' /tmp/ztiny.cfg
	r=1
	while [ $r -le 3 ]; do
		t0=$(now)
		if timeout 120 xl create -p -e /tmp/ztiny.cfg > $D/zstore-xl.log 2>&1; then
			cat $D/zstore-xl.log >> $D/zstore-xl-all.log
			t1=$(now)
			if timeout 60 xl destroy ztiny >> $D/zstore-xl.log 2>&1; then
				echo "XENTEST FIGURE store $1 xl-create-destroy round $r: create $(echo "$t1 $t0" | awk '{printf "%.2f", $1-$2}') s, destroy $(echo "$(now) $t1" | awk '{printf "%.2f", $1-$2}') s" >> $D/zstore.txt
			else
				ok=1
				echo "$1 round $r: xl destroy: $(tail -2 $D/zstore-xl.log)" >> $D/zstore.err
			fi
		else
			ok=1
			cat $D/zstore-xl.log >> $D/zstore-xl-all.log
			echo "$1 round $r: xl create: $(grep -m2 -E 'error|rror' $D/zstore-xl.log)" >> $D/zstore.err
		fi
		r=$((r + 1))
	done
	# The domU's side: a guest runs the workload over its own ring and
	# leaves its line in the store.
	domcfg zstore zstore
	sed -i 's/^vcpus = .*/vcpus = 1/' /tmp/zstore.cfg
	if timeout 120 xl create -e /tmp/zstore.cfg > $D/zstore-xl.log 2>&1; then
		local id=$(timeout 30 xl domid zstore) line=""
		waitfor 150 timeout 10 xenstore-exists /local/domain/$id/data/xs-bench-result &&
			line=$(timeout 10 xenstore-read /local/domain/$id/data/xs-bench-result)
		if [ -n "$line" ]; then
			echo "$line" | sed "s/ store domU / store $1-domU /" >> $D/zstore.txt
		else
			ok=1
			echo "$1: no result from the domU" >> $D/zstore.err
		fi
		timeout 60 xl destroy zstore >> $D/zstore-xl.log 2>&1 || { ok=1; echo "$1: xl destroy zstore failed" >> $D/zstore.err; }
	else
		ok=1
		echo "$1: xl create zstore: $(tail -2 $D/zstore-xl.log)" >> $D/zstore.err
	fi
	return $ok
}

: > $D/zstore.txt
: > $D/zstore.err
zok=1
zrun pvd-stored "$(cat $XSPID)" || zok=0
# Xen's xenstored in pvd-stored's place: only one process may own
# VIRQ_DOM_EXC and dom0's ring.
zpid=$(cat $XSPID 2>/dev/null)
kill "$zpid" 2>/dev/null
waitfor 20 sh -c "! kill -0 $zpid 2>/dev/null" || { info "pvd-stored $zpid did not stop on SIGTERM"; kill -9 "$zpid" 2>/dev/null; }
sleep 1
if timeout 30 xenstored --pid-file /run/xenstored-xen.pid > $D/xenstored.log 2>&1 &&
   waitfor 30 timeout 5 xenstore-read -s / && timeout 60 xen-init-dom0 >> $D/xenstored.log 2>&1; then
	zrun xenstored "$(cat /run/xenstored-xen.pid)" || zok=0
else
	zok=0
	echo "Xen's xenstored did not start: $(tail -3 $D/xenstored.log)" >> $D/zstore.err
fi
cat $D/zstore.txt
# Ratios pvd-stored / xenstored (rates: higher is better; times: lower).
awk '
	/store (pvd-stored|xenstored)-(socket|ring|domU) / {
		split($4, w, "-"); who = w[1] == "pvd" ? "pvd" : "xen"; path = $4; sub(/.*-/, "", path)
		for (i = 5; i <= NF; i += 2) if ($(i + 1) ~ /\/s$/) { v = $(i + 1); sub(/\/s/, "", v); rate[who, path, $i] = v }
	}
	/xl-create-destroy/ { who = $4 == "pvd-stored" ? "pvd" : "xen"; c[who] += $9; d[who] += $12; n[who]++ }
	END {
		for (p = 1; p <= 3; p++) { path = p == 1 ? "socket" : p == 2 ? "ring" : "domU"; line = ""
			split("write read ls txn", ops, " ")
			for (k = 1; k <= 4; k++) { o = ops[k]
				if (rate["xen", path, o] > 0) line = line sprintf(" %s %.2f", o, rate["pvd", path, o] / rate["xen", path, o]) }
			if (line != "") printf "XENTEST FIGURE store ratio pvd-stored/xenstored, %s (rates, >1: pvd faster):%s\n", path == "domU" ? "a domU over its ring" : path == "ring" ? "dom0 over its kernel ring" : "dom0 over the socket", line }
		if (n["pvd"] && n["xen"] && c["pvd"] > 0 && d["pvd"] > 0)
			printf "XENTEST FIGURE store ratio xl create+destroy time xenstored/pvd-stored (>1: pvd faster): create %.2f destroy %.2f (means of %d rounds: pvd %.2f+%.2f s, xenstored %.2f+%.2f s)\n",
				(c["xen"] / n["xen"]) / (c["pvd"] / n["pvd"]), (d["xen"] / n["xen"]) / (d["pvd"] / n["pvd"]), n["pvd"],
				c["pvd"] / n["pvd"], d["pvd"] / n["pvd"], c["xen"] / n["xen"], d["xen"] / n["xen"] }' $D/zstore.txt
if [ "$zok" = 1 ] && [ "$(grep -c 'XENTEST FIGURE store .* write' $D/zstore.txt)" = 6 ] &&
   [ "$(grep -c 'xl-create-destroy' $D/zstore.txt)" = 6 ] &&
   [ "$(grep -c 'domU write.*denied /local/domain/0/name: EACCES; a 3000-byte value refused' $D/zstore.txt)" = 2 ]; then
	pass "store-bench the same workload (dom0 over the socket and its kernel ring, a domU over its ring, which was refused dom0's nodes and a value over its quota: $(grep -o 'pvd-stored-domU.*refused: [A-Z0-9]*' $D/zstore.txt | sed 's/.*refused: //') from pvd-stored, $(grep -o 'xenstored-domU.*refused: [A-Z0-9]*' $D/zstore.txt | sed 's/.*refused: //') from xenstored) and 3 xl create/destroy rounds ran on pvd-stored and on Xen's xenstored"
else
	fail "store-bench $(head -c 600 $D/zstore.err | tr '\n' ' ')"
fi
# The test's end stops the store by this pid file.
cp /run/xenstored-xen.pid $XSPID 2>/dev/null
