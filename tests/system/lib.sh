# Shared helpers for the guest tests in tests/system/test_*.sh (sourced).
#
# Each test script lists its case names with sys_init; when /dev/kvm or a
# prerequisite is missing every case prints "SKIP: name: reason".  Cases
# print "PASS: name" or "FAIL: name: why" (run.sh counts those lines).
#
#   HYVE=path   the hyve binary to test (default bin/hyve, then
#               build/bin/hyve, then build-san/bin/hyve)
#   SYS_TIMEOUT default seconds per hyve run (60)

SYS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GUEST_BUILD=$SYS_TOP/tests/guest/build
SYS_TIMEOUT=${SYS_TIMEOUT:-60}
SYS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hyve-systest.XXXXXX")
trap 'rm -rf "$SYS_TMP"' EXIT

# Results of the last hyve_run.
HYVE_STATUS=
HYVE_OUT=$SYS_TMP/out
HYVE_ERR=$SYS_TMP/err

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }

# sys_init CASE...: finds hyve, the guests and a usable /dev/kvm, or prints
# SKIP (environment) / FAIL (broken build) for every case and exits.
sys_init() {
	local why=
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
	if [ ! -e /dev/kvm ]; then
		why="/dev/kvm does not exist (no KVM on this host)"
	elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		why="/dev/kvm is not readable and writable by $(id -un) (add the user to group kvm)"
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
	timeout -k 5 "$t" "$HYVE" "$@" <"$in" >"$HYVE_OUT" 2>"$HYVE_ERR"
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

# guest_failure: the guest's own FAIL/EXCEPTION line, if it printed one.
guest_failure() { tr -d '\r' <"$HYVE_OUT" | grep -m1 -E '^(FAIL: guest|EXCEPTION)'; }

# dump_run NAME: copies the last run's output into the log for a failure.
dump_run() {
	echo "--- $1: stdout"
	tr -d '\r' <"$HYVE_OUT" | tail -20
	echo "--- $1: stderr"
	tail -20 "$HYVE_ERR"
}

# expect_run NAME STATUS [LINE...]: the last run ended with STATUS and
# printed every LINE; prints PASS or FAIL.
expect_run() {
	local name=$1 want=$2 line g
	shift 2
	if [ "$HYVE_STATUS" != "$want" ]; then
		g=$(guest_failure)
		fail "$name" "expected exit status $want, got $(hyve_summary)${g:+; guest: $g}"
		dump_run "$name"
		return 1
	fi
	for line in "$@"; do
		if ! out_has_line "$line"; then
			fail "$name" "output lacks the line '$line'"
			dump_run "$name"
			return 1
		fi
	done
	pass "$name"
}

# hyve_start [ARGS...]: starts hyve in the background with stdin from a FIFO
# the test writes through fd 3 (feed_input); hyve_wait collects it.
hyve_start() {
	rm -f "$SYS_TMP/in"
	mkfifo "$SYS_TMP/in"
	timeout -k 5 "$SYS_TIMEOUT" "$HYVE" "$@" <"$SYS_TMP/in" >"$HYVE_OUT" 2>"$HYVE_ERR" &
	HYVE_PID=$!
	exec 3>"$SYS_TMP/in"
}

# feed_input TEXT: sends TEXT to the running hyve's stdin (no newline added).
feed_input() { printf '%s' "$1" >&3; }

# wait_for_line FILE REGEX SECONDS: waits until FILE has a matching line.
wait_for_line() {
	local end=$((SECONDS + $3))
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
