#!/usr/bin/env bash
# Restore modes and the fast save path (issue 8).
#
# One suspended snapcount guest (2 vCPUs, 32 MiB of pattern in 128 MiB) is
# restored with --restore-mode=lazy, prefault and eager: each time the
# counter continues from the suspended tick and the guest's full memory
# check passes at the end (status 1).  A guest restored lazily (RAM is the
# old RAM file mapped privately, no memfd) is checkpointed: the new
# snapshot must hold exactly its memory (restored eagerly, every digest is
# checked) without reading or storing the untouched rest.  The RAM file is
# sparse (allocated <= non-zero bytes + 1%); eager restore refuses RAM whose
# digest does not match; bad --restore-mode values are refused.
set -u
. "$(dirname "$0")/lib.sh"

CASES="restore_mode_lazy restore_mode_prefault restore_mode_eager ram_file_is_sparse
checkpoint_of_lazily_restored_guest eager_restore_checks_digests checkpoint_reply_reports_pause
direct_io_snapshot_restores restore_mode_option_checked"
sys_init $CASES
HYVECTL=${HYVECTL:-$(dirname "$HYVE")/hyvectl}
G=$(guest snapcount)
CTL=$SYS_TMP/ctl
mkdir -m 700 "$CTL"
TICKS=$(scaled 60)

# nonzero_bytes FILE: bytes in 4 KiB pages of FILE that are not all zero.
nonzero_bytes() {
	python3 - "$1" <<'PY'
import sys
z = bytes(4096)
n = 0
with open(sys.argv[1], "rb") as f:
    while True:
        b = f.read(4096)
        if not b:
            break
        if b != z[:len(b)]:
            n += 4096
print(n)
PY
}

# A suspended base snapshot.
base=$SYS_TMP/base.snap
hyve_start --debug-exit -c 2 -m 128M -l com1,stdio --control "$CTL/base.sock" \
	--kernel "$G" --cmdline "mb=32 ticks=$TICKS tick_ms=20 cpus=2 gap_ticks=$(scaled 40)" base
wait_for_line "$HYVE_OUT" '^tick 3 ' 30
"$HYVECTL" --socket="$CTL/base.sock" --suspend="$base" >"$SYS_TMP/ctl.out" 2>&1
hyve_wait
base_status=$HYVE_STATUS
base_tick=$(last_tick "$HYVE_OUT")
if [ "$base_status" != 0 ] || [ ! -f "$base.mem" ] || [ -z "$base_tick" ]; then
	for c in $CASES; do fail "$c" "could not make the base snapshot (status $base_status: $(tail -1 "$SYS_TMP/ctl.out"))"; done
	sys_done
fi


for mode in lazy prefault eager; do
	restore_runs "restore_mode_$mode" "$base" $((base_tick + 1)) $((base_tick + 2)) --restore-mode=$mode
done

name=ram_file_is_sparse
alloc=$(($(stat -c %b "$base.mem") * $(stat -c %B "$base.mem")))
nz=$(nonzero_bytes "$base.mem")
if [ "$nz" -lt $((32 << 20)) ]; then
	fail "$name" "the RAM file holds only $nz non-zero bytes; the guest filled 32 MiB"
elif [ "$alloc" -gt $((nz + nz / 100)) ]; then
	fail "$name" "RAM file allocates $alloc bytes for $nz non-zero bytes (more than 1% over)"
else
	pass "$name"
fi

# A lazily restored guest has no memfd: its checkpoint must find the pages
# the guest wrote (copied on write) and the RAM file's data, and nothing
# else.  The eager restore of the result checks every digest, the guest
# checks its memory.
name=checkpoint_of_lazily_restored_guest
second=$SYS_TMP/second.snap
hyve_start -r "$base" -l com1,stdio --control "$CTL/lz.sock"
bad=
if ! wait_for_line "$HYVE_OUT" "^tick $((base_tick + 5)) " 30; then
	bad="lazily restored guest did not tick on ($(hyve_summary); $(guest_failure))"
else
	before=$(last_tick "$HYVE_OUT")
	"$HYVECTL" --socket="$CTL/lz.sock" --checkpoint="$second" >"$SYS_TMP/ctl.out" 2>&1 ||
		bad="checkpoint of the restored guest failed: $(tail -1 "$SYS_TMP/ctl.out")"
fi
after=$(last_tick "$HYVE_OUT")
hyve_kill
if [ -n "$bad" ]; then
	fail "$name" "$bad"
