# Part: Linux's own xen-netfront in a domU, served by pvd-netback through
# xl (issue 17).  Sourced by dom0-test.sh (its functions and $D, $BIN,
# $OUT); dom0 never loads xen-netback.  The NIC is made by xl/libxl from
# the domain's config, `vif = [ 'bridge=xenbr0,...,script=vif-pvd' ]`:
# libxl writes the backend and frontend nodes, pvd-netback makes the tap
# on the bridge and goes InitWait, libxl runs scripts/xen/vif-pvd (copied
# to /etc/xen/scripts, as an operator installs it), which checks that and
# writes hotplug-status.  Then: the store's states and features, ping
# both ways, iperf3 TCP both ways, the guest's offloads, a second NIC
# attached and detached with xl under the running guest, and xl destroy
# leaving nothing behind.  Everything started here is stopped here.
# expect: net-daemon net-connected net-features net-ping-dom0 net-ping-guest net-iperf-rx net-iperf-tx net-list net-pvctl net-offloads net-attach net-detach net-no-oops net-destroy

NET_BR=xenbr0
NET_PID=""

# CPU ticks of the backend: pvd-netback's process (NET_PID), or before it
# starts Linux's xen-netback threads (vifD.N-qQ-guest-rx, -dealloc; its
# NAPI work runs in softirq, which the dom0 line shows).
net_bcpu() {
	if [ -n "$NET_PID" ]; then
		awk '{ print $14 + $15 }' /proc/$NET_PID/stat
	else
		for c in $(grep -lE '^vif[0-9]+\.[0-9]+-' /proc/[0-9]*/comm 2>/dev/null); do
			cat "${c%comm}stat"
		done | awk '{ t += $14 + $15 } END { print t + 0 }'
	fi
}

# Every process's CPU ticks: "PID COMM TICKS" (COMM with '_' for blanks).
net_pticks() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk '{ c = $0; sub(/^[0-9]+ \(/, "", c); sub(/\) [A-Za-z] .*/, "", c)
		gsub(/ /, "_", c); r = $0; sub(/.*\) /, "", r); split(r, f, " "); print $1, c, f[12] + f[13] }'
}

# The three processes that used the most CPU between two net_pticks files.
net_ptop() {
	awk 'NR == FNR { t0[$1 " " $2] = $3; next }
		{ d = $3 - t0[$1 " " $2]; if (d > 0) print d, $2 }' "$1" "$2" |
		sort -rn | head -3 | awk '{ printf "%s%s %.2f", (NR > 1 ? ", " : ""), $2, $1 / 100 }'
}

# iperf3 from dom0 to the guest's server; prints the receiver's Mbit/s.
# Where the time went (issue 17): dom0's CPUs and the backend's CPU time
# during the run, as a line in $D/net-cpu.txt.
net_iperf() {
	local s0 b0 rc=0 who="Linux xen-netback"
	[ -n "$NET_PID" ] && who=pvd-netback
	net_pticks > $D/pticks0.txt
	s0=$(head -1 /proc/stat) b0=$(net_bcpu)
	timeout 40 iperf3 -c 10.99.0.2 -t 5 -f m --connect-timeout 5000 "$@" > $D/iperf3-net.log 2>&1 || rc=1
	echo "$s0 $(head -1 /proc/stat) $b0 $(net_bcpu)" | awk -v l="$who ${1:-dom0->domU}" -v top="$(net_pticks > $D/pticks1.txt; net_ptop $D/pticks0.txt $D/pticks1.txt)" '{
		for (i = 2; i <= 9; i++) { d[i] = $(i + 11) - $i; t += d[i] }
		if (t > 0) printf "XENTEST INFO net cpu %s: dom0 user %.0f%% system %.0f%% idle %.0f%% irq+softirq %.0f%% steal %.0f%% of its vCPUs (%.1f s); the backend %.2f CPU s\n", l,
			100 * (d[2] + d[3]) / t, 100 * d[4] / t, 100 * (d[5] + d[6]) / t, 100 * (d[7] + d[8]) / t, 100 * d[9] / t, t / 200, ($24 - $23) / 100
		if (t > 0 && top != "") printf "XENTEST INFO net cpu %s: the busiest processes (CPU s): %s\n", l, top }' >> $D/net-cpu.txt
	[ $rc = 0 ] || return 1
	awk '/receiver/ { for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") v = $(i - 1) } END { if (v == "") exit 1; print v }' $D/iperf3-net.log
}

