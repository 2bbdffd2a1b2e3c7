#!/bin/bash
# The console end to end: pvd-stored (--hv sim), pvd-consoled and guests
# made by `pvctl create` (pvguest's console frontend and its shell), with
# `pvctl console` driven in tmux as an operator would: boot messages in the
# guest's log, a command typed and answered, no local echo (raw mode),
# Ctrl-C reaching the guest, Ctrl-] detaching with the terminal restored;
# a flood with nobody attached (the guest does not block; the next client
# sees the drop marker); pvctl console without a terminal (pipes); the
# shell started again when it exits; $PVD_GUEST_SHELL; kill -9 of the
# daemon and a reattach; the shell and what it started gone with its
# guest (destroy, SIGKILL); and pvctl console's errors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/consoled_lib.sh"
need_xsutils
command -v tmux >/dev/null || skip "tmux not installed (scripts/deps.sh installs it)"

PVCTL=$PVD_BIN/pvctl
PVGUEST=$PVD_BIN/pvguest
[ -x "$PVCTL" ] || die "$PVCTL not built (run: make)"
[ -x "$PVGUEST" ] || die "$PVGUEST not built (run: make)"

pvctl() { timeout -k 2 30 "$PVCTL" "$@"; }

# ---------------------------------------------------------------- tmux
# A private server (its socket in the run directory); stopped by
# kill-server, then by PID if it is still there.
TMUX_SOCK=$PVD_RUNDIR/tmux.sock
TMUX_PID=
tm() { timeout -k 2 10 tmux -S "$TMUX_SOCK" -f /dev/null "$@"; }
# tm_session NAME CMD: a detached 120x30 session running CMD.
tm_session() {
	tm new-session -d -x 120 -y 30 -s "$1" "$2" || die "tmux new-session $1 failed"
	[ -n "$TMUX_PID" ] || TMUX_PID=$(tm display-message -p '#{pid}')
}
pane() { tm capture-pane -p -J -S -2000 -t "$1" 2>/dev/null; }
pane_has() { pane "$1" | grep -qF -- "$2"; }
# expect_pane NAME SESSION STRING: the pane comes to show STRING (bounded).
expect_pane() {
	if wait_for "$PVD_WAIT_SECS" pane_has "$2" "$3"; then
		pass "$1"
	else
		fail "$1" "pane $2 lacks '$3'" "it shows: $(pane "$2" | grep -v '^$' | tail -n 5)"
	fi
}
# attach NAME DOMAIN: pvctl console DOMAIN in session NAME; the pane says
# "pvctl-exit=N" when it ends, and keeps the terminal's settings from
# before and after in NAME.stty.before/after.  Returns once pvctl says it
# is connected (the terminal is raw from then on).
attach() {
	local s=$PVD_RUNDIR/$1.stty
	tm_session "$1" "stty -g >$s.before; $PVCTL console $2; echo pvctl-exit=\$?; stty -g >$s.after; exec sleep 600"
	wait_for "$PVD_WAIT_SECS" pane_has "$1" "Ctrl-] detaches" ||
		fail "pvctl console $2 connects in session $1" "$(pane "$1" | grep -v '^$' | tail -n 3)"
}