else
	alloc2=$(($(stat -c %b "$second.mem") * $(stat -c %B "$second.mem")))
	if [ "$alloc2" -gt $((alloc + (4 << 20))) ]; then
		fail "$name" "the second RAM file allocates $alloc2 bytes, the first $alloc: untouched memory was stored"
	elif ! "$HYVECTL" snapshot verify "$second" >"$SYS_TMP/verify.out" 2>&1; then
		fail "$name" "snapshot verify: $(tail -1 "$SYS_TMP/verify.out")"
	else
		restore_runs "$name" "$second" $((before + 1)) $((after + 2)) --restore-mode=eager
	fi
fi

name=eager_restore_checks_digests
cp "$base" "$SYS_TMP/bad.snap"
cp --sparse=always "$base.mem" "$SYS_TMP/bad.snap.mem"
# A byte inside the filled pattern (it starts at or above 2 MiB).
off=$(python3 -c "
import sys
with open('$SYS_TMP/bad.snap.mem', 'rb') as f:
    f.seek(8 << 20)
    print((8 << 20) + next(i for i, b in enumerate(f.read(1 << 20)) if b))")
printf '\x5a' | dd of="$SYS_TMP/bad.snap.mem" bs=1 seek="$off" conv=notrunc 2>/dev/null
hyve_run --timeout 20 -r "$SYS_TMP/bad.snap" --restore-mode=eager -l com1,stdio
if [ "$HYVE_STATUS" = 4 ] && grep -q 'digest' "$HYVE_ERR" && [ "$(grep -c . "$HYVE_ERR")" = 1 ]; then
	pass "$name"
else
	fail "$name" "a corrupted RAM file restored eagerly: expected status 4 and one digest error, got $(hyve_summary)"
fi

name=checkpoint_reply_reports_pause
hyve_start -r "$base" -l com1,stdio --control "$CTL/p.sock"
wait_for_line "$HYVE_OUT" "^tick $((base_tick + 3)) " 30
reply=$("$HYVECTL" --socket="$CTL/p.sock" --checkpoint="$SYS_TMP/third.snap" --json 2>&1)
hyve_kill
if python3 -c "
import json, sys
r = json.loads(sys.argv[1].strip().splitlines()[-1])
assert r['ok'] and 0 < r['paused_seconds'] <= r['seconds'], r
" "$reply" 2>/dev/null; then
	pass "$name"
else
	fail "$name" "reply lacks a sane paused_seconds: $reply"
fi

# HYVE_SNAPSHOT_IO=direct: the RAM file written with O_DIRECT (digests on
# the way) restores and verifies like a buffered one.
name=direct_io_snapshot_restores
direct=$SYS_TMP/direct.snap
export HYVE_SNAPSHOT_IO=direct
hyve_start -r "$base" -l com1,stdio --control "$CTL/d.sock"
unset HYVE_SNAPSHOT_IO
bad=
if ! wait_for_line "$HYVE_OUT" "^tick $((base_tick + 3)) " 30; then
	bad="restored guest did not tick on ($(hyve_summary))"
elif ! "$HYVECTL" --socket="$CTL/d.sock" --suspend="$direct" >"$SYS_TMP/ctl.out" 2>&1; then
	bad="suspend failed: $(tail -1 "$SYS_TMP/ctl.out")"
fi
[ -n "$bad" ] && hyve_kill || hyve_wait
dt=$(last_tick "$HYVE_OUT")
# O_DIRECT bypasses the page cache: (almost) none of the 32 MiB written is
# cached, where a buffered write leaves all of it there.
cached=$(fincore -b -n -o RES "$direct.mem" 2>/dev/null | tr -d ' ')
if [ -n "$bad" ]; then
	fail "$name" "$bad"
elif [ -n "$cached" ] && [ "$cached" -gt $((8 << 20)) ]; then
	fail "$name" "$cached bytes of the RAM file are in the page cache: not written with O_DIRECT"
elif ! "$HYVECTL" snapshot verify "$direct" >"$SYS_TMP/verify.out" 2>&1; then
	fail "$name" "snapshot verify: $(tail -1 "$SYS_TMP/verify.out")"
else
	restore_runs "$name" "$direct" $((dt + 1)) $((dt + 2)) --restore-mode=eager
fi

name=restore_mode_option_checked
bad=
hyve_run --timeout 20 -r "$base" --restore-mode=bogus
[ "$HYVE_STATUS" = 4 ] && grep -q 'restore-mode' "$HYVE_ERR" || bad="--restore-mode=bogus: $(hyve_summary)"
hyve_run --timeout 20 --restore-mode=eager --kernel "$G" x
[ -z "$bad" ] && { [ "$HYVE_STATUS" = 4 ] && grep -q 'needs -r' "$HYVE_ERR" || bad="--restore-mode without -r: $(hyve_summary)"; }
if [ -n "$bad" ]; then fail "$name" "$bad"; else pass "$name"; fi
sys_done
