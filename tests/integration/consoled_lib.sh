# Sourced by tests/integration/test_consoled*.sh after lib.sh: starts
# pvd-consoled, simulated guests (console_guest) and pty readers in the
# test's private PVD_RUNDIR; everything started is tracked by PID and
# stopped by lib.sh at exit.  Every wait is bounded by PVD_WAIT_SECS.

CONSOLED_PID=
CONSOLED_PIDFILE=$PVD_RUNDIR/consoled.pid
CONSOLED_LOG=$PVD_RUNDIR/consoled.log
CONSOLED_EXIT=
LOGDIR=$PVD_RUNDIR/logs
mkdir -p "$LOGDIR"
need_testbin console_guest GUEST_BIN

# wait_for SECS CMD...: polls CMD every 50 ms; 1 if it never held.
wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 20; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

file_has() { [ -f "$1" ] && grep -qF -- "$2" "$1"; }

# consoled_start [ARGS...]: pvd-consoled -f with a pidfile and a log,
# guests' logs in $LOGDIR; waits (bounded) for the pidfile.
consoled_start() {
	local pid=
	[ -x "$PVD_BIN/pvd-consoled" ] || die "$PVD_BIN/pvd-consoled not built (run: make)"
	rm -f "$CONSOLED_PIDFILE"
	"$PVD_BIN/pvd-consoled" -f --pidfile "$CONSOLED_PIDFILE" --log-file "$CONSOLED_LOG" \
		--log-dir "$LOGDIR" "$@" >>"$PVD_RUNDIR/consoled.stderr" 2>&1 &
	CONSOLED_PID=$!
	track_pid "$CONSOLED_PID"
	if ! wait_for "$PVD_WAIT_SECS" consoled_ready; then
		pid_alive "$CONSOLED_PID" || { wait "$CONSOLED_PID"; log "pvd-consoled exited with $?"; }
		sed 's/^/# /' "$PVD_RUNDIR/consoled.stderr" "$CONSOLED_LOG" 2>/dev/null | tail -n 20
		die "pvd-consoled $* did not start"
	fi
	log "pvd-consoled running, pid $CONSOLED_PID"
}
consoled_ready() {
	[ -s "$CONSOLED_PIDFILE" ] && [ "$(cat "$CONSOLED_PIDFILE")" = "$CONSOLED_PID" ]
}

consoled_stop() { daemon_stop CONSOLED; }

consoled_kill9() { daemon_kill9 CONSOLED pvd-consoled; }

consoled_alive() { daemon_alive CONSOLED pvd-consoled "$1" "$PVD_RUNDIR/consoled.stderr"; }

# guest_start NAME DOMID [console_guest options]: a simulated guest obeying
# commands written to its FIFO.  Sets NAME_domid, NAME_console_port,
# NAME_console_gfn, NAME_store_gfn, NAME_store_port (and secK_ref/_port),
# NAME_pid and NAME_fd.  What arrives on its in ring goes to
# $PVD_RUNDIR/NAME.input.
guest_start() {
	local name=$1 domid=$2 fifo=$PVD_RUNDIR/$1.cmd out=$PVD_RUNDIR/$1.out kv fd
	shift 2
	rm -f "$fifo" "$out"
	mkfifo "$fifo"
	"$GUEST_BIN" guest "$domid" --in-file "$PVD_RUNDIR/$name.input" "$@" \
		<"$fifo" >"$out" 2>"$PVD_RUNDIR/$name.err" &
	declare -g "${name}_pid=$!"
	track_pid "$!"
	exec {fd}>"$fifo"
	declare -g "${name}_fd=$fd"
	wait_for "$PVD_WAIT_SECS" file_has "$out" "domid=" ||
		die "guest $name (dom$domid) did not start: $(cat "$PVD_RUNDIR/$name.err")"
	for kv in $(head -n 1 "$out"); do
		declare -g "${name}_${kv%%=*}=${kv#*=}"
	done
}

# gcmd NAME COMMAND...: one command line to the guest.
gcmd() {
	local fdv=${1}_fd
	shift
	printf '%s\n' "$*" >&"${!fdv}"
}

# gsync NAME: returns once the guest has obeyed every earlier command.
_sync_n=0
gsync() {
	_sync_n=$((_sync_n + 1))
	gcmd "$1" sync "$_sync_n"
	wait_for "$PVD_WAIT_SECS" file_has "$PVD_RUNDIR/$1.out" "sync $_sync_n"
}

