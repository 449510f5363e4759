# Helpers shared by tests/nested/test_*.sh (sourced).  A test runs the rig
# once with several hyve runs (one L1 boot is ~5 s of the budget), then
# checks each run's slice of the console.
nested_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
nested_top=$(cd "$nested_dir/../.." && pwd)
nested_failed=0

nested_pass() { echo "PASS: $1"; }
nested_fail() { echo "FAIL: $1: $2"; nested_failed=1; }

# Checks what every rig test needs; prints SKIP/FAIL lines for each name
# given and returns 1 when the test cannot run.
nested_prepare() {
	local n
	if ! command -v qemu-system-x86_64 >/dev/null; then
		bash "$nested_top/tools/install-deps.sh" >/dev/null 2>&1
		if ! command -v qemu-system-x86_64 >/dev/null; then
			for n in "$@"; do
				echo "SKIP: $n: qemu-system-x86_64 is missing and could not be installed (qemu-system-x86)"
			done
			return 1
		fi
	fi
	if ! bash "$nested_top/tools/guest-kit.sh" >/dev/null; then
		for n in "$@"; do nested_fail "$n" "no guest kit (tools/guest-kit.sh failed)"; done
		return 1
	fi
	if [ "${HYVE_NESTED_VMM:-hyve}" = hyve ] && [ ! -x "$nested_top/build/bin/hyve" ]; then
		for n in "$@"; do nested_fail "$n" "build/bin/hyve is not built"; done
		return 1
	fi
	return 0
}

# nested_rig TAG RIG-ARGS...: runs the rig in build/nested/TAG; the console
# lands in $nested_log, the rig's status in $nested_rig_status.
# HYVE_NESTED_VMM=qemu runs QEMU-KVM in L1 instead of hyve: a check of the
# rig itself (QEMU ends with status 0 on poweroff too, so that check fails).
nested_rig() {
	local tag=$1
	shift
	set -- --vmm "${HYVE_NESTED_VMM:-hyve}" "$@"
	export HYVE_RIG_DIR=$nested_top/build/nested/$tag
	mkdir -p "$HYVE_RIG_DIR"
	nested_log=$HYVE_RIG_DIR/rig-output.log
	bash "$nested_dir/rig.sh" "$@" >"$nested_log" 2>&1
	nested_rig_status=$?
	# L1's own kernel reporting soft lockups until QEMU-TCG's time runs out
	# is the rig failing (TCG starved on a loaded 2-core host; seen with
	# QEMU as well as hyve inside L1), not a verdict on hyve: run the rig
	# once more, and say so.  A second such failure stands.
	if grep -q 'RIG: QEMU-TCG timed out' "$nested_log" &&
		grep -q 'watchdog: BUG: soft lockup' "$nested_log"; then
		mv "$nested_log" "$HYVE_RIG_DIR/rig-output.try1.log"
		echo "# the rig's L1 kernel locked up (soft lockup, QEMU-TCG timeout; log: $HYVE_RIG_DIR/rig-output.try1.log): running the rig once more"
		bash "$nested_dir/rig.sh" "$@" >"$nested_log" 2>&1
		nested_rig_status=$?
	fi
	grep -E '^RIG' "$nested_log" | sed 's/^/# /'
}

# The console lines of run I: from its BEGIN marker to its EXIT marker (or
# to the end, if the run never finished).
nested_segment() {
	awk -v b="HYVE-RUN-BEGIN[$1]" -v e="HYVE-EXIT[$1]=" \
		'index($0, b) { on = 1 } on { print } on && index($0, e) { exit }' "$nested_log"
}

# nested_value SEGMENT KEY: the value after "HYVE-L2-KEY=" (first match).
nested_value() {
	printf '%s\n' "$1" | sed -n "s/.*HYVE-L2-$2=\([^ ]*\).*/\1/p" | head -1
}

# hyve's exit status for run I, or "none".
nested_exit() {
	local e
	e=$(sed -n "s/^RIG-RUN $1: exit=\(.*\)$/\1/p" "$nested_log" | tail -1)
	echo "${e:-none}"
}

# Shows what hyve and L2 printed in run I (after a failure), indented.
nested_show() {
	echo "# run $1 console (last 25 lines; full log: $nested_log):"
	nested_segment "$1" | tail -25 | sed 's/^/#   /'
}

# The rig's own failures (L1 without KVM, QEMU-TCG timeout) void every check.
nested_rig_ok() {
	grep -q 'HYVE-L1-KVM-OK' "$nested_log" && return 0
	echo "# the rig itself failed: L1 has no /dev/kvm; console tail:"
	tail -15 "$nested_log" | sed 's/^/#   /'
	return 1
}
