#!/bin/bash
# pvctl against pvd-stored alone (no guest is started): help, the errors
# (no store, a config that does not parse, an unknown domain, a name in
# use, no pvguest to run), list, and destroy of a domain whose nodes some
# other toolstack wrote.  Every failure must leave the store as it was.
# Creating real domains is test_pvctl_lifecycle.sh.
. "$(dirname "$0")/lib.sh"
need_xsutils

PVCTL=$PVD_BIN/pvctl
[ -x "$PVCTL" ] || die "$PVCTL not built (run: make)"

# pvctl ARGS...: bounded, like every client here.
pvctl() { timeout -k 2 "$XS_TIMEOUT" "$PVCTL" "$@"; }

# expect_status NAME STATUS CMD...: CMD exits with STATUS.
expect_status() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >/dev/null 2>&1
	rc=$?
	expect_eq "$name" "$want" "$rc"
}

CFG=$PVD_RUNDIR/cfg
mkdir -p "$CFG"
cat >"$CFG/web.cfg" <<'EOF'
# a domain pvctl could create
name = "web"
memory = 32
disk = [ 'file:/var/lib/images/web.img,xvda,w' ]
vif = [ 'bridge=xenbr0' ]
EOF

# ------------------------------------------------------------ --version
# Every program pvd installs answers --version with the tree's VERSION.
want_ver=$(cat "$(dirname "$0")/../../VERSION")
for prog in pvctl pvguest pvd-stored pvd-blkback pvd-consoled; do
	out=$(timeout -k 2 "$XS_TIMEOUT" "$PVD_BIN/$prog" --version 2>&1); rc=$?
	expect_eq "$prog --version exits 0" 0 "$rc"
	expect_eq "$prog --version" "$prog (pvd) $want_ver" "$out"
done

# ------------------------------------------------------------------ help
out=$(pvctl help); rc=$?
expect_eq "help exits 0" 0 "$rc"
for c in create destroy list; do
	[[ "$out" == *"  $c "* ]] && pass "help lists $c" || fail "help lists $c" "$out"
done
expect_eq "--help is help" "$out" "$(pvctl --help)"
out=$(pvctl create --help); rc=$?
expect_eq "create --help exits 0" 0 "$rc"
[[ "$out" == "Usage: pvctl create CONFIG"* ]] && pass "create --help shows its usage" ||
	fail "create --help shows its usage" "$out"
expect_eq "help create is create --help" "$out" "$(pvctl help create)"
[[ "$(pvctl destroy --help)" == "Usage: pvctl destroy DOMAIN"* ]] &&
	pass "destroy --help shows its usage" || fail "destroy --help shows its usage"
expect_status "no command: usage, exit 2" 2 pvctl
expect_status "unknown command: exit 2" 2 pvctl frobnicate
expect_fail "unknown command is named" "pvctl: unknown command 'frobnicate'" pvctl frobnicate
expect_status "create without a config: exit 2" 2 pvctl create
expect_status "destroy with two domains: exit 2" 2 pvctl destroy a b
expect_status "list takes no argument: exit 2" 2 pvctl list extra

# -------------------------------------------------------------- no store
export XENSTORED_PATH=$PVD_RUNDIR/nostore.sock
expect_fail "list without a store" \
	"pvctl: cannot connect to the store at $PVD_RUNDIR/nostore.sock: No such file or directory" \
	pvctl list
expect_fail "create without a store" "cannot connect to the store at $PVD_RUNDIR/nostore.sock" \
	pvctl create "$CFG/web.cfg"
expect_fail "destroy without a store" "cannot connect to the store" pvctl destroy web
# A socket nobody listens on.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
	"$PVD_RUNDIR/dead.sock" 2>/dev/null
if [ -S "$PVD_RUNDIR/dead.sock" ]; then
	XENSTORED_PATH=$PVD_RUNDIR/dead.sock expect_fail "a dead socket" \
		"cannot connect to the store at $PVD_RUNDIR/dead.sock: Connection refused" pvctl list
fi
[ -e "$PVD_RUNDIR/guests" ] && fail "no guest directory without a store" || pass "no guest directory without a store"

stored_start

# Everything below must leave these as they are.
snapshot() { xs ls -f -p / 2>&1; ls -A "$PVD_RUNDIR/guests" 2>/dev/null; ls -A "$PVD_RUNDIR/hv" 2>/dev/null; }

# ------------------------------------------------------------------ list
out=$(pvctl list); rc=$?
expect_eq "list exits 0" 0 "$rc"
expect_eq "list with dom0 only" \
"Name                                        ID    Mem  State   Devices
Domain-0                                     0      -  r-----  -" "$out"

