#!/bin/bash
# pvd-consoled with pvd-stored and simulated guests: the console/tty node
# names a raw pty; guest output reaches the pty and the log (with and
# without timestamps); pty input reaches the guest; SIGHUP reopens the
# logs; secondary consoles; log names from dom0's name node only,
# sanitised; SIGTERM; bad command lines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/consoled_lib.sh"
need_xsutils

# ------------------------------------------------------------ bad usage
bad_usage() {
	local name=$1 want=$2 errf=$PVD_RUNDIR/bad.err rc
	shift 2
	timeout -k 2 10 "$PVD_BIN/pvd-consoled" -f "$@" >/dev/null 2>"$errf"
	rc=$?
	if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
		fail "$name" "pvd-consoled $* exited $rc (want a usage error)"
	elif ! grep -qF -- "$want" "$errf"; then
		fail "$name" "stderr lacks '$want': $(cat "$errf")"
	else
		pass "$name"
	fi
}
bad_usage "unknown option is an error" "unrecognized option" --bogus
bad_usage "a size that is not a number is an error" "rate-limit" --rate-limit lots
bad_usage "a size with a bad suffix is an error" "buffer-size" --buffer-size 4X
bad_usage "a zero buffer is an error" "buffer-size" --buffer-size 0
bad_usage "a log dir that is not a directory is an error" "not a directory" \
	--log-dir "$PVD_RUNDIR/nonexistent"
bad_usage "unknown --hv is an error" "--hv" --hv magic
bad_usage "an unknown log level is an error" "log-level" --log-level loud
# No store to talk to yet: one clear line, and it waits (issue 13: started
# before pvd-stored, it serves once the store comes) instead of exiting.
XENSTORED_PATH=$PVD_RUNDIR/no-store.sock timeout -k 2 2 "$PVD_BIN/pvd-consoled" -f \
	--pidfile "$PVD_RUNDIR/nostore.pid" >/dev/null 2>"$PVD_RUNDIR/nostore.err"
rc=$?
if [ "$rc" -ne 124 ]; then
	fail "no store: waits for it" "exited $rc: $(head -c 300 "$PVD_RUNDIR/nostore.err")"
elif [ "$(grep -c "the store is not there yet" "$PVD_RUNDIR/nostore.err")" != 1 ]; then
	fail "no store: one line says it waits" "$(head -c 300 "$PVD_RUNDIR/nostore.err")"
else
	pass "no store: one line, and it waits"
fi

STORED_HV=sim stored_start
consoled_start

# ------------------------------------------------------------ the pty
guest_start g5 5
toolstack_add g5 vm-five
tty=$(wait_tty 5) || die "no console/tty for dom5"
pass "console/tty appears"
case $tty in /dev/pts/[0-9]*) pass "console/tty names a pty ($tty)" ;;
	*) fail "console/tty names a pty" "got $tty" ;; esac
expect_eq "the pty is root's alone" "600" "$(stat -c %a "$tty")"
expect_eq "the pty is raw (no echo, no output processing)" "-echo -opost" \
	"$(stty -F "$tty" -a | tr ' ' '\n' | grep -E '^-?(echo|opost)$' | sort | tr '\n' ' ' | sed 's/ $//')"

reader_start "$PVD_RUNDIR/g5.pty" "$tty"
gcmd g5 write "hello from five"
expect_in "guest output arrives on the pty" "$PVD_RUNDIR/g5.pty" "hello from five"
expect_in "guest output arrives in the log" "$LOGDIR/guest-vm-five.log" "hello from five"
expect_eq "the log holds the raw bytes" "hello from five" "$(head -n 1 "$LOGDIR/guest-vm-five.log")"

printf 'ping-42\r' >"$tty"
expect_in "pty input arrives in the guest" "$PVD_RUNDIR/g5.input" "ping-42"
expect_in "the guest's echo comes back on the pty" "$PVD_RUNDIR/g5.pty" "ping-42"

# A burst longer than the in ring (1 KiB) arrives whole, in order.
long=$(head -c 3000 /dev/zero | tr '\0' 'q')
printf '%s|' "$long" >"$tty"
expect_in "a 3000-byte input arrives whole" "$PVD_RUNDIR/g5.input" "$long|"

# ------------------------------------------------------------ SIGHUP
mv "$LOGDIR/guest-vm-five.log" "$LOGDIR/guest-vm-five.log.rotated"
gcmd g5 write "before hup"
expect_in "output goes to the moved log until HUP" "$LOGDIR/guest-vm-five.log.rotated" "before hup"
mv "$CONSOLED_LOG" "$CONSOLED_LOG.rotated"
kill -HUP "$CONSOLED_PID"
wait_for "$PVD_WAIT_SECS" test -f "$CONSOLED_LOG" && pass "SIGHUP reopens the daemon's log" ||
	fail "SIGHUP reopens the daemon's log" "no new $CONSOLED_LOG"
