#!/usr/bin/env bash
# Save and restore of a running guest on this /dev/kvm (issue 6 (a), (c)).
#
# The workload is tests/guest/snapcount.c: it fills memory with a pattern in
# ring 3, ticks on the LAPIC timer, re-verifies the pattern, checks every
# CPU's counter advances and that the guest clock (kvmclock) never leaps,
# and after ticks=T ends with a full memory check and debug-exit 0 (hyve
# status 1).  A restored guest passing it proves RAM, registers, the LAPIC
# timer, the clock and SMP state all came back.
set -u
. "$(dirname "$0")/lib.sh"

CASES="checkpoint_kill_restore_1cpu checkpoint_kill_restore_2cpu checkpoint_kill_restore_4cpu
restore_needs_no_arguments_and_checks_given_ones suspend_restore_chain_100_cycles
restore_twice_from_one_snapshot failed_checkpoint_keeps_old_snapshot_and_guest
restore_refuses_malformed_snapshots"
sys_init $CASES
HYVECTL=${HYVECTL:-$(dirname "$HYVE")/hyvectl}
G=$(guest snapcount)
CTL=$SYS_TMP/ctl
mkdir -m 700 "$CTL"

# checkpoint_kill_restore NAME CPUS: run, checkpoint mid-run, SIGKILL hyve,
# restore with no other arguments, the guest finishes its checks.
checkpoint_kill_restore() {
	local name=$1 cpus=$2 snap=$SYS_TMP/$1.snap seen first ticks
	ticks=$(scaled 40)
	hyve_start --debug-exit -c "$cpus" -m 128M -l com1,stdio --control "$CTL/$name.sock" \
		--kernel "$G" --cmdline "mb=32 ticks=$ticks tick_ms=50 cpus=$cpus gap_ticks=$(scaled 40)" "$name"
	if ! wait_for_line "$HYVE_OUT" '^tick 8 ' 30; then
		hyve_kill
		fail "$name" "the guest did not reach tick 8 ($(hyve_summary); $(guest_failure))"
		dump_run "$name"
		return
	fi
	if ! "$HYVECTL" --socket="$CTL/$name.sock" --checkpoint="$snap" >"$SYS_TMP/ctl.out" 2>&1; then
		hyve_kill
		fail "$name" "checkpoint failed: $(tail -1 "$SYS_TMP/ctl.out")"
		return
	fi
	seen=$(last_tick "$HYVE_OUT")
	hyve_kill
	hyve_run --timeout 60 -r "$snap" -l com1,stdio --control "$CTL/$name-r.sock"
	first=$(first_tick "$HYVE_OUT")
	if [ -z "$first" ] || [ "$first" -lt 9 ] || [ "$first" -gt $((seen + 2)) ]; then
		fail "$name" "restored guest's first tick is '${first}', expected 9..$((seen + 2)) ($(hyve_summary); $(guest_failure))"
		dump_run "$name"
		return
	fi
	if ! ticks_consecutive "$HYVE_OUT"; then
		fail "$name" "restored guest skipped or repeated ticks"
		dump_run "$name"
		return
	fi
	expect_run "$name" 1 "tick $ticks cpus=$cpus"
}

checkpoint_kill_restore checkpoint_kill_restore_1cpu 1
checkpoint_kill_restore checkpoint_kill_restore_2cpu 2
checkpoint_kill_restore checkpoint_kill_restore_4cpu 4

# A snapshot for the cases below: suspended (hyve exits 0 once durable).
base=$SYS_TMP/base.snap
hyve_start --debug-exit -c 2 -m 64M -l com1,stdio --control "$CTL/base.sock" \
	--kernel "$G" --cmdline "mb=8 ticks=100000 tick_ms=20 cpus=2 gap_ticks=$(scaled 40)" base
wait_for_line "$HYVE_OUT" '^tick 3 ' 30
"$HYVECTL" --socket="$CTL/base.sock" --suspend="$base" >"$SYS_TMP/ctl.out" 2>&1
hyve_wait
base_status=$HYVE_STATUS
base_tick=$(last_tick "$HYVE_OUT")

name=restore_needs_no_arguments_and_checks_given_ones
if [ "$base_status" != 0 ] || [ ! -f "$base" ]; then
	fail "$name" "suspend did not end hyve with status 0 and a snapshot (status $base_status: $(tail -1 "$SYS_TMP/ctl.out"))"
