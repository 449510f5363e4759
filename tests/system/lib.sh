# Shared helpers for the guest tests in tests/system/test_*.sh (sourced).
#
# Each test script lists its case names with sys_init; when /dev/kvm or a
# prerequisite is missing every case prints "SKIP: name: reason".  Cases
# print "PASS: name" or "FAIL: name: why" (run.sh counts those lines).
#
#   HYVE=path   the hyve binary to test (default bin/hyve, then
#               build/bin/hyve, then build-san/bin/hyve)
#   SYS_TIMEOUT default seconds per hyve run (60, times SYS_SCALE)
#   SYS_SCALE   slowness factor for bounds (1; 6 in the rig's L1)
#   SYS_KVM     the device whose absence means SKIP (/dev/kvm; for testing
#               this file)

SYS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GUEST_BUILD=$SYS_TOP/tests/guest/build
# SYS_SCALE: how many times slower than on hardware KVM hyve's own work and
# every guest exit are here.  In the rig's L1 (tools/in-rig exports
# HYVE_IN_RIG=1) everything runs under QEMU-TCG, nested: bounds on waits,
# and the lifetimes of guests that must still be running when a test acts,
# are multiplied by it.  What the tests check (counts, order, "never
# early") does not change with it.
SYS_SCALE=${SYS_SCALE:-$([ "${HYVE_IN_RIG:-0}" = 1 ] && echo 6 || echo 1)}
# scaled N: N times SYS_SCALE.
scaled() { echo $(($1 * SYS_SCALE)); }
SYS_TIMEOUT=${SYS_TIMEOUT:-60}
SYS_KVM=${SYS_KVM:-/dev/kvm}
SYS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hyve-systest.XXXXXX")
trap 'rm -rf "$SYS_TMP"' EXIT

# A VM name of our own: hyve's control socket is /run/hyve/NAME.sock, and
# other test runs may be using the usual names at the same time.
VM=systest$$

# Results of the last hyve_run.
HYVE_STATUS=
HYVE_OUT=$SYS_TMP/out
HYVE_ERR=$SYS_TMP/err

SYS_CASES=()
pass() { echo "PASS: $1"; echo "$1" >>"$SYS_TMP/reported"; }
fail() { echo "FAIL: $1: $2"; echo "$1" >>"$SYS_TMP/reported"; }

# sys_done: every case sys_init named must have reported exactly once.
sys_done() {
	local c n
	for c in "${SYS_CASES[@]}"; do
		n=$(grep -cxF -- "$c" "$SYS_TMP/reported" 2>/dev/null)
		[ "${n:-0}" = 1 ] || echo "FAIL: $c: the test script reported this case ${n:-0} times"
	done
	exit 0
}

# sys_init CASE...: finds hyve, the guests and a usable /dev/kvm, or prints
# SKIP (environment) / FAIL (broken build) for every case and exits.
sys_init() {
	local why=
	SYS_CASES=("$@")
	if [ -z "${HYVE:-}" ]; then
		for c in bin/hyve build/bin/hyve build-san/bin/hyve; do
			if [ -x "$SYS_TOP/$c" ]; then HYVE=$SYS_TOP/$c; break; fi
		done
	fi
	if [ -z "${HYVE:-}" ] || [ ! -x "$HYVE" ]; then
		for c in "$@"; do fail "$c" "no hyve binary (bin/hyve missing; run make, or set HYVE=)"; done
		exit 1
	fi
	if [ ! -e "$GUEST_BUILD/hello.elf" ]; then
		make -s -C "$SYS_TOP/tests/guest" >"$SYS_TMP/guest-build.log" 2>&1
	fi
	if [ ! -e "$GUEST_BUILD/hello.elf" ]; then
		for c in "$@"; do fail "$c" "test guests do not build: make -C tests/guest ($(tail -1 "$SYS_TMP/guest-build.log"))"; done
		exit 1
	fi
	if [ ! -e "$SYS_KVM" ]; then
		why="$SYS_KVM does not exist (no KVM on this host)"
	elif [ ! -r "$SYS_KVM" ] || [ ! -w "$SYS_KVM" ]; then
		why="$SYS_KVM is not readable and writable by $(id -un) (add the user to group kvm)"
	fi
	if [ -n "$why" ]; then
		for c in "$@"; do echo "SKIP: $c: $why"; done
		exit 0
	fi
}

