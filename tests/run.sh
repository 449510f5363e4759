#!/usr/bin/env bash
# Runs every hyve test: host-only unit tests (plain and ASan+UBSan builds),
# guest tests on KVM, the nested Linux rig, and a bounded fuzz run.  Ends
# with one line: "N passed, N failed, N skipped".
#
#   tests/run.sh            everything
#   tests/run.sh unit       only the unit tests (also: system, nested, fuzz)
#
# Where the tests that need KVM run (the guest tests in tests/system and the
# unit tests that open /dev/kvm):
#   - a host with hardware virtualization (vmx/svm): on this host's /dev/kvm;
#   - a host without /dev/kvm, or HYVE_TEST_IN_RIG=1: all of them in one L1
#     of the nested rig (tools/in-rig: QEMU-TCG with emulated AMD SVM, real
#     KVM inside, this host's root filesystem and built tree);
#   - a host whose /dev/kvm is PVM-based (no vmx/svm): on this /dev/kvm, then
#     again in L1 every test file that skipped a case with "needs real KVM".
# With CI=true a case skipped because KVM is missing or not real is a
# failure of the run.  HYVE_TEST_JOBS=N runs N KVM test files at once in L1.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
log=$top/build/test-logs
mkdir -p "$log"

results=()     # "name pass fail skip", in the order the tests ran
failed_names=()

# Runs one test program, echoes its PASS/FAIL/SKIP lines and its summary
# line "NAME: p passed, f failed, s skipped".  A program that exits
# non-zero without printing FAIL counts as one failure; one killed by its
# time bound (status 124/137) is a failure that says so.
run_one() {
	local name=$1 bound=$2 out rc p f s
	shift 2
	out=$log/$(echo "$name" | tr '/ ' '__').log
	timeout -k 10 "$bound" "$@" </dev/null >"$out" 2>&1
	rc=$?
	p=$(grep -c '^PASS: ' "$out"); f=$(grep -c '^FAIL: ' "$out"); s=$(grep -c '^SKIP: ' "$out")
	grep -E '^(FAIL|SKIP): ' "$out" | sed "s|^|  [$name] |"
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "  [$name] FAIL: killed after its bound of $bound s (log: $out)"; tail -5 "$out" | sed 's/^/      /'
		f=$((f + 1))
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "  [$name] FAIL: exited with status $rc (log: $out)"; tail -5 "$out" | sed 's/^/      /'
		f=1
	fi
	# CI must not pass on tests that did not run for want of KVM.
	if [ "${CI:-}" = true ] && [ "$s" -gt 0 ]; then
		local k
		k=$(grep -cE '^SKIP: .*(/dev/kvm|KVM)' "$out")
		if [ "$k" -gt 0 ]; then
			echo "  [$name] FAIL: $k case(s) skipped for want of (real) KVM, and CI=true"
			s=$((s - k)); f=$((f + k))
		fi
	fi
	echo "$name: $p passed, $f failed, $s skipped"
	record "$name" "$p" "$f" "$s"
}

# record NAME P F S: the result of NAME; a later record replaces an earlier.
record() {
	local i
	for i in "${!results[@]}"; do
		if [ "${results[$i]%% *}" = "$1" ]; then results[$i]="$*"; return; fi
	done
	results+=("$*")
}

# kvm_kind: "vt" (hardware virtualization behind /dev/kvm), "pvm" (a
# /dev/kvm without vmx/svm: PVM, which cannot run a stock kernel), or
# "none"; HYVE_TEST_IN_RIG=1 answers "none" so that everything runs in L1.
kvm_kind() {
	if [ "${HYVE_TEST_IN_RIG:-0}" = 1 ] && [ "${HYVE_IN_RIG:-0}" != 1 ]; then echo none; return; fi
	if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then echo none; return; fi
	if grep -qwE 'vmx|svm' /proc/cpuinfo; then echo vt; else echo pvm; fi
}

# The unit tests that open /dev/kvm (they build VMs with raw ioctls).
kvm_unit_test() { grep -q 'KVM_CREATE_VM' "tests/unit/$1.c" 2>/dev/null; }

# --- tests queued for one L1 of the nested rig --------------------------
rig_queue=()   # "NAME<TAB>BOUND<TAB>COMMAND"
queue_in_rig() { rig_queue+=("$1"$'\t'"$2"$'\t'"$3"); }

