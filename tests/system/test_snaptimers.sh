#!/usr/bin/env bash
# Timers across a save/restore (issue 6 (a)): tests/guest/snaptimers.c arms
# the LAPIC timer (periodic 100 Hz), HPET timer 0 (periodic 100 Hz, IOAPIC
# pin 20), the RTC periodic interrupt (64 Hz, IRQ 8) and the PIT (mode 2,
# 100 Hz, IRQ 0 on pin 2), and prints each timer's interrupts per kvmclock
# second.  The test checkpoints it after 3 seconds, SIGKILLs hyve, waits a
# second, restores with `hyve -r` alone, and checks that after the restore
# every timer still fires at its rate (each window but the one holding the
# restore), that the guest's kvmclock seconds continue where the snapshot
# left them, and that the guest ends after secs=12 with the status it chose
# (debug-exit 0x15: hyve status 43).
set -u
. "$(dirname "$0")/lib.sh"
TIMERS="lapic hpet rtc pit"
CASES="snaptimers_before_checkpoint snaptimers_restored_lapic snaptimers_restored_hpet
snaptimers_restored_rtc snaptimers_restored_pit snaptimers_restored_guest_exits"
sys_init $CASES
HYVECTL=${HYVECTL:-$(dirname "$HYVE")/hyvectl}
CTL=$SYS_TMP/ctl
mkdir -m 700 "$CTL"
SNAP=$SYS_TMP/timers.snap
SECS=12

# rate NAME: the programmed rate of a timer (Hz).
rate() { case $1 in rtc) echo 64 ;; *) echo 100 ;; esac; }

# windows FILE: "t ms stall lapic hpet rtc pit" per window line.
windows() {
	tr -d '\r' <"$1" |
		sed -n 's/^snaptimers: t=\([0-9]*\) ms=\([0-9]*\) stall=\([0-9]*\) lapic=\([0-9]*\) hpet=\([0-9]*\) rtc=\([0-9]*\) pit=\([0-9]*\)$/\1 \2 \3 \4 \5 \6 \7/p'
}

# window_problem LINES TIMER: the first window whose count for TIMER is
# off its rate: never more than 2% + 2 over the window's length (the PIT,
# whose KVM model re-injects missed ticks, may catch up by what the
# previous window's stalls cost), and at least 70% of the time the vCPU
# ran (periods that end while it waits for a host core coalesce).
window_problem() {
	local col hz
	case $2 in lapic) col=4 ;; hpet) col=5 ;; rtc) col=6 ;; pit) col=7 ;; esac
	hz=$(rate "$2")
	echo "$1" | awk -v c="$col" -v hz="$hz" -v name="$2" '
		{ most = hz * $2 / 1000 * 1.02 + 2; least = hz * ($2 - $3) / 1000 * 0.7
		  if (name == "pit") { most += debt; debt = hz * $2 / 1000 - $c; if (debt < 0) debt = 0 }
		  if ($c > most || $c < least) {
			printf "window t=%s: %s gave %d interrupts in %d ms (vCPU stalled %d ms; %d Hz programmed)\n", $1, name, $c, $2, $3, hz
			exit } }'
}

hyve_kill() {
	pkill -KILL -P "$HYVE_PID" 2>/dev/null
	kill -KILL "$HYVE_PID" 2>/dev/null
	{ hyve_wait; } 2>/dev/null
}

hyve_start --debug-exit -m 64M -l com1,stdio --control "$CTL/a.sock" \
	--kernel "$(guest snaptimers)" --cmdline "secs=$SECS status=0x15" vm-snaptimers$$
ok=1
if ! wait_for_line "$HYVE_OUT" '^snaptimers: t=3 ' 20; then
	why="the guest did not reach its third second ($(hyve_summary); $(guest_failure))"
	ok=
elif ! "$HYVECTL" --socket="$CTL/a.sock" --checkpoint="$SNAP" >"$SYS_TMP/ctl.out" 2>&1; then
	why="checkpoint failed: $(tail -1 "$SYS_TMP/ctl.out")"
	ok=
fi
hyve_kill
before=$(windows "$HYVE_OUT")
name=snaptimers_before_checkpoint
if [ -z "$ok" ]; then
	for c in $CASES; do fail "$c" "$why"; done
	dump_run "$name"
	sys_done
fi
bad=
for t in $TIMERS; do
	[ -z "$bad" ] && bad=$(window_problem "$(echo "$before" | head -3)" "$t")
done
if [ -n "$bad" ]; then fail "$name" "$bad"; else pass "$name"; fi

sleep 1 # the snapshot sits on disk a while; guest time must not leap
hyve_run --timeout 40 -r "$SNAP" -l com1,stdio --control "$CTL/r.sock"
after=$(windows "$HYVE_OUT")
first=$(echo "$after" | head -1 | cut -d' ' -f1)
last_before=$(echo "$before" | tail -1 | cut -d' ' -f1)
# The first window after the restore held the save, the kill and the
# restore; the ones after it are judged.
judged=$(echo "$after" | tail -n +2)
nj=$(echo "$judged" | grep -c .)
common=
if [ -z "$first" ] || [ "$first" -lt 3 ] || [ "$first" -gt $((last_before + 1)) ]; then
	common="restored guest's first window is t=${first:-none}, expected 3..$((last_before + 1)) ($(hyve_summary); $(guest_failure))"
elif [ "$nj" -lt 3 ]; then
	common="only $nj full windows after the restore ($(hyve_summary); $(guest_failure))"
elif echo "$after" | awk '$2 > 1100 { bad = 1 } END { exit !bad }'; then
	common="a window after the restore lasted over 1.1 s of kvmclock time: the guest clock leapt"
fi
for t in $TIMERS; do
	name=snaptimers_restored_$t
	if [ -n "$common" ]; then
		fail "$name" "$common"
		continue
	fi
	bad=$(window_problem "$judged" "$t")
	if [ -n "$bad" ]; then
		fail "$name" "$bad"
		dump_run "$name"
	else
		pass "$name"
	fi
done
name=snaptimers_restored_guest_exits
last=$(echo "$after" | tail -1 | cut -d' ' -f1)
if [ "$last" != "$SECS" ]; then
	fail "$name" "the restored guest's last window is t=${last:-none}, expected t=$SECS ($(hyve_summary); $(guest_failure))"
	dump_run "$name"
else
	expect_run "$name" 43 "snaptimers: done"
fi
echo "  note: windows (t ms stall lapic hpet rtc pit) before: $(echo "$before" | tr '\n' '|')"
echo "  note: after the restore: $(echo "$after" | tr '\n' '|')"
sys_done