# ------------------------------------------------------------ guests
# Guests are not our children (pvguest detaches): at exit, whatever is
# left is destroyed through pvctl, then killed by PID if it still is
# that domain's pvguest.
is_guest() {
	local args
	args=$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	[[ "$(basename "$(head -n 1 <<<"$args")")" == pvguest ]] &&
		[ "$(grep -x -A1 -- "--domid" <<<"$args" | tail -n 1)" = "$2" ]
}
cleanup() {
	local f d pid
	tm kill-server >/dev/null 2>&1
	if [ -n "$TMUX_PID" ] && pid_alive "$TMUX_PID" &&
		tr '\0' ' ' <"/proc/$TMUX_PID/cmdline" 2>/dev/null | grep -qF "$TMUX_SOCK"; then
		kill -KILL "$TMUX_PID"
	fi
	for f in "$PVD_RUNDIR"/guests/dom*/pid; do
		[ -f "$f" ] || continue
		d=${f%/pid}
		d=${d##*/dom}
		pid=$(cat "$f" 2>/dev/null)
		timeout -k 2 20 "$PVCTL" destroy "$d" >/dev/null 2>&1
		if [ -n "$pid" ] && is_guest "$pid" "$d"; then
			kill -KILL "$pid" 2>/dev/null
		fi
	done
}
trap 'rc=$?; cleanup; (exit $rc); _pvd_cleanup' EXIT

# guest_pid DOMID; shell_pids DOMID: the guest's pvguest, and every
# process below it (the console's namespace init, the shell, its jobs).
guest_pid() { cat "$PVD_RUNDIR/guests/dom$1/pid" 2>/dev/null; }
descendants() {
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}
# all_gone PIDS...: none of them runs any more (bounded).
_none_alive() { local p; for p in "$@"; do pid_alive "$p" && return 1; done; return 0; }
all_gone() { wait_for "$PVD_WAIT_SECS" _none_alive "$@"; }

# pvguest drops root for nobody: it must reach the run directory.
[ "$(id -u)" = 0 ] && chmod 755 "$PVD_RUNDIR"
CFG=$PVD_RUNDIR/cfg
mkdir -p "$CFG"
printf 'name = "g1"\nmemory = 32\n' >"$CFG/g1.cfg"
printf 'name = "g2"\nmemory = 16\n' >"$CFG/g2.cfg"

# ------------------------------------------------------------ usage
expect_eq "console without a domain: exit 2" 2 "$(pvctl console >/dev/null 2>&1; echo $?)"
expect_eq "console with two domains: exit 2" 2 "$(pvctl console a b >/dev/null 2>&1; echo $?)"
expect_eq "console with a bad --num: exit 2" 2 "$(pvctl console a --num x >/dev/null 2>&1; echo $?)"
expect_eq "console with an unknown option: exit 2" 2 "$(pvctl console a --bogus >/dev/null 2>&1; echo $?)"
[[ "$(pvctl console --help)" == "Usage: pvctl console DOMAIN [--num N]"* ]] &&
	pass "console --help shows its usage" || fail "console --help shows its usage"
[[ "$(pvctl help)" == *"  console "* ]] && pass "help lists console" || fail "help lists console"

export XENSTORED_PATH=$PVD_RUNDIR/nostore.sock
expect_fail "console without a store" "pvctl: cannot connect to the store" pvctl console g1

STORED_HV=sim stored_start

# ------------------------------------------------------------ errors
expect_fail "console of an unknown domain" "pvctl: domain 'nope' does not exist" pvctl console nope
expect_fail "console of an unknown domid" "pvctl: domain '42' does not exist" pvctl console 42
expect_fail "dom0 has no console here" "pvctl: domain '0' has no console" pvctl console 0
# Domain 9 as another toolstack (or a hostile guest) might leave it.
# A secondary console's tty node is in its backend directory (dom0's).
xs write /local/domain/9/name nine /local/domain/9/console/tty /etc/passwd \
	/local/domain/9/device/console/1/type xenconsoled \
	/local/domain/0/backend/console/9/1/tty /dev/pts/999999 || die "cannot write domain 9"
expect_fail "a tty node naming a file is refused" \
	"pvctl: domain 'nine': the tty node names '/etc/passwd', not a pty" pvctl console nine
expect_fail "a tty node naming no pty: bounded wait, then a clear error" \
	"pvctl: domain 'nine' console 1: cannot open /dev/pts/999999: No such file or directory" \
	pvctl console nine --num 1
# A node the guest owns (it could have written anything there) is refused.
xs chmod /local/domain/9/console/tty n9 || die "cannot chmod domain 9's tty"
expect_fail "a tty node not owned by dom0 is refused" \
	"pvctl: domain 'nine': the tty node /local/domain/9/console/tty is not owned by dom0: refused" \
	pvctl console nine
xs write /local/domain/9/device/console/2/tty /dev/pts/0 || die "cannot write domain 9"
expect_fail "a secondary console's tty in the guest's directory is not used" \
	"pvctl: domain 'nine' console 2 has no tty after 5 s" pvctl console nine --num 2
xs rm /local/domain/0/backend/console/9
xs rm /local/domain/9

out=$(pvctl create "$CFG/g1.cfg" 2>&1) || die "pvctl create g1: $out"
D1=$out
log "g1 is domain $D1"
expect_fail "no console daemon: no tty node after a bounded wait" \
	"pvctl: domain 'g1' has no tty after 5 s: is pvd-consoled running?" pvctl console g1
expect_fail "a secondary console that does not exist" "pvctl: domain 'g1' has no console 3" \
	pvctl console g1 --num 3

# ------------------------------------------------------------ boot
consoled_start --buffer-size 16K --rate-limit 0
GLOG=$LOGDIR/guest-g1.log
wait_tty "$D1" >/dev/null || die "no console/tty for g1"
expect_in "the boot message is in the console log" "$GLOG" "pvguest: domain $D1 (g1) booting"
expect_in "the memory is in the console log" "$GLOG" "pvguest: memory: 32 MiB"
expect_in "the shell's start is in the console log" "$GLOG" "pvguest: starting the shell: /bin/sh -i"
expect_in "the shell's namespaces are in the console log" "$GLOG" "pvguest: shell namespaces:"
GPID1=$(guest_pid "$D1")

# ------------------------------------------------------------ attached
attach c1 g1
expect_pane "pvctl console says where it is connected" c1 \
	"Connected to domain 'g1' (/dev/pts/"
tm send-keys -t c1 'echo hello-$((6*7))' Enter
expect_pane "a command typed in pvctl console is answered by the guest's shell" c1 "hello-42"
expect_eq "raw mode: what is typed is echoed once (by the guest), not by the terminal" 1 \
	"$(pane c1 | grep -cF 'echo hello-$((6*7))')"
expect_in "the session is in the console log" "$GLOG" "hello-42"
# pvctl runs guests as nobody when it is root; nobody's home does not
# exist, so the shell's is /tmp.
if [ "$(id -u)" = 0 ]; then want="user=nobody term=xterm home=/tmp"
else want="user=$(id -un) term=xterm home=$HOME"; fi
tm send-keys -t c1 'echo "user=$(id -un) term=$TERM home=$HOME"' Enter
expect_pane "the shell runs as the guest's user, TERM=xterm, a usable HOME" c1 "$want"
if grep -q "shell namespaces:.*hostname g1" "$GLOG"; then
	tm send-keys -t c1 'echo host-is-$(hostname)' Enter
	expect_pane "the shell's hostname is the guest's name (own UTS namespace)" c1 "host-is-g1"
else
	log "no UTS namespace for the shell here: $(grep 'shell namespaces' "$GLOG")"
fi
if grep -q "shell namespaces:.* pid" "$GLOG"; then
	tm send-keys -t c1 'echo shell-pid-$$' Enter
	expect_pane "the shell is alone in its own PID namespace" c1 "shell-pid-2"
fi
if grep -q "shell namespaces:.*own /dev/pts" "$GLOG"; then
	tm send-keys -t c1 'echo tty-is-$(tty)' Enter
	expect_pane "the shell's pty is in a devpts of its own" c1 "tty-is-/dev/pts/0"
fi
# Ctrl-C goes to the guest (raw mode): it stops the guest's job, not pvctl.
tm send-keys -t c1 'sleep 1000' Enter
wait_for "$PVD_WAIT_SECS" pane_has c1 "sleep 1000" || fail "sleep 1000 echoed"
tm send-keys -t c1 C-c
tm send-keys -t c1 'echo after-ctrl-c-$((2*5))' Enter
expect_pane "Ctrl-C interrupts the guest's job and the session goes on" c1 "after-ctrl-c-10"
pane_has c1 "pvctl-exit=" && fail "pvctl survives Ctrl-C" "$(pane c1 | tail -n 3)" ||
	pass "pvctl survives Ctrl-C"
tm send-keys -t c1 C-]
expect_pane "Ctrl-] detaches: pvctl exits 0" c1 "pvctl-exit=0"
expect_eq "the terminal is restored after detaching" \
	"$(cat "$PVD_RUNDIR/c1.stty.before" 2>/dev/null)" "$(cat "$PVD_RUNDIR/c1.stty.after" 2>/dev/null)"

