#!/usr/bin/env bash
# Every golden VM snapshot committed under tests/fixtures/vm-v*/ still
# restores with this hyve and its guest runs to a clean end (issue 6 (d)):
# a snapshot from any released version restores on every later one.
set -u
. "$(dirname "$0")/lib.sh"

fixtures=()
for f in "$SYS_TOP"/tests/fixtures/vm-v*/*; do
	case $f in *.mem | *.md) continue ;; esac
	[ -f "$f" ] && fixtures+=("$f")
done
names=()
for f in "${fixtures[@]}"; do names+=("restores_$(basename "$(dirname "$f")")_$(basename "$f")"); done
[ ${#names[@]} -gt 0 ] || { echo "FAIL: fixtures: no golden VM snapshots under tests/fixtures/vm-v*"; exit 1; }
sys_init "${names[@]}"
CTL=$SYS_TMP/ctl
mkdir -m 700 "$CTL"

for i in "${!fixtures[@]}"; do
	f=${fixtures[$i]}
	# Restore from a copy: the fixture files are never written to.
	cp "$f" "$SYS_TMP/fx.snap"
	cp --sparse=always "$f.mem" "$SYS_TMP/fx.snap.mem"
	hyve_run --timeout 60 -r "$SYS_TMP/fx.snap" -l com1,stdio --control "$CTL/fx.sock"
	expect_run "${names[$i]}" 1 "tick 60 cpus=2"
done
