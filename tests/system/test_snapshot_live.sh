#!/usr/bin/env bash
# Live checkpoints (issue 8 item 4): RAM is copied in dirty-log pre-copy
# rounds while the guest runs, and the guest stops only for the last dirty
# pages and the device state.
#
# The snapcount guest runs with churn=8: CPU 1 rewrites 8 MiB page by page
# at full speed, every pass with a new generation, checking each page still
# holds the previous one; CPU 0 ticks and verifies 16 MiB of pattern.  A
# live checkpoint is taken while it writes; the restored guest must carry
# on (counter continues, churn finds no stale page, full memory check
# passes).  The reply reports the pause and the pages copied in it.
set -u
. "$(dirname "$0")/lib.sh"

CASES="live_checkpoint_reply live_checkpoint_restores_consistent_image live_and_incremental_refused"
sys_init $CASES
HYVECTL=${HYVECTL:-$(dirname "$HYVE")/hyvectl}
G=$(guest snapcount)
CTL=$SYS_TMP/ctl
mkdir -m 700 "$CTL"
TICKS=$(scaled 90)
live=$SYS_TMP/live.snap

hyve_start --debug-exit -c 2 -m 128M -l com1,stdio --control "$CTL/g.sock" \
	--kernel "$G" --cmdline "mb=16 churn=8 ticks=$TICKS tick_ms=20 cpus=2 gap_ticks=$(scaled 40)" lv
bad=
wait_for_line "$HYVE_OUT" '^tick 5 ' 30 || bad="guest did not tick ($(hyve_summary); $(guest_failure))"
if [ -z "$bad" ]; then
	before=$(last_tick "$HYVE_OUT")
	"$HYVECTL" --socket="$CTL/g.sock" --checkpoint="$live" --live --json >"$SYS_TMP/live.out" 2>&1 ||
		bad="live checkpoint failed: $(tail -1 "$SYS_TMP/live.out")"
	after=$(last_tick "$HYVE_OUT")
fi
name=live_and_incremental_refused
if [ -n "$bad" ]; then
	fail "$name" "$bad"
elif "$HYVECTL" --socket="$CTL/g.sock" --checkpoint="$SYS_TMP/x.snap" --live --incremental-from="$live" \
	>"$SYS_TMP/x.out" 2>&1 || ! grep -q "live or incremental" "$SYS_TMP/x.out"; then
	fail "$name" "live + incremental: $(tail -1 "$SYS_TMP/x.out")"
else
	pass "$name"
fi
# The guest must still be healthy after the checkpoint.
[ -z "$bad" ] && { wait_for_line "$HYVE_OUT" "^tick $((after + 3)) " 30 ||
	bad="guest stopped ticking after the live checkpoint ($(guest_failure))"; }
hyve_kill

name=live_checkpoint_reply
if [ -n "$bad" ]; then
	fail "$name" "$bad"
elif ! python3 -c "
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
# The pause is the end of the checkpoint, not all of it; the pages copied
# in it are what the guest wrote since the last round (none if its vCPU
# did not get a host core meanwhile), never all of RAM.
assert r['ok'] and r['live'] and 0 < r['paused_seconds'] < r['seconds'], r
assert 0 <= r['pages'] < 32768 and r['rounds'] >= 0, r
print('live checkpoint: paused %.1f ms, %d pages in the pause, %d rounds' % (r['paused_seconds'] * 1000, r['pages'], r['rounds']))
" "$SYS_TMP/live.out" >"$SYS_TMP/py.out" 2>&1; then
	fail "$name" "reply: $(tail -1 "$SYS_TMP/live.out") ($(tail -1 "$SYS_TMP/py.out"))"
elif ! "$HYVECTL" snapshot verify "$live" >"$SYS_TMP/verify.out" 2>&1; then
	fail "$name" "snapshot verify: $(tail -1 "$SYS_TMP/verify.out")"
else
	cat "$SYS_TMP/py.out"
	pass "$name"
fi

name=live_checkpoint_restores_consistent_image
if [ -n "$bad" ]; then
	fail "$name" "$bad"
else
	hyve_run --timeout 60 -r "$live" -l com1,stdio
	first=$(first_tick "$HYVE_OUT")
	if [ -z "$first" ] || [ "$first" -lt $((before + 1)) ] || [ "$first" -gt $((after + 2)) ]; then
		fail "$name" "first tick '$first', expected $((before + 1))..$((after + 2)) ($(hyve_summary); $(guest_failure))"
		dump_run "$name"
	elif ! ticks_consecutive "$HYVE_OUT"; then
		fail "$name" "restored guest skipped or repeated ticks"
	else
		expect_run "$name" 1 "tick $TICKS cpus=2"
	fi
fi
sys_done