# Sum of one counter over the queues in a `pvctl stats --json` document.
nb_sum() { grep -o "\"$1\": *[0-9]*" "$2" | sed "s/.*: *//" | awk '{ t += $1 } END { print t + 0 }'; }

# pvd-netback's system calls per frame (issue 17): one more 3 s iperf3
# each way (not a figure: strace slows it) under strace -c, and the
# frames, GSO frames and notifications the stats counted meanwhile.
# Only with XT_STRACE=1 (run.sh writes it into the build).
net_probe() {
	local dir s f
	[ "$(cat "$XT_BUILD/strace-probes" 2>/dev/null)" = 1 ] || return 0
	command -v strace > /dev/null || return 0
	for dir in "" -R; do
		pvctl stats --json net > $D/nb0.json 2>&1
		timeout -s INT 20 strace -c -f -p $NET_PID -o $D/strace-netback$dir.txt > /dev/null 2>&1 &
		s=$!
		sleep 1
		timeout 30 iperf3 -c 10.99.0.2 -t 3 -f m $dir > $D/iperf3-probe.log 2>&1
		kill -INT $s 2>/dev/null; wait $s
		pvctl stats --json net > $D/nb1.json 2>&1
		f=0
		for k in tx_packets rx_packets tx_gso rx_gso tx_bytes rx_bytes notify_sent notify_suppressed; do
			eval "$k=\$((\$(nb_sum $k $D/nb1.json) - \$(nb_sum $k $D/nb0.json)))"
		done
		f=$((tx_packets + rx_packets))
		info "net probe ${dir:-dom0->domU} (strace -c, 3 s): $(grep -o '[0-9.]* Mbits/sec.*receiver' $D/iperf3-probe.log | head -1); frames tx $tx_packets (gso $tx_gso, $((tx_bytes / (tx_packets + 1))) B each) rx $rx_packets (gso $rx_gso, $((rx_bytes / (rx_packets + 1))) B each); notifications sent $notify_sent suppressed $notify_suppressed"
		[ "$f" -gt 0 ] && [ -s $D/strace-netback$dir.txt ] || continue
		awk -v n=$f '$NF != "total" && $4 ~ /^[0-9]+$/ && $4 / n >= 0.05 { printf "%s %.2f/frame, ", $NF, $4 / n }
			$NF == "total" { printf "in all %.2f system calls per frame\n", $4 / n }' $D/strace-netback$dir.txt |
			sed "s/^/XENTEST INFO net probe ${dir:-dom0->domU}: /"
	done
	cp $D/strace-netback*.txt "$OUT"/ 2>/dev/null
}

# Where the backend's CPU goes (issue 17): one more 4 s iperf3 each way
# under `perf record -e cpu-clock -g` (pvd-netback's process, or the whole
# of dom0 for Linux's backend, whose work runs in kernel threads and
# softirq), reported by symbol into $OUT/perf-$1*.txt, the top lines as
# INFO.  Only with XT_PERF=1 (run.sh adds perf to dom0's image).
net_perf() {
	local who=$1 dir tgt s
	[ "$(cat "$XT_BUILD/perf-probes" 2>/dev/null)" = 1 ] || return 0
	command -v perf > /dev/null || return 0
	tgt="-a"
	[ "$who" = netback ] && tgt="-p $NET_PID"
	for dir in "" -R; do
		timeout -s INT 30 perf record -q -N -e cpu-clock -F 499 -g $tgt -o $D/perf.data -- sleep 4 > $D/perf-rec.log 2>&1 &
		s=$!
		timeout 30 iperf3 -c 10.99.0.2 -t 5 -f m $dir > $D/iperf3-probe.log 2>&1
		wait $s
		info "net perf $who ${dir:-dom0->domU}: $(grep -o '[0-9.]* Mbits/sec.*receiver' $D/iperf3-probe.log | head -1)"
		perf_summary $D/perf.data "$who$dir" "${dir:-dom0->domU}"
	done
}

# The vif's store view: "FE/BE" states.
net_states() { echo "$(state /local/domain/$NDOM/device/vif/$1)/$(state /local/domain/0/backend/vif/$NDOM/$1)"; }