else
	bad=
	hyve_run --timeout 20 -r "$base" -c 4
	[ "$HYVE_STATUS" = 4 ] && grep -q 'does not match' "$HYVE_ERR" || bad="-c 4 against a 2-vCPU snapshot: $(hyve_summary)"
	hyve_run --timeout 20 -r "$base" -m 128M
	[ -z "$bad" ] && { [ "$HYVE_STATUS" = 4 ] && grep -q 'does not match' "$HYVE_ERR" || bad="-m 128M against 64M: $(hyve_summary)"; }
	hyve_run --timeout 20 -r "$base" --kernel /nonexistent
	[ -z "$bad" ] && { [ "$HYVE_STATUS" = 4 ] && grep -q 'does not match' "$HYVE_ERR" || bad="--kernel mismatch: $(hyve_summary)"; }
	# Matching arguments are accepted; the guest runs (ticks continue).
	hyve_start -r "$base" -c 2 -m 64M -l com1,stdio --control "$CTL/ok.sock"
	if [ -z "$bad" ] && ! wait_for_line "$HYVE_OUT" "^tick $((base_tick + 3)) " 30; then
		bad="restore with matching -c/-m did not run on past tick $base_tick ($(hyve_summary); $(guest_failure))"
	fi
	hyve_kill
	if [ -n "$bad" ]; then fail "$name" "$bad"; else pass "$name"; fi
fi

# 100 cycles: restore the previous snapshot, let it tick, save the next one;
# odd cycles checkpoint and kill, even ones suspend.  The restored guest must
# continue from the tick it was saved at: after a suspend the very next
# tick (or the one after, when the save caught a line half printed); after
# a checkpoint, a tick between the checkpoint request and the kill.
name=suspend_restore_chain_100_cycles
prev=$base
bad=
lo=$((base_tick + 1))
hi=$((base_tick + 2))
for i in $(seq 1 100); do
	next=$SYS_TMP/chain-$((i % 2)).snap
	hyve_start -r "$prev" -l com1,stdio --control "$CTL/chain.sock"
	if ! wait_for_line "$HYVE_OUT" "^tick $((hi + 2)) " 20; then
		bad="cycle $i: restored guest did not tick on past $hi ($(hyve_summary); $(guest_failure))"
		hyve_kill
		break
	fi
	t=$(first_tick "$HYVE_OUT")
	if [ "$t" -lt "$lo" ] || [ "$t" -gt "$hi" ]; then
		bad="cycle $i: restored guest resumed at tick $t, expected $lo..$hi"
		hyve_kill
		break
	fi
	ck=$(last_tick "$HYVE_OUT")
	if [ $((i % 2)) = 1 ]; then
		"$HYVECTL" --socket="$CTL/chain.sock" --checkpoint="$next" >"$SYS_TMP/ctl.out" 2>&1 || bad="cycle $i: checkpoint: $(tail -1 "$SYS_TMP/ctl.out")"
		hyve_kill
		lo=$((ck + 1))
		hi=$(($(last_tick "$HYVE_OUT") + 2))
	else
		"$HYVECTL" --socket="$CTL/chain.sock" --suspend="$next" >"$SYS_TMP/ctl.out" 2>&1 || bad="cycle $i: suspend: $(tail -1 "$SYS_TMP/ctl.out")"
		hyve_wait
		[ -z "$bad" ] && [ "$HYVE_STATUS" != 0 ] && bad="cycle $i: suspend ended hyve with status $HYVE_STATUS"
		lo=$(($(last_tick "$HYVE_OUT") + 1))
		hi=$((lo + 1))
	fi
	[ -n "$bad" ] && break
	ticks_consecutive "$HYVE_OUT" || { bad="cycle $i: ticks not consecutive"; break; }
	prev=$next
done
if [ -n "$bad" ]; then fail "$name" "$bad"; dump_run "$name"; else pass "$name"; fi

name=restore_twice_from_one_snapshot
hyve_start -r "$base" -l com1,stdio --control "$CTL/t2.sock"
wait_for_line "$HYVE_OUT" "^tick $((base_tick + 3)) " 20
a=$(first_tick "$HYVE_OUT")
hyve_kill
hyve_start -r "$base" -l com1,stdio --control "$CTL/t3.sock"
wait_for_line "$HYVE_OUT" "^tick $((base_tick + 3)) " 20
b=$(first_tick "$HYVE_OUT")
hyve_kill
if [ -n "$a" ] && [ "$a" = "$b" ]; then pass "$name"; else fail "$name" "first ticks differ: '$a' vs '$b'"; fi

name=failed_checkpoint_keeps_old_snapshot_and_guest
ro=$SYS_TMP/ro
mkdir -p "$ro"
good=$SYS_TMP/good.snap
hyve_start -r "$base" -l com1,stdio --control "$CTL/f.sock"
wait_for_line "$HYVE_OUT" "^tick $((base_tick + 3)) " 20
bad=
"$HYVECTL" --socket="$CTL/f.sock" --checkpoint="$good" >"$SYS_TMP/ctl.out" 2>&1 || bad="first checkpoint failed: $(tail -1 "$SYS_TMP/ctl.out")"
sum1=$(cat "$good" "$good.mem" 2>/dev/null | md5sum)
# A path in a directory that does not exist, then one that cannot be written.
if [ -z "$bad" ] && "$HYVECTL" --socket="$CTL/f.sock" --checkpoint="$SYS_TMP/nodir/x.snap" >"$SYS_TMP/ctl.out" 2>&1; then
	bad="checkpoint into a missing directory succeeded"