# ------------------------------------------------------------ bad config
before=$(snapshot)
badcfg() { printf "$2" >"$CFG/$1.cfg"; }
badcfg unknown "name = 'a'\nmemory = 64\n\n# comment\ndisk = []\n\nfoo = 1\n"
expect_fail "unknown key, with its line" "pvctl: $CFG/unknown.cfg:7: unknown key 'foo'" \
	pvctl create "$CFG/unknown.cfg"
badcfg noname "memory = 64\n"
expect_fail "no name" "$CFG/noname.cfg: no 'name' setting" pvctl create "$CFG/noname.cfg"
badcfg syntax "name = 'a'\nmemory = = 3\n"
expect_fail "syntax error, with its line" "$CFG/syntax.cfg:2: expected a value for 'memory'" \
	pvctl create "$CFG/syntax.cfg"
badcfg unterminated "name = 'a'\ndisk = [ 'file:/a,xvda,w',\n"
expect_fail "unterminated list" "$CFG/unterminated.cfg:2: unterminated list" \
	pvctl create "$CFG/unterminated.cfg"
badcfg qcow "name = 'a'\ndisk = [\n  'file:/a,xvda,w',\n  '/b,qcow2,xvdb',\n]\n"
expect_fail "unsupported disk format" \
	"$CFG/qcow.cfg:4: disk '/b,qcow2,xvdb': format 'qcow2' is not supported" \
	pvctl create "$CFG/qcow.cfg"
badcfg vdev "name = 'a'\ndisk = [ 'file:/a,floppy0,w' ]\n"
expect_fail "bad vdev" "$CFG/vdev.cfg:2: disk 'file:/a,floppy0,w': unsupported virtual device 'floppy0'" \
	pvctl create "$CFG/vdev.cfg"
badcfg mac "name = 'a'\nvif = [ 'mac=00:16:3e:zz:00:01' ]\n"
expect_fail "bad mac" "$CFG/mac.cfg:2: vif 'mac=00:16:3e:zz:00:01': bad mac" pvctl create "$CFG/mac.cfg"
badcfg hvm "name = 'a'\ntype = 'hvm'\n"
expect_fail "hvm refused" "$CFG/hvm.cfg:2: type 'hvm' is not supported" pvctl create "$CFG/hvm.cfg"
expect_fail "missing config file" "$CFG/none.cfg: No such file or directory" pvctl create "$CFG/none.cfg"
head -c 2000000 /dev/zero | tr '\0' '#' >"$CFG/huge.cfg"
expect_fail "a config over 1 MiB" "$CFG/huge.cfg: larger than 1048576 bytes" pvctl create "$CFG/huge.cfg"
expect_eq "bad configs change nothing" "$before" "$(snapshot)"

# -------------------------------------------------------- unknown domain
expect_fail "destroy an unknown name" "pvctl: domain 'nope' does not exist" pvctl destroy nope
expect_fail "destroy an unknown domid" "pvctl: domain '42' does not exist" pvctl destroy 42
expect_fail "destroy dom0" "pvctl: cannot destroy Domain-0" pvctl destroy 0
expect_fail "destroy Domain-0 by name" "pvctl: cannot destroy Domain-0" pvctl destroy Domain-0
expect_eq "failed destroys change nothing" "$before" "$(snapshot)"

# ------------------------------------------------------ a name in use
# Domain 7 as another toolstack would have left it (no pvguest of ours).
UUID=11111111-2222-4333-8444-555555555555
xs write /local/domain/7/name web /local/domain/7/vm /vm/$UUID \
	/local/domain/7/memory/target 131072 /vm/$UUID/name web \
	/local/domain/0/backend/vbd/7/51712/params /img /local/domain/7/device/vbd/51712/state 1 \
	/local/domain/0/backend/vif/7/0/bridge xenbr0 /local/domain/0/backend/vbd/8/51712/params /keep \
	|| die "cannot write domain 7"
before=$(snapshot)
expect_fail "a name in use" "pvctl: domain name 'web' is already in use (domain 7)" \
	pvctl create "$CFG/web.cfg"
expect_eq "a name in use changes nothing" "$before" "$(snapshot)"