# gstatus NAME FIELD: a field of the guest's status line (current console).
gstatus() {
	_sync_n=$((_sync_n + 1))
	gcmd "$1" status
	gcmd "$1" sync "$_sync_n"
	wait_for "$PVD_WAIT_SECS" file_has "$PVD_RUNDIR/$1.out" "sync $_sync_n" || return 1
	grep '^status ' "$PVD_RUNDIR/$1.out" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# toolstack_add NAME [DOMNAME]: what a toolstack does for the guest's
# console: introduce the domain, then write its name (dom0's) and its
# console nodes, the console directory given to the guest first (its
# nodes inherit that), so that the daemon's tty node, made later, stays
# dom0's (a recursive chmod afterwards would hand it to the guest).
toolstack_add() {
	local name=$1 dname=${2:-$1} d g p s sp
	d=${name}_domid g=${name}_console_gfn p=${name}_console_port
	s=${name}_store_gfn sp=${name}_store_port
	"$GUEST_BIN" introduce "${!d}" "${!s}" "${!sp}" || die "introduce dom${!d} failed"
	xs write "/local/domain/${!d}/name" "$dname" || die "xenstore-write name"
	xs write "/local/domain/${!d}/console" "" || die "xenstore-write console dir"
	xs chmod "/local/domain/${!d}/console" "n${!d}" || die "xenstore-chmod console"
	xs write "/local/domain/${!d}/console/type" xenconsoled \
		"/local/domain/${!d}/console/port" "${!p}" \
		"/local/domain/${!d}/console/ring-ref" "${!g}" || die "xenstore-write console"
}

# tty_of DOMID [DIR]: the tty node of the primary console (or of
# secondary console DIR, in its backend directory: dom0's, not the
# guest's device/console/DIR).
tty_of() {
	if [ -n "${2:-}" ]; then
		xs read "/local/domain/0/backend/console/$1/$2/tty" 2>/dev/null
	else
		xs read "/local/domain/$1/console/tty" 2>/dev/null
	fi
}
_tty_ok() {
	local t
	t=$(tty_of "$@") || return 1
	[ -n "$t" ] && [ "$t" != "${_tty_not:-}" ] && [ -c "$t" ]
}
# wait_tty DOMID [DIR]: waits for a tty node naming a character device
# (and, with _tty_not set, another one than that); prints it.
wait_tty() {
	wait_for "$PVD_WAIT_SECS" _tty_ok "$@" || return 1
	tty_of "$@"
}

# reader_start FILE TTY: a client on the pty appending to FILE; sets
# READER_PID (cat's own: killing it closes the client).  It ends when the
# pty goes away, or at the test's end (lib.sh stops it by PID).
reader_start() {
	: >"$1"
	cat "$2" >>"$1" 2>/dev/null &
	READER_PID=$!
	track_pid "$READER_PID"
}

# expect_in NAME FILE STRING: FILE comes to contain STRING (bounded).
expect_in() {
	if wait_for "$PVD_WAIT_SECS" file_has "$2" "$3"; then
		pass "$1"
	else
		fail "$1" "$2 lacks '$3'" "it has: $(tail -c 300 "$2" 2>/dev/null | cat -A | tail -n 3)"
	fi
}

# expect_log NAME STRING: pvd-consoled's log comes to contain STRING.
expect_log() { expect_in "$1" "$CONSOLED_LOG" "$2"; }

# finish_consoled: lib.sh's finish, also failing on sanitizer reports in
# pvd-consoled's stderr.
finish_consoled() {
	local f=$PVD_RUNDIR/consoled.stderr
	if [ -s "$f" ] && grep -qiE 'runtime error|sanitizer|assert' "$f"; then
		fail "pvd-consoled's stderr is free of sanitizer reports" \
			"$(grep -iE 'runtime error|sanitizer|assert' "$f" | head -n 3)"
	fi
	if [ "$_pvd_fails" -ne 0 ]; then
		for f in "$PVD_RUNDIR/consoled.stderr" "$CONSOLED_LOG"; do
			[ -s "$f" ] || continue
			echo "# --- last lines of $f ---"
			tail -n 30 "$f" | sed 's/^/# /'
		done
	fi
	finish
}