# ------------------------------------------------------------ flood
# Typed, then detached at once: the output flows with nobody attached.
attach c2 g1
tm send-keys -t c2 'yes | head -c 5000000; echo flood-done-$((3*3))' Enter
tm send-keys -t c2 C-]
expect_pane "detached during the flood" c2 "pvctl-exit=0"
if wait_for 60 file_has "$GLOG" "flood-done-9"; then
	pass "the guest finishes its flood with nobody attached (it never blocks)"
else
	fail "the guest finishes its flood with nobody attached" "$(tail -c 200 "$GLOG" | cat -A)"
fi
expect_eq "every flooded line is in the log" 5000000 \
	"$(grep -ac '^y'$'\r''$' "$GLOG" | awk '{print $1 * 2}')"
# The next client, through a pipe (no terminal): what the daemon kept,
# with the marker where it dropped.
"$PVCTL" console g1 </dev/null >"$PVD_RUNDIR/flood.out" 2>"$PVD_RUNDIR/flood.err" &
P=$!
track_pid "$P"
expect_in "the next client gets the newest output" "$PVD_RUNDIR/flood.out" "flood-done-9"
if grep -aqE '\[pvd-consoled: [0-9]+ bytes dropped\]' "$PVD_RUNDIR/flood.out"; then
	pass "the next client sees the drop marker"
