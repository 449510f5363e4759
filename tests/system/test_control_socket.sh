#!/usr/bin/env bash
# The control socket end to end: a Multiboot guest that waits for serial
# input (tests/guest/uart_rx.c; it never gets any, so it runs until told
# otherwise) under bin/hyve --control, driven by bin/hyvectl and socat.
# Prints one PASS/FAIL/SKIP line per check.  HYVE= picks the hyve binary
# (lib.sh), HYVECTL= the hyvectl binary (default: beside hyve).
set -u
. "$(dirname "$0")/lib.sh"

CASES="socket_dir_0700_socket_0600 status_json status_text pause_resume_round_trip
socat_malformed_then_answers oversize_request_refused hyvectl_no_such_vm hyvectl_usage_errors_exit_2
hyvectl_timeout other_user_refused second_hyve_refused checkpoint_runs_on checkpoint_progress_on_tty
checkpoint_bad_directory checkpoint_failure_runs_on checkpoint_while_paused_stays_paused
quit_exits_1_socket_removed stale_socket_replaced suspend_exits_0 default_socket_by_vm_name
unterminated_last_request_answered"
# shellcheck disable=SC2086
sys_init $CASES
HYVECTL=${HYVECTL:-$(dirname "$HYVE")/hyvectl}
GUEST=$(guest uart_rx)
failures=0
fail() { echo "FAIL: $1: $2"; failures=$((failures + 1)); }
skip() { echo "SKIP: $1: $2"; }
if [ ! -x "$HYVECTL" ] || ! command -v socat >/dev/null; then
	for c in $CASES; do fail "$c" "no $HYVECTL or no socat (run make; tools/install-deps.sh)"; done
	exit 1
fi

tmp=$SYS_TMP
pids=()
pid1='' pid2='' pid3='' pid4='' pid5='' # set by start_hyve
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	exec 3>&- 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# The guest's serial input: a FIFO held open (read-write) so that hyve's
# stdin never reaches end of file and never carries a byte.
mkfifo "$tmp/in"
exec 3<>"$tmp/in"