# ----------------------------------------------------- list of others'
xs write /local/domain/8/name "$(printf 'evil\033[2J')" /local/domain/8/memory/target x || die "domain 8"
out=$(pvctl list)
expect_eq "list shows others' domains, terminal codes replaced" \
"Name                                        ID    Mem  State   Devices
Domain-0                                     0      -  r-----  -
web                                          7    128  ------  vbd:1
evil?[2J                                     8      -  ------  -" "$out"

# ------------------------------------------- destroy of others' domains
expect_ok "destroy domain 7 by name" pvctl destroy web
for p in /local/domain/7 /vm/$UUID /local/domain/0/backend/vbd/7 /local/domain/0/backend/vif/7; do
	xs exists "$p" && fail "destroy removed $p" || pass "destroy removed $p"
done
expect_eq "destroy left domain 8's backend" "/keep" "$(xs read /local/domain/0/backend/vbd/8/51712/params)"
expect_ok "destroy domain 8 by domid" pvctl destroy 8
xs exists /local/domain/8 && fail "domain 8 removed" || pass "domain 8 removed"
expect_fail "destroyed twice" "domain 'web' does not exist" pvctl destroy web
# A vm node that points elsewhere is not followed.
xs write /local/domain/9/vm /tool /local/domain/9/name nine || die "domain 9"
expect_ok "destroy a domain whose vm node is odd" pvctl destroy nine
xs exists /tool && pass "an odd vm path is not removed" || fail "an odd vm path is not removed"

# --------------------------------------------------- no pvguest to run
before=$(snapshot)
PVD_BIN=$PVD_RUNDIR/nobin expect_fail "create without pvguest" \
	"pvctl: cannot find pvguest ($PVD_RUNDIR/nobin/pvguest: No such file or directory)" \
	pvctl create "$CFG/web.cfg"
expect_eq "create without pvguest changes nothing" "$before" "$(snapshot)"
# A "pvguest" that fails at once: its words reach the user, nothing stays.
mkdir -p "$PVD_RUNDIR/fakebin"
printf '#!/bin/sh\necho "pvguest: no hypervisor here" >&2\nexit 3\n' >"$PVD_RUNDIR/fakebin/pvguest"
chmod +x "$PVD_RUNDIR/fakebin/pvguest"
PVD_BIN=$PVD_RUNDIR/fakebin expect_fail "a pvguest that fails is explained" \
	"pvctl: pvguest for domain 1 exited with status 3: pvguest: no hypervisor here" \
	pvctl create "$CFG/web.cfg"
# One that never says it is ready: bounded wait, then it is killed.
printf '#!/bin/sh\necho $$ >"%s/hang.pid"\nexec sleep 60\n' "$PVD_RUNDIR" >"$PVD_RUNDIR/fakebin/pvguest"
PVD_BIN=$PVD_RUNDIR/fakebin expect_fail "a pvguest that hangs" \
	"pvctl: pvguest for domain 1 did not report ready within 10 s" \
	timeout -k 2 30 "$PVCTL" create "$CFG/web.cfg"
hp=$(cat "$PVD_RUNDIR/hang.pid" 2>/dev/null)
[ -n "$hp" ] && ! pid_alive "$hp" && pass "the hung pvguest was killed" ||
	fail "the hung pvguest was killed" "pid ${hp:-none}"
# Interrupted while it waits: the guest is killed, pvctl says so.
rm -f "$PVD_RUNDIR/hang.pid"
PVD_BIN=$PVD_RUNDIR/fakebin timeout -k 2 30 "$PVCTL" create "$CFG/web.cfg" \
	>/dev/null 2>"$PVD_RUNDIR/int.err" &
cpid=$!
for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
	[ -s "$PVD_RUNDIR/hang.pid" ] && break
	sleep 0.05
done
hp=$(cat "$PVD_RUNDIR/hang.pid" 2>/dev/null)
# timeout(1) passes SIGTERM on to pvctl.
kill -TERM "$cpid"
wait "$cpid"
rc=$?
[ "$rc" -ne 0 ] && grep -q "was stopped: pvctl was interrupted" "$PVD_RUNDIR/int.err" &&
	pass "an interrupted create says so" ||
	fail "an interrupted create says so" "exit $rc: $(cat "$PVD_RUNDIR/int.err")"
[ -n "$hp" ] && wait_pid_gone "$hp" 5 && pass "an interrupted create kills its pvguest" ||
	fail "an interrupted create kills its pvguest" "pid ${hp:-none}"
# One that says garbage.
printf '#!/bin/sh\necho "domid=1 store_gfn=x" >&3\nsleep 1\n' >"$PVD_RUNDIR/fakebin/pvguest"
PVD_BIN=$PVD_RUNDIR/fakebin expect_fail "a bad ready line" \
	"pvctl: pvguest for domain 1 wrote a bad ready line" pvctl create "$CFG/web.cfg"
rm -f "$PVD_RUNDIR/hang.pid"
expect_eq "failed starts change nothing" "$before" "$(snapshot)"

stored_alive "pvd-stored survived"
finish