# guest NAME: path of a built test guest.
guest() { echo "$GUEST_BUILD/$1.elf"; }

# hyve_run [--timeout S] [--stdin FILE] ARGS...: runs hyve; stdout and
# stderr go to $HYVE_OUT and $HYVE_ERR, the exit status to $HYVE_STATUS
# (124 when it was killed after the timeout).
hyve_run() {
	local t=$SYS_TIMEOUT in=/dev/null
	while :; do
		case ${1:-} in
		--timeout) t=$2; shift 2 ;;
		--stdin) in=$2; shift 2 ;;
		*) break ;;
		esac
	done
	timeout -k 5 "$(scaled "$t")" "$HYVE" "$@" <"$in" >"$HYVE_OUT" 2>"$HYVE_ERR"
	HYVE_STATUS=$?
}

# A one-line summary of the last run for FAIL messages.
hyve_summary() {
	local err
	err=$(grep -v '^$' "$HYVE_ERR" | tail -1)
	if [ "$HYVE_STATUS" = 124 ] || [ "$HYVE_STATUS" = 137 ]; then
		echo "timed out${err:+ (stderr: $err)}"
	else
		echo "status $HYVE_STATUS${err:+, stderr: $err}"
	fi
}

# out_has_line TEXT: the guest printed TEXT as a whole line (CR ignored).
out_has_line() { tr -d '\r' <"$HYVE_OUT" | grep -qxF -- "$1"; }

# out_grep REGEX: some output line matches the extended REGEX (CR ignored).
out_grep() { tr -d '\r' <"$HYVE_OUT" | grep -qE -- "$1"; }

# guest_failure: the guest's own FAIL/EXCEPTION line, if it printed one.
guest_failure() { tr -d '\r' <"$HYVE_OUT" | grep -m1 -E '^(FAIL: guest|EXCEPTION)'; }

# dump_run NAME: copies the last run's output into the log after a failure,
# indented so that no line of it reads as a result line.
dump_run() {
	echo "    --- $1: stdout"
	tr -d '\r' <"$HYVE_OUT" | tail -20 | sed 's/^/    | /'
	echo "    --- $1: stderr"
	tail -20 "$HYVE_ERR" | sed 's/^/    | /'
}

# run_problem STATUS [LINE...]: prints what is wrong with the last run
# (nothing when it ended with STATUS and printed every LINE).
run_problem() {
	local want=$1 line g
	shift
	if [ "$HYVE_STATUS" != "$want" ]; then
		g=$(guest_failure)
		echo "expected exit status $want, got $(hyve_summary)${g:+; guest: $g}"
		return
	fi
	for line in "$@"; do
		if ! out_has_line "$line"; then
			echo "output lacks the line '$line'"
			return
		fi
	done
}

# expect_run NAME STATUS [LINE...]: PASS if run_problem finds nothing.
expect_run() {
	local name=$1 why
	shift
	why=$(run_problem "$@")
	if [ -n "$why" ]; then
		fail "$name" "$why"
		dump_run "$name"
		return 1
	fi
	pass "$name"
}

# hyve_start [ARGS...]: starts hyve in the background with stdin from a FIFO
# the test writes through fd 3 (feed_input); hyve_wait collects it.
hyve_start() {
	rm -f "$SYS_TMP/in"
	mkfifo "$SYS_TMP/in"
	: >"$HYVE_OUT"
	: >"$HYVE_ERR"
	timeout -k 5 "$(scaled "$SYS_TIMEOUT")" "$HYVE" "$@" <"$SYS_TMP/in" >"$HYVE_OUT" 2>"$HYVE_ERR" &
	HYVE_PID=$!
	exec 3>"$SYS_TMP/in"
}