# start_hyve VAR NAME SOCKET: starts hyve in the background (SOCKET "" =
# no --control: the default socket), sets $VAR to its pid; waits (5 s at
# most) until the socket answers.
start_hyve() {
	local var=$1 name=$2 sock=$3 where
	if [ -n "$sock" ]; then
		where=(--socket="$sock")
		"$HYVE" -l com1,stdio --kernel "$GUEST" --control "$sock" "$name" \
			<"$tmp/in" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	else
		where=(--vm="$name")
		"$HYVE" -l com1,stdio --kernel "$GUEST" "$name" <"$tmp/in" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	fi
	local pid=$!
	pids+=("$pid")
	printf -v "$var" '%s' "$pid"
	for _ in $(seq 50); do
		"$HYVECTL" "${where[@]}" --timeout=2 --status >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# wait_exit PID: waits up to 10 s for hyve to end; sets $st to its exit
# status (or "timeout").  Not in a subshell: only this shell can wait.
wait_exit() {
	local pid=$1
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		st=timeout
		return
	fi
	wait "$pid"
	st=$?
}

ctl() { "$HYVECTL" --socket="$sock" "$@"; }

sock=$tmp/run/vm1.sock
if ! start_hyve pid1 vm1 "$sock"; then
	for c in $CASES; do fail "$c" "hyve did not come up: $(tail -3 "$tmp/vm1.err")"; done
	exit 1
fi

# --- the socket is private: directory 0700 (created), socket 0600
dmode=$(stat -c %a "$tmp/run") smode=$(stat -c %a "$sock")
if [ "$dmode" = 700 ] && [ "$smode" = 600 ] && [ -S "$sock" ]; then
	pass socket_dir_0700_socket_0600
else
	fail socket_dir_0700_socket_0600 "directory $dmode, socket $smode"
fi

# --- status: JSON with the VM's facts
out=$(ctl --status --json)
rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q '"ok":true' && echo "$out" | grep -q '"name":"vm1"' &&
	echo "$out" | grep -q '"state":"running"' && echo "$out" | grep -q '"vcpus":1' &&
	echo "$out" | grep -q '"memory":268435456' && echo "$out" | grep -q "\"pid\":${pid1}[,}]" &&
	echo "$out" | grep -Eq '"uptime":[0-9.]+' && echo "$out" | grep -q '"version":"'; then
	pass status_json
else
	fail status_json "rc $rc: $out"
fi
out=$(ctl --status)
if echo "$out" | grep -q '^state: *running$' && echo "$out" | grep -q '^memory: *256.0 MiB$'; then
	pass status_text
else
	fail status_text "$out"
fi

# --- pause/resume round trip, idempotent
r1=$(ctl --pause) s1=$(ctl --status --json) r2=$(ctl --pause; echo "rc=$?")
r3=$(ctl --resume) s2=$(ctl --status --json) r4=$(ctl --resume; echo "rc=$?")
if echo "$s1" | grep -q '"state":"paused"' && echo "$s2" | grep -q '"state":"running"' &&
	echo "$r1" | grep -q 'paused$' && echo "$r2" | grep -q 'already paused' && echo "$r2" | grep -q 'rc=0' &&
	echo "$r3" | grep -q 'running$' && echo "$r4" | grep -q 'already running'; then
	pass pause_resume_round_trip
else
	fail pause_resume_round_trip "$r1 / $s1 / $r2 / $r3 / $s2 / $r4"
fi

# --- socat; a malformed request gets an error and the same connection
# still answers; a relative path is refused
out=$(printf '{"cmd":\n{"cmd":"checkpoint","path":"rel/x"}\n{"cmd":"status","id":5}\n' |
	socat -t 5 - UNIX-CONNECT:"$sock")
l1=$(echo "$out" | sed -n 1p) l2=$(echo "$out" | sed -n 2p) l3=$(echo "$out" | sed -n 3p)
if echo "$l1" | grep -q '"ok":false' && echo "$l1" | grep -q 'malformed JSON' &&
	echo "$l2" | grep -q 'must be absolute' &&
	echo "$l3" | grep -q '"ok":true' && echo "$l3" | grep -q '"id":5'; then
	pass socat_malformed_then_answers
else
	fail socat_malformed_then_answers "$out"
fi
out=$(head -c 65537 /dev/zero | tr '\0' x | socat -t 5 - UNIX-CONNECT:"$sock")
if echo "$out" | grep -q 'longer than 65536 bytes' && ctl --status >/dev/null; then
	pass oversize_request_refused
else
	fail oversize_request_refused "$out"
fi

# --- hyvectl's own errors and exit statuses
out=$("$HYVECTL" --vm="nosuch-$$" --status 2>&1)
rc=$?
if [ $rc -eq 1 ] && echo "$out" | grep -q "no VM named nosuch-$$ (no socket at "; then
	pass hyvectl_no_such_vm
else
	fail hyvectl_no_such_vm "rc $rc: $out"
fi
ctl >/dev/null 2>&1
rc1=$?
ctl --pause --resume >/dev/null 2>&1
rc2=$?
"$HYVECTL" --status >/dev/null 2>&1
rc3=$?
ctl --status --bogus >/dev/null 2>&1
rc4=$?
if [ $rc1 -eq 2 ] && [ $rc2 -eq 2 ] && [ $rc3 -eq 2 ] && [ $rc4 -eq 2 ]; then
	pass hyvectl_usage_errors_exit_2
else
	fail hyvectl_usage_errors_exit_2 "statuses $rc1 $rc2 $rc3 $rc4"
fi
socat UNIX-LISTEN:"$tmp/mute.sock" SYSTEM:'sleep 10' &
pids+=($!)
for _ in $(seq 20); do [ -S "$tmp/mute.sock" ] && break; sleep 0.1; done
out=$("$HYVECTL" --socket="$tmp/mute.sock" --timeout=1 --status 2>&1)
rc=$?
if [ $rc -eq 1 ] && echo "$out" | grep -q 'no answer from hyve within 1 s'; then
	pass hyvectl_timeout
else
	fail hyvectl_timeout "rc $rc: $out"
fi
if [ "$(id -u)" = 0 ]; then
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$HYVECTL" --socket="$sock" --status 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && echo "$out" | grep -q 'permission denied'; then
		pass other_user_refused
	else
		fail other_user_refused "rc $rc: $out"
	fi
else
	skip other_user_refused "needs root to run hyvectl as another user"
fi

# --- a second hyve on the same socket is refused; the first runs on
start_hyve pid2 vm1b "$sock"
wait_exit "$pid2"
if [ "$st" = 4 ] && grep -q "a hyve is already running on $sock" "$tmp/vm1b.err" && ctl --status >/dev/null; then
	pass second_hyve_refused
else
	fail second_hyve_refused "status $st: $(cat "$tmp/vm1b.err")"
fi

# --- checkpoint: the guest runs on; a relative path resolves on the client
mkdir -p "$tmp/snap"
out=$(cd "$tmp" && "$HYVECTL" --socket="$sock" --checkpoint=snap/cp1 --note="control test" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -s "$tmp/snap/cp1" ] && echo "$out" | grep -q "checkpoint written to $tmp/snap/cp1" &&
	ctl --status --json | grep -q '"state":"running"'; then
	pass checkpoint_runs_on
elif echo "$out" | grep -q 'not available in this build'; then
	skip checkpoint_runs_on "snapshots are not available in this build yet"
else
	fail checkpoint_runs_on "rc $rc: $out"
fi
# progress on a terminal: stderr through a pty
out=$(script -qec "$HYVECTL --socket=$sock --checkpoint=$tmp/snap/cp2" /dev/null 2>&1)
if echo "$out" | grep -q 'checkpoint: .* of .*/s' && [ -s "$tmp/snap/cp2" ]; then
	pass checkpoint_progress_on_tty
elif echo "$out" | grep -q 'not available in this build'; then
	skip checkpoint_progress_on_tty "snapshots are not available in this build yet"
else
	fail checkpoint_progress_on_tty "$out"
fi
out=$(ctl --checkpoint="$tmp/no/such/dir/cp" 2>&1)
rc=$?
if [ $rc -eq 1 ] && echo "$out" | grep -q 'No such file or directory'; then
	pass checkpoint_bad_directory
else
	fail checkpoint_bad_directory "rc $rc: $out"
fi
# a save that fails (nothing can be written under /proc) is reported and
# the guest runs on
out=$(ctl --checkpoint=/proc/hyve-cp 2>&1)
rc=$?
if [ $rc -eq 1 ] && echo "$out" | grep -q 'checkpoint to /proc/hyve-cp failed: .*the guest runs on' &&
	ctl --status --json | grep -q '"state":"running"'; then
	pass checkpoint_failure_runs_on
else
	fail checkpoint_failure_runs_on "rc $rc: $out"
fi
# while paused: the checkpoint leaves the guest paused
ctl --pause >/dev/null
out=$(ctl --checkpoint="$tmp/snap/cp3" --json 2>&1)
rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q '"state":"paused"' &&
	ctl --status --json | grep -q '"state":"paused"' && ctl --resume >/dev/null; then
	pass checkpoint_while_paused_stays_paused
elif echo "$out" | grep -q 'not available in this build'; then
	skip checkpoint_while_paused_stays_paused "snapshots are not available in this build yet"
	ctl --resume >/dev/null
else
	fail checkpoint_while_paused_stays_paused "rc $rc: $out"
fi

# the last request of a client that then closes counts without a newline
out=$(printf '{"cmd":"status","id":"last"}' | socat -t 5 - UNIX-CONNECT:"$sock")
if echo "$out" | grep -q '"id":"last"'; then
	pass unterminated_last_request_answered
else
	fail unterminated_last_request_answered "$out"
fi

# --- quit: hyve exits with status 1 (power off) and removes its socket
out=$(ctl --quit 2>&1)
rc=$?
wait_exit "$pid1"
if [ $rc -eq 0 ] && [ "$st" = 1 ] && [ ! -e "$sock" ]; then
	pass quit_exits_1_socket_removed
else
	fail quit_exits_1_socket_removed "hyvectl rc $rc ($out), hyve status $st, socket $(ls -l "$sock" 2>&1)"
fi

# --- a stale socket (hyve killed) is replaced by the next hyve
if start_hyve pid3 vm1 "$sock"; then
	kill -KILL "$pid3"
	wait "$pid3" 2>/dev/null
	if [ -S "$sock" ] && start_hyve pid4 vm1 "$sock" && ctl --status >/dev/null; then
		pass stale_socket_replaced
	else
		fail stale_socket_replaced "$(cat "$tmp/vm1.err")"
	fi
else
	fail stale_socket_replaced "hyve did not come up: $(cat "$tmp/vm1.err")"
fi

# --- suspend: saved, then hyve exits with status 0
out=$(ctl --suspend="$tmp/snap/s1" 2>&1)
rc=$?
wait_exit "${pid4:-0}"
if [ $rc -eq 0 ] && [ "$st" = 0 ] && [ -s "$tmp/snap/s1" ] && [ ! -e "$sock" ]; then
	pass suspend_exits_0
elif echo "$out" | grep -q 'not available in this build'; then
	skip suspend_exits_0 "snapshots are not available in this build yet"
	ctl --quit >/dev/null 2>&1
else
	fail suspend_exits_0 "hyvectl rc $rc ($out), hyve status $st"
fi

# --- without --control: the socket is named after the VM, and --vm finds it
vm=ctltest-$$
if [ "$(id -u)" != 0 ] && [ -n "${XDG_RUNTIME_DIR:-}" ]; then
	dsock=$XDG_RUNTIME_DIR/hyve/$vm.sock
else
	dsock=/run/hyve/$vm.sock
fi
if [ "$(id -u)" != 0 ] && [ -z "${XDG_RUNTIME_DIR:-}" ]; then
	skip default_socket_by_vm_name "/run/hyve is root's and XDG_RUNTIME_DIR is not set"
elif start_hyve pid5 "$vm" "" && [ -S "$dsock" ] &&
	"$HYVECTL" --vm="$vm" --status --json | grep -q "\"name\":\"$vm\"" &&
	"$HYVECTL" --vm="$vm" --quit >/dev/null && wait_exit "$pid5" && [ "$st" = 1 ] && [ ! -e "$dsock" ]; then
	pass default_socket_by_vm_name
else
	fail default_socket_by_vm_name "status ${st:-?}, socket $dsock: $(cat "$tmp/$vm.err")"
fi

exit $((failures > 0))