gcmd g5 write "after hup"
expect_in "after SIGHUP the guest log is a new file" "$LOGDIR/guest-vm-five.log" "after hup"
file_has "$LOGDIR/guest-vm-five.log" "before hup" &&
	fail "the new log starts empty" "it has 'before hup'" || pass "the new log starts empty"
consoled_alive "the daemon survives SIGHUP"

# ------------------------------------------------------------ secondary consoles
guest_start g6 6 --secondary 2
toolstack_add g6 vm-six
for k in 0 1; do
	r=g6_sec${k}_ref p=g6_sec${k}_port
	xs write "/local/domain/6/device/console/$k/ring-ref" "${!r}" \
		"/local/domain/6/device/console/$k/port" "${!p}"
done
xs chmod -r /local/domain/6/device n6
tty6=$(wait_tty 6) || fail "dom6's primary console"
tty60=$(wait_tty 6 0) || fail "dom6's secondary console 0 has a tty node"
tty61=$(wait_tty 6 1) || fail "dom6's secondary console 1 has a tty node"
[ -n "$tty60" ] && [ "$tty60" != "$tty61" ] && [ "$tty60" != "$tty6" ] &&
	pass "each console has its own pty" || fail "each console has its own pty" "$tty6 $tty60 $tty61"
reader_start "$PVD_RUNDIR/g6.sec1" "$tty61"
gcmd g6 con 2
gcmd g6 write "on the second secondary"
expect_in "secondary console output arrives on its pty" "$PVD_RUNDIR/g6.sec1" "on the second secondary"
expect_in "secondary console output is logged apart" "$LOGDIR/guest-vm-six-console1.log" "on the second secondary"
# Removing a secondary console's nodes closes it.
xs rm /local/domain/6/device/console/1
wait_pid_gone "$READER_PID" "$PVD_WAIT_SECS" && pass "a removed secondary console is closed" ||
	fail "a removed secondary console is closed" "its reader still runs"
gcmd g6 con 0
gcmd g6 write "primary still fine"
reader_start "$PVD_RUNDIR/g6.pty" "$tty6"
expect_in "the primary console is unaffected" "$PVD_RUNDIR/g6.pty" "primary still fine"

# ------------------------------------------------------------ log names
# A hostile-looking name, but dom0's: sanitised into one file in $LOGDIR.
guest_start g7 7
toolstack_add g7 "../../etc/evil name"
wait_tty 7 >/dev/null || fail "dom7 has a console"
gcmd g7 write "evil named"
expect_in "a name with slashes is sanitised into the log dir" \
	"$LOGDIR/guest-.._.._etc_evil_name.log" "evil named"
expect_eq "nothing is written outside the log dir" "" \
	"$(find "$PVD_RUNDIR" -name '*evil*' ! -path "$LOGDIR/*")"
# A name node the guest owns (it could write it): not used (XSA-57).
guest_start g8 8
"$GUEST_BIN" introduce 8 "$g8_store_gfn" "$g8_store_port"
xs write /local/domain/8/name "guest-chosen"
xs chmod /local/domain/8/name n8
xs write /local/domain/8/console/type xenconsoled /local/domain/8/console/port "$g8_console_port" \
	/local/domain/8/console/ring-ref "$g8_console_gfn"
wait_tty 8 >/dev/null || fail "dom8 has a console"
gcmd g8 write "named by domid"
expect_in "a guest-owned name node is ignored: the log is named by domid" \
	"$LOGDIR/guest-8.log" "named by domid"
[ -e "$LOGDIR/guest-guest-chosen.log" ] && fail "no log under the guest's chosen name" ||
	pass "no log under the guest's chosen name"

# ------------------------------------------------------------ timestamps
consoled_stop
expect_eq "SIGTERM exits 0" 0 "$CONSOLED_EXIT"
[ -e "$CONSOLED_PIDFILE" ] && fail "SIGTERM removes the pidfile" || pass "SIGTERM removes the pidfile"
expect_eq "SIGTERM removes the tty nodes" "" "$(tty_of 5)"
consoled_start --timestamps
_tty_not= tty=$(wait_tty 5) || fail "dom5's console is back after a restart"
gcmd g5 write "stamped line"
expect_in "timestamped output arrives in the log" "$LOGDIR/guest-vm-five.log" "stamped line"
if grep -qE '^\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\] stamped line$' \
	"$LOGDIR/guest-vm-five.log"; then
	pass "--timestamps prefixes the line with the time"
else
	fail "--timestamps prefixes the line with the time" "$(tail -n 2 "$LOGDIR/guest-vm-five.log")"
fi
reader_start "$PVD_RUNDIR/g5b.pty" "$tty"
gcmd g5 write "stamps only in the log"
expect_in "the pty carries no timestamps" "$PVD_RUNDIR/g5b.pty" "stamps only in the log"
grep -q '^\[' "$PVD_RUNDIR/g5b.pty" && fail "no timestamp on the pty" "$(cat "$PVD_RUNDIR/g5b.pty")" ||
	pass "no timestamp on the pty"

consoled_alive "the daemon is still running"
stored_alive "the store is still running"
finish_consoled