# Runs the queued tests in one L1 (tools/in-rig), prints their lines as
# they come and records their results.  A test that never reported (L1
# died, the whole run timed out) is a failure naming the rig's trouble.
flush_rig() {
	[ ${#rig_queue[@]} -gt 0 ] || return 0
	local list=$log/rig-queue.txt total=0 item b out rc name
	printf '%s\n' "${rig_queue[@]}" >"$list"
	for item in "${rig_queue[@]}"; do b=${item#*$'\t'}; total=$((total + ${b%%$'\t'*})); done
	# The bound of the whole L1 run: each test's bound, run one after the
	# other at worst, plus the boot.
	total=$((total + 120))
	echo "   (${#rig_queue[@]} test programs in one L1 of the nested rig: QEMU-TCG, AMD SVM emulated, real KVM inside)"
	out=$log/rig-stage.out
	tools/in-rig -q --rw "$log" --timeout "$total" --log "$log/rig-console.log" \
		"HYVE_RUN_INNER=1 bash tests/run.sh --inner $(printf '%q' "$list")" | tee "$out"
	rc=${PIPESTATUS[0]}
	for item in "${rig_queue[@]}"; do
		name=${item%%$'\t'*}
		local line
		# L1's console ends its lines with CR LF.
		line=$(awk -v n="$name: " '{ sub(/\r$/, "") } index($0, n) == 1 && substr($0, length(n) + 1) ~ /^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$/' "$out" | tail -1)
		if [ -n "$line" ]; then
			set -- $(echo "${line#"$name": }" | tr -dc '0-9 ')
			record "$name" "$1" "$2" "$3"
		else
			echo "  [$name] FAIL: never reported from L1 (in-rig status $rc; L1 console: $log/rig-console.log)"
			echo "$name: 0 passed, 1 failed, 0 skipped"
			record "$name" 0 1 0
		fi
	done
	rig_queue=()
}

# Inner side: runs the queued list inside L1.  Up to HYVE_TEST_JOBS (default
# 1) at once; each test's lines are printed together when it ends.
run_inner() {
	local list=$1 jobs=${HYVE_TEST_JOBS:-1} name bound cmd n=0
	echo "   (L1: $(nproc) vCPUs, $(awk '/MemTotal/ {printf "%d MiB", $2/1024}' /proc/meminfo), kernel $(uname -r), /dev/kvm $([ -c /dev/kvm ] && echo present || echo MISSING))"
	while IFS=$'\t' read -r name bound cmd; do
		[ -n "$name" ] || continue
		if [ "$jobs" -le 1 ]; then
			run_one "$name" "$bound" bash -c "$cmd"
		else
			(run_one "$name" "$bound" bash -c "$cmd" >"$log/.inner.$n.out"; cat "$log/.inner.$n.out") &
			n=$((n + 1))
			while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
		fi
	done <"$list"
	wait
	rm -f "$log"/.inner.*.out
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
	local kind t b
	kind=$(kvm_kind)
	for b in build build-san; do
		for t in $b/tests/test_*; do
			[ -x "$t" ] || continue
			local name=unit/$(basename "$t")
			[ "$b" = build-san ] && name=unit-san/$(basename "$t")
			if [ "$kind" = none ] && kvm_unit_test "$(basename "$t")"; then
				queue_in_rig "$name" 300 "ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $t"
				echo "$name: needs /dev/kvm, runs in the rig's L1 (below)"
				continue
			fi
			ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_one "$name" 600 "$t"
		done
	done
}

# A system test file's bound: its longest scenario plus room under TCG.
system_bound() { if [ "$1" = none ]; then echo 1500; else echo 900; fi; }

stage_system() {
	local kind t names=()
	kind=$(kvm_kind)
	case $kind in
	vt) echo "== guest tests on this host's /dev/kvm (hardware virtualization)" ;;
	pvm) echo "== guest tests on this host's /dev/kvm (PVM: no vmx/svm; cases that need real KVM rerun in L1)" ;;
	none) echo "== guest tests in the nested rig's L1 (this host has no usable /dev/kvm${HYVE_TEST_IN_RIG:+, or HYVE_TEST_IN_RIG=1})" ;;
	esac
	for t in tests/system/test_*.sh; do
		[ -f "$t" ] || continue
		if [ "$kind" = none ]; then
			queue_in_rig "system/$(basename "$t" .sh)" "$(system_bound none)" "bash $t"
		else
			run_one "system/$(basename "$t" .sh)" "$(system_bound "$kind")" bash "$t"
			grep -q '^SKIP: .*needs real KVM' "$log/system_$(basename "$t" .sh).log" && names+=("$t")
		fi
	done
	if [ "$kind" = pvm ] && [ ${#names[@]} -gt 0 ]; then
		echo "   again in L1, for the cases this host's KVM cannot run: ${names[*]}"
		for t in "${names[@]}"; do queue_in_rig "system/$(basename "$t" .sh)" "$(system_bound none)" "bash $t"; done
	fi
	flush_rig
}

stage_nested() {
	echo "== nested rig (Debian's kernel under hyve under QEMU-TCG)"
	local t
	for t in tests/nested/test_*.sh; do [ -f "$t" ] && run_one "nested/$(basename "$t" .sh)" 1200 bash "$t"; done
}

stage_fuzz() {
	echo "== fuzz (bounded)"
	[ -f fuzz/run.sh ] && run_one "fuzz" 900 bash fuzz/run.sh short
}

# timed STAGE: runs stage_STAGE and prints how long it took.
timed() {
	local t0=$SECONDS
	"stage_$1"
	echo "   ($1 stage: $((SECONDS - t0)) s)"
}

if [ "${1:-}" = --inner ]; then
	[ "${HYVE_RUN_INNER:-0}" = 1 ] || { echo "run.sh: --inner is for tests/run.sh itself"; exit 2; }
	run_inner "$2"
	exit 0
fi

only=${1:-all}
case $only in
all | unit | system | nested | fuzz) ;;
*) echo "run.sh: unknown stage '$only' (all, unit, system, nested, fuzz)"; exit 2 ;;
esac
t_start=$SECONDS
bash tools/install-deps.sh || { echo "run.sh: installing dependencies failed"; echo "0 passed, 1 failed"; exit 1; }
echo "   (dependencies: $((SECONDS - t_start)) s)"
t0=$SECONDS
build
echo "   (build: $((SECONDS - t0)) s)"
case $only in
all) timed unit; timed system; timed nested; timed fuzz ;;
unit) timed unit; flush_rig ;;
*) timed "$only" ;;
esac

pass=0 fail=0 skip=0
for r in "${results[@]}"; do
	set -- $r
	pass=$((pass + $2)); fail=$((fail + $3)); skip=$((skip + $4))
	[ "$3" -gt 0 ] && failed_names+=("$1")
done
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "   (all: $((SECONDS - t_start)) s)"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
