#!/bin/bash
# pvd-stored driven by Debian's xenstore-utils (libxenstore over the unix
# socket): exact outputs, implicit parents, recursive rm, permissions as
# shown by xenstore-ls -p, confinement of a --guest-socket client, and
# watches (set, change below, removal of an ancestor, relative paths).
. "$(dirname "$0")/lib.sh"
need_xsutils

GUEST=5
GSOCK=$PVD_RUNDIR/guest$GUEST.sock
stored_start --guest-socket "$GUEST:$GSOCK"
[ -S "$GSOCK" ] || die "guest socket $GSOCK not created"

# gxs CMD ARGS...: xenstore-CMD as domain $GUEST.
gxs() { XENSTORED_PATH=$GSOCK xs "$@"; }

# ls_p_line DEPTH NAME VALUE PERMS: one line of `xenstore-ls -p` as
# xenstore-utils 4.17 formats it when stdout is not a tty (80 columns):
# indent, name, value, then ". " padding up to column 60, then the perms.
ls_p_line() {
	local depth=$1 name=$2 val=$3 perms=$4 line w
	line=$(printf '%*s%s = "%s"' "$depth" '' "$name" "$val")
	line+=' '
	for ((w = ${#line}; w < 60; w++)); do
		if ((w & 1)); then line+='.'; else line+=' '; fi
	done
	printf '%s  (%s)' "$line" "$perms"
}

# ---------------------------------------------------------------- basics
expect_ok "write a value" xs write /t/a hello
expect_eq "read it back" "hello" "$(xs read /t/a)"
expect_ok "overwrite it" xs write /t/a world
expect_eq "read the new value" "world" "$(xs read /t/a)"

expect_ok "write creates missing parents" xs write /t/p/q/r deep
expect_eq "implicit parent has an empty value" "" "$(xs read /t/p/q)"
expect_eq "implicit parent lists its child" "q" "$(xs list /t/p)"
expect_ok "exists: implicit parent" xs exists /t/p/q
xs exists /t/nope; rc=$?
expect_eq "exists: missing node exits 1" 1 "$rc"
expect_fail "read of a missing node fails" "couldn't read path /t/nope" xs read /t/nope

expect_ok "several writes in one command (a transaction)" xs write /t/m1 one /t/m2 two
expect_eq "read -p of several keys" "/t/m1: one
/t/m2: two" "$(xs read -p /t/m1 /t/m2)"

expect_ok "write an empty value" xs write /t/empty ""
expect_eq "empty value reads back empty" "" "$(xs read /t/empty)"

# xenstore-write unescapes \NNN; xenstore-read escapes non-printables back.
expect_ok "write a binary value" xs write /t/bin 'x\001y\\z'
expect_eq "binary value round-trips" 'x\001y\\z' "$(xs read /t/bin)"

long=$(head -c 3000 /dev/zero | tr '\0' 'v')
expect_ok "write a 3000-byte value" xs write /t/long "$long"
expect_eq "3000-byte value round-trips" "$long" "$(xs read /t/long)"

# Created in alphabetical order, so both creation order (xenstored) and
# sorted order give the same listing.
xs write /t/ls/a 1 /t/ls/b/c "x y" /t/ls/d "" >/dev/null
expect_eq "xenstore-list" "a
b
d" "$(xs list /t/ls)"
expect_eq "xenstore-list -p" "/t/ls/a
/t/ls/b
/t/ls/d" "$(xs list -p /t/ls)"
expect_eq "xenstore-ls (tree, indented)" 'a = "1"
b = ""
 c = "x y"
d = ""' "$(xs ls /t/ls)"
expect_eq "xenstore-ls -f (full paths)" '/t/ls/a = "1"
/t/ls/b = ""
/t/ls/b/c = "x y"
/t/ls/d = ""' "$(xs ls -f /t/ls)"
expect_fail "xenstore-ls of a missing node" "No such file or directory" xs ls /t/nope

# ------------------------------------------------------------------- rm
expect_ok "rm a subtree" xs rm /t/p
xs exists /t/p/q/r; rc=$?
expect_eq "rm removed the grandchild" 1 "$rc"
xs exists /t/p; rc=$?
expect_eq "rm removed the node" 1 "$rc"
expect_eq "rm left the siblings" "hello-world" "$(xs read /t/m1 >/dev/null && echo hello-world)"
expect_ok "rm of a missing node whose parent exists succeeds" xs rm /t/gone
expect_fail "rm of a node whose parent is missing fails" "could not remove path" xs rm /t/gone/deeper
expect_ok "rm -t removes empty parents" xs rm -t /t/ls/b/c
xs exists /t/ls/b; rc=$?
expect_eq "rm -t removed the emptied parent" 1 "$rc"

# ---------------------------------------------------------- permissions
xs write /t/pm/node v /t/pm/other w >/dev/null
expect_eq "default perms are inherited from / (owner 0, no access)" \
	'/t/pm/node = "v"   (n0)
/t/pm/other = "w"   (n0)' "$(xs ls -f -p /t/pm)"
expect_ok "chmod with several entries" xs chmod /t/pm/node n0 r5 w6 b7
expect_eq "xenstore-ls -f -p shows the new perms" \
	'/t/pm/node = "v"   (n0,r5,w6,b7)
/t/pm/other = "w"   (n0)' "$(xs ls -f -p /t/pm)"
expect_eq "xenstore-ls -p format (padding, perms)" \
	"$(ls_p_line 0 node v n0,r5,w6,b7)
$(ls_p_line 0 other w n0)" "$(xs ls -p /t/pm)"
xs write /t/rec/a/b 1 /t/rec/c 2 >/dev/null
expect_ok "chmod -r" xs chmod -r /t/rec b0 r5
expect_eq "chmod -r applied to the whole subtree" '/t/rec/a = ""   (b0,r5)
/t/rec/a/b = "1"   (b0,r5)
/t/rec/c = "2"   (b0,r5)' "$(xs ls -f -p /t/rec)"
expect_ok "new node inherits its parent's perms" xs write /t/rec/a/new x
expect_eq "inherited perms" '/t/rec/a/b = "1"   (b0,r5)
/t/rec/a/new = "x"   (b0,r5)' "$(xs ls -f -p /t/rec/a)"
expect_fail "chmod of a missing node" "Error occurred setting permissions" \
	xs chmod /t/nope n0

# ------------------------------------------------- guest (domain 5) view
xs write /t/secret s >/dev/null
expect_fail "guest cannot read a dom0-only node" "couldn't read path /t/secret" \
	gxs read /t/secret
expect_fail "guest cannot list a dom0-only node" "Permission denied" gxs ls /t
expect_fail "guest cannot write a dom0-only node" "could not write path" \
	gxs write /t/secret stolen
expect_eq "failed guest write left the value" "s" "$(xs read /t/secret)"
expect_fail "guest cannot create a node under /" "could not write path" \
	gxs write /guestnode x
expect_fail "guest cannot rm a dom0-only node" "could not remove path" gxs rm /t/secret
expect_fail "guest cannot chmod a dom0-only node" "Permission denied" \
	gxs chmod /t/secret b5

xs write /t/shared ro >/dev/null
xs chmod /t/shared n0 r5 >/dev/null
expect_eq "guest reads a node shared with r5" "ro" "$(gxs read /t/shared)"
expect_fail "guest cannot write a read-only shared node" "could not write path" \
	gxs write /t/shared rw

expect_ok "dom0 creates /local/domain/5" xs write /local/domain/5 ""
expect_ok "dom0 gives it to domain 5" xs chmod /local/domain/5 n5
expect_ok "guest writes its own node (absolute path)" gxs write /local/domain/5/data d
expect_eq "dom0 reads the guest's node" "d" "$(xs read /local/domain/5/data)"
expect_ok "guest writes a relative path" gxs write rel/x 1
expect_eq "relative path resolves under /local/domain/5" "1" "$(xs read /local/domain/5/rel/x)"
expect_eq "guest reads a relative path" "1" "$(gxs read rel/x)"
expect_eq "guest lists a relative path" "x" "$(gxs list rel)"
expect_eq "guest-created nodes are owned by the guest" \
	'/local/domain/5/rel/x = "1"   (n5)' "$(xs ls -f -p /local/domain/5/rel)"
expect_ok "guest chmods its own node" gxs chmod rel/x n5 r0
expect_eq "guest's chmod took effect" '/local/domain/5/rel/x = "1"   (n5,r0)' \
	"$(xs ls -f -p /local/domain/5/rel)"
expect_ok "guest removes its own node" gxs rm rel
xs exists /local/domain/5/rel; rc=$?
expect_eq "guest's rm took effect" 1 "$rc"
xs write /local/domain/6 "" >/dev/null
xs chmod /local/domain/6 n6 >/dev/null
expect_fail "guest cannot write another domain's node" "could not write path" \
	gxs write /local/domain/6/x y
expect_fail "guest cannot read another domain's node" "couldn't read path" \
	gxs read /local/domain/6

# -------------------------------------------------------------- watches
# watch_start NAME COUNT PATH [guest]: xenstore-watch -n COUNT in the
# background; returns once the initial event (the watch path itself, sent
# when the watch is set) has been printed, so the watch is registered.
watch_start() {
	local name=$1 n=$2 path=$3 sock=${4:-$STORED_SOCK} out=$PVD_RUNDIR/watch.$1 i
	XENSTORED_PATH=$sock timeout -k 2 30 xenstore-watch -n "$n" "$path" >"$out" 2>&1 &
	eval "WPID_$name=$!"
	track_pid "$!"
	for ((i = 0; i < PVD_WAIT_SECS * 20; i++)); do
		[ -s "$out" ] && return 0
		sleep 0.05
	done
	fail "watch $name: no initial event within ${PVD_WAIT_SECS}s"
}

# watch_result NAME: waits (bounded) for the watcher to have seen its
# COUNT events and exit; prints what it printed.
watch_result() {
	local pid_var=WPID_$1
	local pid=${!pid_var}
	if ! wait_pid_gone "$pid"; then
		stop_pid "$pid"
		echo "(watcher did not get all its events)"
	fi
	cat "$PVD_RUNDIR/watch.$1"
}

watch_start set 2 /w/set
xs write /w/set v >/dev/null
expect_eq "watch fires on set" "/w/set
/w/set" "$(watch_result set)"

xs write /w/tree "" >/dev/null
watch_start below 3 /w/tree
xs write /w/tree/x/y v >/dev/null
xs write /w/tree/x/y v2 >/dev/null
expect_eq "watch fires on changes below it" "/w/tree
/w/tree/x/y
/w/tree/x/y" "$(watch_result below)"

xs write /w/anc/a/b v >/dev/null
watch_start anc 2 /w/anc/a/b
xs rm /w/anc >/dev/null
expect_eq "watch fires (with its own path) on removal of an ancestor" "/w/anc/a/b
/w/anc/a/b" "$(watch_result anc)"

xs write /w/perm v >/dev/null
watch_start perm 2 /w/perm
xs chmod /w/perm n0 r5 >/dev/null
expect_eq "watch fires on a permission change" "/w/perm
/w/perm" "$(watch_result perm)"

watch_start rel 2 relw "$GSOCK"
xs write /local/domain/5/relw/z v >/dev/null
expect_eq "guest relative watch gets relative event paths" "relw
relw/z" "$(watch_result rel)"

stored_alive "daemon survived"
finish
