#!/usr/bin/env bash
# Runs every hyve test: host-only unit tests (plain and ASan+UBSan builds),
# guest tests on /dev/kvm, the nested Linux rig, and a bounded fuzz run.
# Ends with one line: "N passed, N failed, N skipped".
#
#   tests/run.sh            everything
#   tests/run.sh unit       only the unit tests (also: system, nested, fuzz)
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
only=${1:-all}
log=$top/build/test-logs
mkdir -p "$log"

bash tools/install-deps.sh || { echo "run.sh: installing dependencies failed"; echo "0 passed, 1 failed"; exit 1; }

pass=0 fail=0 skip=0
failed_names=()

# Runs one test program, echoes its PASS/FAIL/SKIP lines and tallies them.
# A program that exits non-zero without printing FAIL counts as one failure.
run_one() {
	local name=$1; shift
	local out=$log/$(echo "$name" | tr '/ ' '__').log
	"$@" >"$out" 2>&1
	local rc=$?
	local p f s
	p=$(grep -c '^PASS: ' "$out"); f=$(grep -c '^FAIL: ' "$out"); s=$(grep -c '^SKIP: ' "$out")
	grep -E '^(FAIL|SKIP): ' "$out" | sed "s|^|  [$name] |"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "  [$name] FAIL: exited with status $rc (log: $out)"; tail -5 "$out" | sed 's/^/      /'
		f=1
	fi
	[ "$f" -gt 0 ] && failed_names+=("$name")
	echo "$name: $p passed, $f failed, $s skipped"
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}

build() {
	echo "== build"
	if ! make -s -j2 all >"$log/build.log" 2>&1 || ! make -s -j2 SAN=1 all >"$log/build-san.log" 2>&1 \
		|| ! make -s -C tests/guest >"$log/build-guest.log" 2>&1; then
		cat "$log"/build*.log | tail -40
		echo "0 passed, 1 failed"
		exit 1
	fi
}

stage_unit() {
	echo "== unit tests (plain, then ASan+UBSan)"
	for t in build/tests/test_*; do [ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"; done
	for t in build-san/tests/test_*; do
		[ -x "$t" ] && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
			run_one "unit-san/$(basename "$t")" "$t"
	done
}

stage_system() {
	echo "== guest tests on /dev/kvm"
	for t in tests/system/test_*.sh; do [ -f "$t" ] && run_one "system/$(basename "$t" .sh)" bash "$t"; done
}

stage_nested() {
	echo "== nested rig (Debian's kernel under hyve under QEMU-TCG)"
	for t in tests/nested/test_*.sh; do [ -f "$t" ] && run_one "nested/$(basename "$t" .sh)" bash "$t"; done
}

stage_fuzz() {
	echo "== fuzz (bounded)"
	[ -f fuzz/run.sh ] && run_one "fuzz" bash fuzz/run.sh short
}

build
case $only in
all) stage_unit; stage_system; stage_nested; stage_fuzz ;;
unit|system|nested|fuzz) "stage_$only" ;;
*) echo "run.sh: unknown stage '$only' (all, unit, system, nested, fuzz)"; exit 2 ;;
esac

[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
