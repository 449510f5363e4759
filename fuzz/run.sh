#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (independently of the gcc
# Makefile objects) into fuzz/build/ and runs them over the committed seed
# corpus.
#
#   fuzz/run.sh short   ~60 s per target (tests/run.sh); prints
#                       "PASS: fuzz_snapshot_reader (N execs)" or "FAIL: ..."
#   fuzz/run.sh long    at least 1,000,000 executions per target (make fuzz)
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-short}
out=fuzz/build
mkdir -p "$out/crashes" "$out/corpus/snapshot"

case $mode in
short) limit=(-max_total_time="${FUZZ_SECONDS:-60}") ;;
long) limit=(-runs="${FUZZ_RUNS:-1000000}") ;;
*) echo "usage: fuzz/run.sh short|long"; exit 2 ;;
esac

CC=${FUZZ_CC:-clang}
if ! command -v "$CC" >/dev/null; then
	echo "FAIL: fuzz_snapshot_reader: $CC not found (tools/install-deps.sh installs clang)"
	exit 1
fi
flags=(-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	-Iinclude -Isrc -Itests/unit)
# The format library only: save/restore (src/snap/vm*.c) needs the machine.
snap_src=(src/snap/cbor.c src/snap/fields.c src/snap/fields_decode.c
	src/snap/inspect.c src/snap/machine.c src/snap/memfile.c src/snap/ram_chunks.c src/snap/reader.c
	src/snap/reader_query.c src/snap/stream.c src/snap/walk.c src/core/err.c)

status=0
# run_target NAME CORPUS MAX_LEN SOURCES...: builds fuzz/NAME.c with the
# sources and runs it on its corpus; prints one PASS or FAIL line.
run_target() {
	local name=$1 corpus=$2 max_len=$3 log=$out/$1.log
	shift 3
	mkdir -p "$out/corpus/$corpus"
	if ! "$CC" "${flags[@]}" "fuzz/$name.c" "$@" -o "$out/$name" \
		-lcbor -lxxhash >"$out/$name.build.log" 2>&1; then
		echo "FAIL: $name: build failed (see $out/$name.build.log)"
		tail -5 "$out/$name.build.log"
		status=1
		return
	fi
	"$out/$name" "${limit[@]}" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/crashes/$name-" \
		"$out/corpus/$corpus" "fuzz/corpus/$corpus" >"$log" 2>&1
	local rc=$?
	local execs
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ "$rc" -eq 0 ]; then
		echo "PASS: $name (${execs:-?} execs)"
	else
		echo "FAIL: $name: exit $rc after ${execs:-?} execs (log: $log, crashes in $out/crashes/)"
		grep -m3 -E 'ERROR|SUMMARY' "$log" | sed 's/^/    /'
		status=1
	fi
}

# The snapshot reader: the format library only.
run_target fuzz_snapshot_reader snapshot 16384 "${snap_src[@]}"
# The virtqueue walker (src/dev/virtqueue.c) with guest_ptr.
run_target fuzz_virtqueue virtqueue 65600 src/dev/virtqueue.c src/core/mem.c src/core/err.c
exit $status
