#!/usr/bin/env bash
# Incremental checkpoints (issue 8 item 3, docs/snapshot-format.md §5.5).
#
# A running snapcount guest (2 vCPUs, 32 MiB of pattern in 128 MiB) gets a
# full checkpoint, then two incremental ones, each against the previous.
# The diffs hold only the pages written since (a few, not the 32 MiB); the
# chain restores (its pages from three files) with the counter continuing
# from the last diff, not from the base, and the guest's full memory check
# passing; `hyvectl snapshot merge` folds the chain into one full snapshot
# that verifies and restores the same way.  A base that is not the previous
# checkpoint is refused, and so is a chain whose base file was replaced.
set -u
. "$(dirname "$0")/lib.sh"

CASES="incremental_refuses_other_base incremental_diffs_are_small incremental_chain_restores
merged_snapshot_restores chain_with_replaced_base_refused"
sys_init $CASES
HYVECTL=${HYVECTL:-$(dirname "$HYVE")/hyvectl}
G=$(guest snapcount)
CTL=$SYS_TMP/ctl
mkdir -m 700 "$CTL"
TICKS=$(scaled 90)

alloc_of() { echo $(($(stat -c %b "$1") * $(stat -c %B "$1"))); }

c0=$SYS_TMP/c0.snap
d1=$SYS_TMP/d1.snap
d2=$SYS_TMP/d2.snap
hyve_start --debug-exit -c 2 -m 128M -l com1,stdio --control "$CTL/g.sock" \
	--kernel "$G" --cmdline "mb=32 ticks=$TICKS tick_ms=20 cpus=2 gap_ticks=$(scaled 40)" inc
bad=
wait_for_line "$HYVE_OUT" '^tick 3 ' 30 || bad="guest did not tick ($(hyve_summary))"
[ -z "$bad" ] && { "$HYVECTL" --socket="$CTL/g.sock" --checkpoint="$c0" >"$SYS_TMP/c0.out" 2>&1 ||
	bad="full checkpoint failed: $(tail -1 "$SYS_TMP/c0.out")"; }

name=incremental_refuses_other_base
if [ -n "$bad" ]; then
	fail "$name" "$bad"
else
	cp "$c0" "$SYS_TMP/other.snap"
	if "$HYVECTL" --socket="$CTL/g.sock" --checkpoint="$SYS_TMP/x.snap" \
		--incremental-from="$SYS_TMP/other.snap" >"$SYS_TMP/x.out" 2>&1; then
		fail "$name" "a diff against a snapshot that is not the previous checkpoint was written"
	elif ! grep -q "previous checkpoint" "$SYS_TMP/x.out" || [ -e "$SYS_TMP/x.snap" ]; then
		fail "$name" "unclear refusal or file left behind: $(tail -1 "$SYS_TMP/x.out")"
	else
		pass "$name"
	fi
fi

# Two diffs, a few ticks apart; the refusal above must not have cost the
# base its validity.
if [ -z "$bad" ]; then
	t=$(last_tick "$HYVE_OUT")
	wait_for_line "$HYVE_OUT" "^tick $((t + 3)) " 30
	"$HYVECTL" --socket="$CTL/g.sock" --checkpoint="$d1" --incremental-from="$c0" --json \
		>"$SYS_TMP/d1.out" 2>&1 || bad="first diff failed: $(tail -1 "$SYS_TMP/d1.out")"
fi
if [ -z "$bad" ]; then
	t=$(last_tick "$HYVE_OUT")
	wait_for_line "$HYVE_OUT" "^tick $((t + 3)) " 30
	before=$(last_tick "$HYVE_OUT")
	"$HYVECTL" --socket="$CTL/g.sock" --checkpoint="$d2" --incremental-from="$d1" --json \
		>"$SYS_TMP/d2.out" 2>&1 || bad="second diff failed: $(tail -1 "$SYS_TMP/d2.out")"
	after=$(last_tick "$HYVE_OUT")
fi
hyve_kill
# What the guest and hyve printed, when the run went wrong before the cases.
if [ -n "$bad" ]; then
	echo "# the running guest: $(hyve_summary); last tick $(last_tick "$HYVE_OUT")"
	dump_run "incremental run"
fi

name=incremental_diffs_are_small
if [ -n "$bad" ]; then
	fail "$name" "$bad"
elif ! python3 -c "
import json, sys
for f in sys.argv[1:]:
    r = json.loads(open(f).read().strip().splitlines()[-1])
    assert r['ok'] and 0 < r['pages'] < 2048 and r['incremental_from'], r
" "$SYS_TMP/d1.out" "$SYS_TMP/d2.out" 2>"$SYS_TMP/py.err"; then
	fail "$name" "replies lack a sane page count: $(tail -1 "$SYS_TMP/d1.out") / $(tail -1 "$SYS_TMP/py.err")"
elif [ "$(alloc_of "$d1.mem")" -gt $((8 << 20)) ] || [ "$(alloc_of "$d2.mem")" -gt $((8 << 20)) ]; then
	fail "$name" "a diff allocates $(alloc_of "$d1.mem") / $(alloc_of "$d2.mem") bytes; the full one $(alloc_of "$c0.mem")"
elif ! "$HYVECTL" snapshot verify "$d2" >"$SYS_TMP/verify.out" 2>&1; then
	fail "$name" "snapshot verify of a diff: $(tail -1 "$SYS_TMP/verify.out")"
else
	pass "$name"
fi


name=incremental_chain_restores
if [ -n "$bad" ]; then
	fail "$name" "$bad"
else
	restore_runs "$name" "$d2" $((before + 1)) $((after + 2))
fi

name=merged_snapshot_restores
merged=$SYS_TMP/merged.snap
if [ -n "$bad" ]; then
	fail "$name" "$bad"
elif ! "$HYVECTL" snapshot merge "$d2" "$merged" >"$SYS_TMP/merge.out" 2>&1; then
	fail "$name" "merge failed: $(tail -1 "$SYS_TMP/merge.out")"
elif ! "$HYVECTL" snapshot verify "$merged" >"$SYS_TMP/verify.out" 2>&1; then
	fail "$name" "snapshot verify of the merged snapshot: $(tail -1 "$SYS_TMP/verify.out")"
elif "$HYVECTL" snapshot inspect "$merged" | grep -q 'base_id'; then
	fail "$name" "the merged snapshot still names a base"
else
	# Lazy (the default): a full snapshot again, mapped in place.
	restore_runs "$name" "$merged" $((before + 1)) $((after + 2))
fi

name=chain_with_replaced_base_refused
if [ -n "$bad" ]; then
	fail "$name" "$bad"
else
	cp "$merged" "$c0"
	cp --sparse=always "$merged.mem" "$c0.mem"
	hyve_run --timeout 20 -r "$d2" -l com1,stdio
	if [ "$HYVE_STATUS" = 4 ] && grep -q 'not the base' "$HYVE_ERR"; then
		pass "$name"
	else
		fail "$name" "a chain whose base was replaced: expected status 4 naming the base, got $(hyve_summary)"
	fi
fi
sys_done