else
	fail "the next client sees the drop marker" "$(head -c 300 "$PVD_RUNDIR/flood.out" | cat -A)"
fi
kill -TERM "$P"
wait_pid_gone "$P" 5
wait "$P"
expect_eq "SIGTERM ends pvctl console with 0" 0 "$?"

# ------------------------------------------------------------ pipes
# Its input ends at once; it goes on showing the console.
printf 'echo piped-$((4+5))\n' | "$PVCTL" console g1 >"$PVD_RUNDIR/pipe.out" 2>&1 &
P=$!
track_pid "$P"
expect_in "pvctl console works with pipes (no terminal)" "$PVD_RUNDIR/pipe.out" "piped-9"
kill -TERM "$P"
wait_pid_gone "$P" 5 && pass "a piped pvctl console stops on SIGTERM" ||
	fail "a piped pvctl console stops on SIGTERM"
# Ctrl-] in the input detaches too.
printf 'echo before-escape-$((1+1))\n\035echo after-escape\n' |
	timeout -k 2 20 "$PVCTL" console g1 >"$PVD_RUNDIR/esc.out" 2>&1
expect_eq "Ctrl-] in piped input detaches with 0" 0 "$?"
expect_in "what came before Ctrl-] reached the guest" "$GLOG" "before-escape-2"
file_has "$GLOG" "after-escape"$'\r' && fail "nothing after Ctrl-] is sent" ||
	pass "nothing after Ctrl-] is sent"