net_stop() {
	if timeout 20 xl domid net > /dev/null 2>&1; then
		timeout 60 xl destroy net > $D/xl-net-destroy2.log 2>&1 || info "net: xl destroy at cleanup: $(cat $D/xl-net-destroy2.log)"
	fi
	unrelay net
	timeout 20 xl domid netanchor > /dev/null 2>&1 && timeout 60 xl destroy netanchor
	lsmod | grep -q '^xen_netback' && timeout 60 rmmod xen_netback
	if [ -n "$NET_PID" ]; then
		kill "$NET_PID" 2>/dev/null
		n=0
		while kill -0 "$NET_PID" 2>/dev/null && [ $n -lt 50 ]; do usleep 200000; n=$((n + 1)); done
		kill -0 "$NET_PID" 2>/dev/null && { info "net: pvd-netback did not stop in 10s; SIGKILL"; kill -9 "$NET_PID"; }
	fi
	ip link set $NET_BR down 2>/dev/null
	brctl delbr $NET_BR 2>/dev/null
	cp $D/pvd-netback.log $D/iperf3-net.log /var/log/xen/xen-hotplug.log "$OUT"/ 2>/dev/null
}

# The anchor: the same guest and iperf3 against Linux's in-kernel
# xen-netback (in dom0's image, not loaded at boot) with a minimal hotplug
# script that bridges the kernel's vif; unloaded again before pvd-netback
# starts.  Sets NET_A_RX/NET_A_TX (Mbit/s); its problems are INFO lines.
NET_A_RX="" NET_A_TX=""
net_anchor() {
	local ko adom
	ko=$(ls /lib/modules/*/kernel/drivers/net/xen-netback/xen-netback.ko 2>/dev/null | head -1)
	if [ -z "$ko" ] || ! insmod "$ko" 2> $D/netanchor-insmod.log; then
		info "net anchor: cannot load xen-netback: ${ko:-no module} $(cat $D/netanchor-insmod.log 2>/dev/null)"
		return
	fi
	cat > /etc/xen/scripts/vif-kernel <<-'EOF'
	#!/bin/sh
	# The net part's anchor: Linux's xen-netback made $vif; bridge it.
	case "$1" in
	online|add)
		br=$(xenstore-read "$XENBUS_PATH/bridge") &&
		brctl addif "$br" "$vif" && ip link set "$vif" up &&
		xenstore-write "$XENBUS_PATH/hotplug-status" connected ;;
	*) exit 0 ;;
	esac
	EOF
	chmod 755 /etc/xen/scripts/vif-kernel
	domcfg netanchor netanchor
	echo "vif = [ 'bridge=$NET_BR,mac=00:16:3e:00:99:01,script=vif-kernel' ]" >> /tmp/netanchor.cfg
	if timeout 120 xl create /tmp/netanchor.cfg > $D/xl-netanchor.log 2>&1; then
		adom=$(xl domid netanchor)
		echo $adom > /run/domid-netanchor
		relay netanchor
		if mark netanchor net-up 180; then
			info "net anchor: domU $adom, states $(state /local/domain/$adom/device/vif/0)/$(state /local/domain/0/backend/vif/$adom/0), queues $(xenstore-read /local/domain/$adom/device/vif/0/multi-queue-num-queues 2>/dev/null)"
			ping -c 2 -W 2 10.99.0.2 > /dev/null 2>&1
			NET_A_RX=$(net_iperf) && echo "XENTEST FIGURE net-iperf Linux xen-netback dom0->domU TCP 5 s: $NET_A_RX Mbit/s" ||
				{ NET_A_RX=""; info "net anchor: iperf3 dom0 -> domU: $(tail -2 $D/iperf3-net.log | tr '\n' ' ')"; }
			NET_A_TX=$(net_iperf -R) && echo "XENTEST FIGURE net-iperf Linux xen-netback domU->dom0 TCP 5 s: $NET_A_TX Mbit/s" ||
				{ NET_A_TX=""; info "net anchor: iperf3 domU -> dom0: $(tail -2 $D/iperf3-net.log | tr '\n' ' ')"; }
			net_perf kernel
		fi
		timeout 60 xl destroy netanchor > $D/xl-netanchor-destroy.log 2>&1 || info "net anchor: xl destroy: $(cat $D/xl-netanchor-destroy.log)"
		waitfor 30 gone netanchor || info "net anchor: domain still there"
		unrelay netanchor
	else
		info "net anchor: xl create: $(tail -3 $D/xl-netanchor.log | tr '\n' ' ')"
	fi
	ip neigh flush dev $NET_BR 2>/dev/null
}

net_part() {
	local be fe st nq i fs bs m0 m1 out rc

	# dom0: the bridge with an address, the hotplug script, the daemon.
	if ! brctl addbr $NET_BR 2> $D/net-br.log; then
		fail "net-daemon cannot make bridge $NET_BR: $(cat $D/net-br.log)"
		return
	fi
	ip addr add 10.99.0.1/24 dev $NET_BR
	ip link set $NET_BR up
	mkdir -p /etc/xen/scripts
	cp /host/scripts/xen/vif-pvd /etc/xen/scripts/vif-pvd && chmod 755 /etc/xen/scripts/vif-pvd
	net_anchor
	if lsmod | grep -q '^xen_netback' && ! timeout 60 rmmod xen_netback; then
		fail "net-daemon cannot unload xen-netback (it would claim backend/vif): $(lsmod | grep xen_netback)"
		return
	fi
	# XT_NETBACK_OPTS (run.sh): settings under measurement, empty by default.
	NETOPTS=$(cat "$XT_BUILD/netback-opts" 2>/dev/null)
	# shellcheck disable=SC2086
	"$BIN/pvd-netback" -f --log-file $D/pvd-netback.log --log-level debug --pidfile /run/pvd-netback.pid $NETOPTS &
	if ! waitfor 20 test -s /run/pvd-netback.pid; then
		fail "net-daemon pvd-netback did not start: $(tail -3 $D/pvd-netback.log)"
		return
	fi
	NET_PID=$(cat /run/pvd-netback.pid)
	pass "net-daemon pvd-netback ($NET_PID) options \"$NETOPTS\", $(grep -ho 'tap writes through [a-z_]*' $D/pvd-netback.log | head -1), on bridge $NET_BR 10.99.0.1/24, xen-netback $(lsmod | grep -q '^xen_netback' && echo loaded || echo 'not loaded'), hotplug script /etc/xen/scripts/vif-pvd"

	# The guest, its NIC from its config through xl.
	domcfg net net
	echo "vif = [ 'bridge=$NET_BR,mac=00:16:3e:00:99:02,script=vif-pvd' ]" >> /tmp/net.cfg
	t0=$(now)
	if ! timeout 120 xl create /tmp/net.cfg > $D/xl-net.log 2>&1; then
		fail "net-connected xl create: $(tail -5 $D/xl-net.log | tr '\n' ' ') hotplug log: $(tail -3 /var/log/xen/xen-hotplug.log 2>/dev/null | tr '\n' ' ')"
		tail -20 $D/pvd-netback.log | sed 's/^/XENTEST INFO pvd-netback: /'
		return
	fi
	NDOM=$(xl domid net)
	echo $NDOM > /run/domid-net
	info "net domU $NDOM created (xl create with its vif) in $(echo "$(now) $t0" | awk '{print $1-$2}')s; hotplug: $(tail -1 /var/log/xen/xen-hotplug.log 2>/dev/null)"
	relay net
	be=/local/domain/0/backend/vif/$NDOM/0 fe=/local/domain/$NDOM/device/vif/0

	if ! mark net net-up 180; then
		fail "net-connected the guest never reported eth0 (states $(net_states 0))"
		tail -20 $D/pvd-netback.log | sed 's/^/XENTEST INFO pvd-netback: /'
		return
	fi
	st=$(net_states 0)
	if [ "$st" = 4/4 ] && [ "$(xenstore-read $be/hotplug-status)" = connected ] &&
	   [ -e /sys/class/net/vif$NDOM.0/brport ]; then
		pass "net-connected frontend/backend state $st, hotplug-status connected, tap vif$NDOM.0 on $(basename "$(readlink /sys/class/net/vif$NDOM.0/master)") (script $(xenstore-read $be/script), type $(xenstore-read $be/type))"
	else
		fail "net-connected states $st, hotplug-status '$(xenstore-read $be/hotplug-status)', tap: $(ls /sys/class/net | tr '\n' ' ')"
	fi
	xenstore-ls -fp $fe > $OUT/store-net-frontend.txt 2>&1
	xenstore-ls -fp $be > $OUT/store-net-backend.txt 2>&1
	r() { xenstore-read "$1" 2>/dev/null || echo -; }
	nq=$(r $fe/multi-queue-num-queues)
	info "net negotiated: backend offers sg=$(r $be/feature-sg) gso-tcpv4=$(r $be/feature-gso-tcpv4) gso-tcpv6=$(r $be/feature-gso-tcpv6) ipv6-csum=$(r $be/feature-ipv6-csum-offload) rx-copy=$(r $be/feature-rx-copy) split-evtchn=$(r $be/feature-split-event-channels) ctrl-ring=$(r $be/feature-ctrl-ring) max-queues=$(r $be/multi-queue-max-queues); frontend took queues=$nq sg=$(r $fe/feature-sg) gso-tcpv4=$(r $fe/feature-gso-tcpv4) gso-tcpv6=$(r $fe/feature-gso-tcpv6) no-csum-offload=$(r $fe/feature-no-csum-offload) ipv6-csum=$(r $fe/feature-ipv6-csum-offload) rx-copy=$(r $fe/request-rx-copy) rx-notify=$(r $fe/feature-rx-notify) ctrl-ring=$(r $fe/ctrl-ring-ref)"
	if [ "$(r $be/feature-sg)$(r $fe/feature-sg)" = 11 ] && [ "$(r $be/feature-gso-tcpv4)$(r $fe/feature-gso-tcpv4)" = 11 ] &&
	   [ "$(r $fe/feature-no-csum-offload)" != 1 ] && [ "$nq" != - ] && [ "$nq" -ge 1 ] && [ "$(r $fe/request-rx-copy)" = 1 ]; then
		pass "net-features sg, gso-tcpv4 on both sides, checksum offload (no feature-no-csum-offload), $nq queue(s) of $(r $be/multi-queue-max-queues) offered"
	else
		fail "net-features sg $(r $be/feature-sg)/$(r $fe/feature-sg) gso $(r $be/feature-gso-tcpv4)/$(r $fe/feature-gso-tcpv4) queues $nq"
	fi

	if out=$(ping -c 3 -W 2 10.99.0.2 2>&1); then
		pass "net-ping-dom0 dom0 -> domU: $(echo "$out" | tail -1)"
	else
		fail "net-ping-dom0 dom0 -> domU: $(echo "$out" | tail -2 | tr '\n' ' ')"
	fi
	# TCP both ways: dom0's client, the guest's server (-R: the guest sends).
	if m0=$(net_iperf); then
		pass "net-iperf-rx iperf3 TCP dom0 -> domU $m0 Mbit/s"
		echo "XENTEST FIGURE net-iperf pvd dom0->domU TCP 5 s: $m0 Mbit/s"
	else
		fail "net-iperf-rx iperf3 dom0 -> domU: $(tail -3 $D/iperf3-net.log | tr '\n' ' ')"
	fi
	if m1=$(net_iperf -R); then
		pass "net-iperf-tx iperf3 TCP domU -> dom0 $m1 Mbit/s"
		echo "XENTEST FIGURE net-iperf pvd domU->dom0 TCP 5 s: $m1 Mbit/s"
	else
		fail "net-iperf-tx iperf3 domU -> dom0: $(tail -3 $D/iperf3-net.log | tr '\n' ' ')"
	fi
	[ -n "$NET_A_RX" ] && [ -n "${m0:-}" ] && [ -n "$NET_A_TX" ] && [ -n "${m1:-}" ] &&
		echo "$m0 $NET_A_RX $m1 $NET_A_TX" | awk '{ printf "XENTEST FIGURE net-iperf pvd/Linux xen-netback, same guest and run, one 5 s TCP run each: dom0->domU %.2f, domU->dom0 %.2f\n", $1 / $2, $3 / $4 }'
	cat $D/net-cpu.txt 2>/dev/null
	net_probe
	net_perf netback
	# xl's own view of its NIC (libxl reads the frontend's state).
	timeout 30 xl network-list net > $OUT/xl-network-list.txt 2>&1
	sed 's/^/XENTEST INFO xl network-list: /' $OUT/xl-network-list.txt
	if [ "$(awk '$1 == 0 && $5 == 4' $OUT/xl-network-list.txt | wc -l)" = 1 ]; then
		pass "net-list xl network-list net shows vif 0 in state 4"
	else
		fail "net-list xl network-list net: no vif 0 in state 4"
	fi
	# pvctl beside xl: xl's NIC in network-list (state 4) and in stats,
	# Connected with the iperf3 traffic counted both ways.
	pvctl network-list net > $OUT/pvctl-network-list.txt 2>&1
	pvctl stats net > $OUT/pvctl-stats-net.txt 2>&1
	sed 's/^/XENTEST INFO pvctl network-list: /' $OUT/pvctl-network-list.txt
	grep -A4 'pvd-netback:' $OUT/pvctl-stats-net.txt | sed 's/^/XENTEST INFO pvctl stats: /'
	nl=$(awk -v be=/local/domain/0/backend/vif/$NDOM/0 '$1 == 0 && $5 == 4 && $NF == be' $OUT/pvctl-network-list.txt | wc -l)
	ns=$(awk -v v=vif$NDOM.0 '$1 == "net" && $3 == v && $4 == "all" && $5 == "Connected" && $7 > 0 && $11 > 0' $OUT/pvctl-stats-net.txt | wc -l)
	if [ "$nl" = 1 ] && [ "$ns" = 1 ]; then
		pass "net-pvctl pvctl network-list net shows xl's vif 0 in state 4; pvctl stats net shows vif$NDOM.0 Connected with packets both ways"
	else
		fail "net-pvctl pvctl network-list: $nl of 1 row in state 4; pvctl stats: $ns of 1 Connected row with packets both ways"
	fi

	# A second NIC under the running guest, then away again.
	t0=$(now)
	if timeout 60 xl network-attach net bridge=$NET_BR mac=00:16:3e:00:99:03 script=vif-pvd > $D/xl-net-attach.log 2>&1 &&
	   mark net eth1-up 60; then
		st=$(net_states 1)
		if [ "$st" = 4/4 ] && [ -e /sys/class/net/vif$NDOM.1/brport ]; then
			pass "net-attach xl network-attach: the guest saw eth1 within $(echo "$(now) $t0" | awk '{print $1-$2}')s, states $st, tap vif$NDOM.1 on the bridge"
		else
			fail "net-attach states $st, taps: $(ls /sys/class/net | tr '\n' ' ')"
		fi
	else
		fail "net-attach xl network-attach: $(tail -3 $D/xl-net-attach.log | tr '\n' ' ') (states $(net_states 1))"
	fi
	t0=$(now)
	if timeout 60 xl network-detach net 1 > $D/xl-net-detach.log 2>&1 && mark net eth1-gone 60; then
		waitfor 10 test ! -e /sys/class/net/vif$NDOM.1
		if ! xenstore-exists /local/domain/0/backend/vif/$NDOM/1 && ! xenstore-exists /local/domain/$NDOM/device/vif/1 &&
		   [ ! -e /sys/class/net/vif$NDOM.1 ]; then
			pass "net-detach xl network-detach: eth1 gone from the guest within $(echo "$(now) $t0" | awk '{print $1-$2}')s, store nodes and tap vif$NDOM.1 gone"
		else
			fail "net-detach left: $(xenstore-list /local/domain/0/backend/vif/$NDOM 2>&1 | tr '\n' ' ') taps: $(ls /sys/class/net | tr '\n' ' ')"
		fi
	else
		fail "net-detach xl network-detach: $(tail -3 $D/xl-net-detach.log | tr '\n' ' ') (states $(net_states 1))"
	fi
	mark net net-done 60 || info "net: the guest did not finish"
	if grep -qE 'Oops|BUG:|WARNING:|Call Trace|general protection' $CONS/guest-net.log; then
		fail "net-no-oops $(grep -hE 'Oops|BUG:|WARNING:|Call Trace' $CONS/guest-net.log | head -2 | tr '\n' ' ')"
	else
		pass "net-no-oops in the guest's console log ($(wc -l < $CONS/guest-net.log) lines)"
	fi

	# xl destroy: the domain, its vif's nodes and pvd-netback's tap go.
	t0=$(now)
	timeout 60 xl destroy net > $D/xl-net-destroy.log 2>&1
	rc=$?
	if [ $rc = 0 ] && waitfor 30 gone net &&
	   waitfor 20 sh -c "! timeout 5 xenstore-exists /local/domain/0/backend/vif/$NDOM && [ ! -e /sys/class/net/vif$NDOM.0 ]"; then
		pass "net-destroy xl destroy in $(echo "$(now) $t0" | awk '{print $1-$2}')s: no backend/vif/$NDOM left, tap vif$NDOM.0 gone, pvd-netback $(kill -0 $NET_PID 2>/dev/null && echo 'still running' || echo 'gone!')"
	else
		fail "net-destroy xl destroy exit $rc: $(tail -2 $D/xl-net-destroy.log | tr '\n' ' ') left: $(xenstore-list /local/domain/0/backend/vif 2>&1 | tr '\n' ' ') taps: $(ls /sys/class/net | tr '\n' ' ')"
	fi
	grep -cE 'WARN|ERR' $D/pvd-netback.log > /dev/null && grep -E 'WARN|ERR' $D/pvd-netback.log | tail -5 | sed 's/^/XENTEST INFO pvd-netback: /'
}

net_part
net_stop