fi
chmod 500 "$ro"
if [ -z "$bad" ] && [ "$(id -u)" != 0 ] && "$HYVECTL" --socket="$CTL/f.sock" --checkpoint="$ro/x.snap" >"$SYS_TMP/ctl.out" 2>&1; then
	bad="checkpoint into a read-only directory succeeded"
fi
# A full disk: a small tmpfs filled up after a first good snapshot.
small=$SYS_TMP/small
mkdir -p "$small"
if [ -z "$bad" ] && mount -t tmpfs -o size=24m tmpfs "$small" 2>/dev/null; then
	"$HYVECTL" --socket="$CTL/f.sock" --checkpoint="$small/s.snap" >"$SYS_TMP/ctl.out" 2>&1 || bad="checkpoint on tmpfs failed: $(tail -1 "$SYS_TMP/ctl.out")"
	s1=$(cat "$small/s.snap" "$small/s.snap.mem" | md5sum)
	dd if=/dev/zero of="$small/fill" bs=1M count=64 2>/dev/null
	if [ -z "$bad" ] && "$HYVECTL" --socket="$CTL/f.sock" --checkpoint="$small/s.snap" >"$SYS_TMP/ctl.out" 2>&1; then
		bad="checkpoint onto a full disk succeeded"
	elif [ -z "$bad" ] && ! grep -qi 'space' "$SYS_TMP/ctl.out"; then
		bad="full-disk error does not say so: $(tail -1 "$SYS_TMP/ctl.out")"
	fi
	[ -z "$bad" ] && [ "$(cat "$small/s.snap" "$small/s.snap.mem" | md5sum)" != "$s1" ] && bad="the older snapshot on the full disk changed"
	[ -z "$bad" ] && ls "$small" | grep -q tmp && bad="temporary files left on the full disk: $(ls "$small")"
	umount "$small"
else
	[ -z "$bad" ] && echo "  note: no tmpfs mount here; full-disk case not exercised"
fi
# The guest is still running and the first snapshot is intact.
t=$(last_tick "$HYVE_OUT")
if [ -z "$bad" ] && ! wait_for_line "$HYVE_OUT" "^tick $((t + 2)) " 20; then
	bad="the guest stopped after the failed checkpoints"
fi
hyve_kill
[ -z "$bad" ] && [ "$(cat "$good" "$good.mem" | md5sum)" != "$sum1" ] && bad="the good snapshot changed"
[ -z "$bad" ] && ! "$HYVECTL" snapshot verify "$good" >/dev/null 2>&1 && bad="the good snapshot no longer verifies"
if [ -n "$bad" ]; then fail "$name" "$bad"; else pass "$name"; fi

# (c) Malformed snapshots: one clear error line, status 4, never a crash.
name=restore_refuses_malformed_snapshots
bad=
mk() { cp "$base" "$SYS_TMP/m.snap"; cp --sparse=always "$base.mem" "$SYS_TMP/m.snap.mem"; }
try() {
	local what=$1
	hyve_run --timeout 20 -r "$SYS_TMP/m.snap"
	if [ "$HYVE_STATUS" != 4 ]; then
		bad="$what: expected status 4, got $(hyve_summary)"
	elif [ "$(grep -c . "$HYVE_ERR")" != 1 ] || grep -qiE 'sanitizer|runtime error|segv' "$HYVE_ERR"; then
		bad="$what: expected one error line, got: $(head -3 "$HYVE_ERR" | tr '\n' '|')"
	fi
}
size=$(stat -c %s "$base")
for cut in 0 7 31 32 100 $((size / 2)) $((size - 8)) $((size - 1)); do
	[ -n "$bad" ] && break
	mk; truncate -s "$cut" "$SYS_TMP/m.snap"; try "state file truncated to $cut bytes"
done
for off in 0 9 40 200 $((size / 3)) $((size - 12)); do
	[ -n "$bad" ] && break
	mk; printf '\xa5' | dd of="$SYS_TMP/m.snap" bs=1 seek="$off" conv=notrunc 2>/dev/null; try "byte $off changed"
done
[ -z "$bad" ] && { mk; rm "$SYS_TMP/m.snap.mem"; try "RAM file missing"; }
[ -z "$bad" ] && { mk; truncate -s 1M "$SYS_TMP/m.snap.mem"; try "RAM file too short"; }
[ -z "$bad" ] && [ -f "$good.mem" ] && { mk; cp --sparse=always "$good.mem" "$SYS_TMP/m.snap.mem"; try "RAM file of another snapshot"; }
[ -z "$bad" ] && { mk; printf 'NOTASNAP' | dd of="$SYS_TMP/m.snap" bs=1 conv=notrunc 2>/dev/null; try "wrong magic"; }
[ -z "$bad" ] && { mk; : >"$SYS_TMP/m.snap"; try "empty state file"; }
[ -z "$bad" ] && { head -c 4096 /dev/urandom >"$SYS_TMP/m.snap"; try "random bytes"; }
[ -z "$bad" ] && { rm -f "$SYS_TMP/m.snap"; try "no such file"; }
if [ -n "$bad" ]; then fail "$name" "$bad"; else pass "$name"; fi
sys_done