# feed_input TEXT: sends TEXT to the running hyve's stdin (no newline added).
feed_input() { printf '%s' "$1" >&3; }

# wait_for_line FILE REGEX SECONDS: waits until FILE has a matching line.
wait_for_line() {
	local end=$((SECONDS + $(scaled "$3")))
	while [ $SECONDS -lt $end ]; do
		tr -d '\r' <"$1" | grep -qE -- "$2" && return 0
		kill -0 "$HYVE_PID" 2>/dev/null || { tr -d '\r' <"$1" | grep -qE -- "$2"; return; }
		sleep 0.1
	done
	return 1
}

# hyve_wait: waits for the background hyve; closes its stdin afterwards.
hyve_wait() {
	wait "$HYVE_PID"
	HYVE_STATUS=$?
	exec 3>&-
}

# fnv1a PATH: FNV-1a 64 of a file, as tests/guest/mbinfo.c computes it.
fnv1a() {
	python3 -c 'import sys
h = 0xcbf29ce484222325
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 0x100000001b3) & (2**64 - 1)
print(hex(h))' "$1"
}

# --- helpers for the snapcount save/restore guest (tests/guest/snapcount.c)

# hyve_kill: SIGKILL the background hyve itself (hyve_start runs it under
# timeout(1), so the PID it records is timeout's), as a crash would.
hyve_kill() {
	local kids k i
	kids=$(pgrep -P "$HYVE_PID" 2>/dev/null)
	pkill -KILL -P "$HYVE_PID" 2>/dev/null
	kill -KILL "$HYVE_PID" 2>/dev/null
	hyve_wait
	# timeout(1) is gone at once, hyve only when its exit finished (a
	# large guest's memory takes a while to tear down): until then its
	# control socket still accepts, and a hyve started on the same socket
	# would take it for a live one.
	for k in $kids; do
		for i in $(seq 1 100); do
			# Gone, or a zombie (its files are closed by then).
			case $(ps -o stat= -p "$k" 2>/dev/null) in '' | Z*) break ;; esac
			sleep 0.05
		done
	done
}

# first_tick FILE / last_tick FILE: tick numbers snapcount printed.
first_tick() { tr -d '\r' <"$1" | sed -n 's/^tick \([0-9]*\) .*/\1/p' | head -1; }
last_tick() { tr -d '\r' <"$1" | sed -n 's/^tick \([0-9]*\) .*/\1/p' | tail -1; }

# ticks_consecutive FILE: every tick line is the previous one plus one.
ticks_consecutive() {
	tr -d '\r' <"$1" | sed -n 's/^tick \([0-9]*\) .*/\1/p' |
		awk 'NR > 1 && $1 != prev + 1 { bad = 1 } { prev = $1 } END { exit bad }'
}

# restore_runs NAME SNAP FIRST_LO FIRST_HI ARGS...: restores SNAP, the
# first tick is in FIRST_LO..FIRST_HI, ticks are consecutive, and the guest
# ends with its full memory check (status 1, "tick $TICKS cpus=2").
# Uses the caller's $CTL (control-socket directory) and $TICKS.
restore_runs() {
	local name=$1 snap=$2 lo=$3 hi=$4 first
	shift 4
	hyve_run --timeout 60 -r "$snap" -l com1,stdio --control "$CTL/$name.sock" "$@"
	first=$(first_tick "$HYVE_OUT")
	if [ -z "$first" ] || [ "$first" -lt "$lo" ] || [ "$first" -gt "$hi" ]; then
		fail "$name" "restored guest's first tick is '$first', expected $lo..$hi ($(hyve_summary); $(guest_failure))"
		dump_run "$name"
	elif ! ticks_consecutive "$HYVE_OUT"; then
		fail "$name" "restored guest skipped or repeated ticks"
		dump_run "$name"
	else
		expect_run "$name" 1 "tick $TICKS cpus=2"
	fi
}