# ------------------------------------------------------------ respawn
SHELLS=$(descendants "$GPID1")
printf 'exit\n' | timeout -k 2 20 "$PVCTL" console g1 >/dev/null 2>&1 &
P=$!
track_pid "$P"
expect_in "a shell that exits is started again" "$GLOG" "pvguest: the shell exited (status 0); starting a new one"
kill -TERM "$P" 2>/dev/null
wait_pid_gone "$P" 5
all_gone $SHELLS && pass "the old shell's processes are gone" ||
	fail "the old shell's processes are gone" "$SHELLS"
attach c3 g1
tm send-keys -t c3 'echo new-shell-$((3+4))' Enter
expect_pane "the new shell answers" c3 "new-shell-7"
tm send-keys -t c3 C-]
expect_pane "detached from the new shell" c3 "pvctl-exit=0"

# ------------------------------------------------------------ restart
old=$(tty_of "$D1")
consoled_kill9
# The node still names the dead pty; mark it to see it rewritten.
xs write "/local/domain/$D1/console/tty" stale
consoled_start --buffer-size 16K --rate-limit 0
_tty_not=stale
new=$(wait_tty "$D1") && pass "a new tty node after kill -9 of the daemon ($old -> $new)" ||
	fail "a new tty node after kill -9 of the daemon" "$(tty_of "$D1")"
_tty_not=
attach c4 g1
tm send-keys -t c4 'echo again-$((7*8))' Enter
expect_pane "after the daemon's restart the console works again" c4 "again-56"
# The daemon goes while a client is attached: it is told, and exits 1.
consoled_stop
expect_pane "a client whose console closes exits 1" c4 "pvctl-exit=1"
expect_pane "... and says why" c4 "pvctl: domain 'g1': the console closed"
expect_eq "the terminal is restored after the console closed" \
	"$(cat "$PVD_RUNDIR/c4.stty.before" 2>/dev/null)" "$(cat "$PVD_RUNDIR/c4.stty.after" 2>/dev/null)"
consoled_start --buffer-size 16K --rate-limit 0

# ------------------------------------------------------------ PVD_GUEST_SHELL
out=$(PVD_GUEST_SHELL='echo custom-shell-$((5*5)); exec sleep 600' pvctl create "$CFG/g2.cfg" 2>&1) ||
	die "pvctl create g2: $out"
D2=$out
expect_in "\$PVD_GUEST_SHELL chooses the shell" "$LOGDIR/guest-g2.log" "custom-shell-25"

# ------------------------------------------------------------ the end
# SIGKILL of a guest: its shell and everything below go with it.
GPID2=$(guest_pid "$D2")
wait_for "$PVD_WAIT_SECS" test -n "$(descendants "$GPID2")"
KIDS2=$(descendants "$GPID2")
[ -n "$KIDS2" ] && pass "g2 runs its shell" || fail "g2 runs its shell"
is_guest "$GPID2" "$D2" && kill -KILL "$GPID2"
all_gone $KIDS2 && pass "a guest killed by SIGKILL leaves no shell behind" ||
	fail "a guest killed by SIGKILL leaves no shell behind" "$KIDS2"
expect_ok "destroy g2" pvctl destroy g2
# Destroy: the shell and what it started go; the console says goodbye.
attach c5 g1
tm send-keys -t c5 'sleep 1000 & echo bg-started-$((8+1))' Enter
expect_pane "a background job in the guest" c5 "bg-started-9"
tm send-keys -t c5 C-]
expect_pane "detached" c5 "pvctl-exit=0"
KIDS1=$(descendants "$GPID1")
expect_ok "destroy g1" pvctl destroy g1
all_gone "$GPID1" $KIDS1 && pass "destroy leaves no shell or job of the guest behind" ||
	fail "destroy leaves no shell or job of the guest behind" "$GPID1 $KIDS1"
expect_in "the guest's last words are in the log" "$GLOG" "pvguest: domain $D1 (g1) shutting down"
expect_fail "console of a destroyed domain" "pvctl: domain 'g1' does not exist" pvctl console g1

consoled_alive "pvd-consoled still runs"
stored_alive "pvd-stored still runs"
finish_consoled
