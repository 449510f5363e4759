#!/usr/bin/env bash
# ACPI S3, suspend to RAM (tests/guest/sleep.c): the guest writes SLP_TYP=S3
# with SLP_EN as an OS does; hyve stops every vCPU and stays up
# (hyvectl --status says "sleeping"); a wake event (an RTC alarm with RTC_EN,
# hyvectl --wake) brings the vCPUs back reset, at the FACS waking vector, in
# the mode the guest chose; the guest checks WAK_STS, the wake source's
# status bit, that the alarm did not fire early, and its memory.  A sleeping
# machine checkpointed and restored is asleep again, until its wake event.
set -u
. "$(dirname "$0")/lib.sh"

sys_init s3_rtc_alarm_wakes_at_real_mode_vector s3_rtc_alarm_wakes_at_protected_mode_vector \
	s3_rtc_alarm_wakes_at_long_mode_vector s3_two_vcpus_sleep_and_wake \
	s3_sleeping_status_then_hyvectl_wake s3_power_button_wakes s3_wake_refused_when_not_sleeping \
	s3_checkpoint_while_sleeping_restores_asleep_then_wakes \
	s3_restored_sleeper_wakes_on_its_rtc_alarm
HYVECTL=${HYVECTL:-$(dirname "$HYVE")/hyvectl}
G=$(guest sleep)
CTL=$SYS_TMP/ctl
mkdir -m 700 "$CTL"

# judge_wake NAME VIA PM1_STS [LINE...]: PASS if the guest woke via VIA
# seeing PM1_STS, found its memory intact (it fails itself when not),
# ended with status 1 and printed every LINE.
judge_wake() {
	local name=$1 via=$2 sts=$3
	shift 3
	if [ "$HYVE_STATUS" = 1 ] && ! { out_grep "^sleep: woke via $via: PM1_STS $sts, RTC \\+[0-9]+s$" &&
		out_grep '^sleep: memory intact: '; }; then
		fail "$name" "no wake via $via with PM1_STS $sts and memory intact"
		dump_run "$name"
	else
		expect_run "$name" 1 "$@"
	fi
}

# s3_rtc NAME VIA: two cycles, each woken by an alarm 2 s ahead.
s3_rtc() {
	local name=$1 via=$2
	hyve_run --timeout 60 --debug-exit -m 128M -l com1,stdio --control "$CTL/$name.sock" \
		--kernel "$G" --cmdline "wake=rtc via=$via secs=2 cycles=2" "$name"
	judge_wake "$name" "$via" 0x8400 "sleep: entering S3 via $via, wake rtc (cycle 2)"
}
s3_rtc s3_rtc_alarm_wakes_at_real_mode_vector real
s3_rtc s3_rtc_alarm_wakes_at_protected_mode_vector pm32
s3_rtc s3_rtc_alarm_wakes_at_long_mode_vector long64

# Every vCPU stops, and the AP comes back reset, waiting for INIT-SIPI (the
# BSP alone runs at the waking vector); the guest starts it again.
name=s3_two_vcpus_sleep_and_wake
hyve_run --timeout 60 --debug-exit -c 2 -m 128M -l com1,stdio --control "$CTL/$name.sock" \
	--kernel "$G" --cmdline "wake=rtc via=real secs=2 cycles=2 cpus=2" "$name"
if [ "$HYVE_STATUS" = 1 ] && [ "$(grep -c '^sleep: AP was reset and restarted' "$HYVE_OUT")" != 2 ]; then
	fail $name "the AP was not reset and restarted after each wake"
	dump_run $name
else
	expect_run $name 1 "sleep: entering S3 via real, wake rtc (cycle 2)"
fi

# status_state SOCK: the state hyvectl --status reports.
status_state() { "$HYVECTL" --socket="$1" --status 2>/dev/null | sed -n 's/^state: *//p'; }

# start_asleep NAME CMDLINE: starts the guest on socket $CTL/NAME.sock and
# waits until it said it sleeps and hyve agrees; else fails NAME.
start_asleep() {
	local i
	hyve_start --debug-exit -m 128M -l com1,stdio --control "$CTL/$1.sock" --kernel "$G" --cmdline "$2" "$1"
	if wait_for_line "$HYVE_OUT" '^sleep: entering S3' 30; then
		for i in $(seq 1 100); do
			[ "$(status_state "$CTL/$1.sock")" = sleeping ] && return 0
			sleep 0.1
		done
	fi
	hyve_kill
	fail "$1" "hyvectl --status never said 'sleeping' ($(hyve_summary); $(guest_failure))"
	dump_run "$1"
	return 1
}

name=s3_sleeping_status_then_hyvectl_wake
if start_asleep $name "wake=host via=real"; then
	json=$("$HYVECTL" --socket="$CTL/$name.sock" --status --json)
	sleep 2 # nothing wakes it but the host
	lines=$(wc -l <"$HYVE_OUT")
	still=$(status_state "$CTL/$name.sock")
	"$HYVECTL" --socket="$CTL/$name.sock" --wake >"$SYS_TMP/wake.out" 2>&1
	rc=$?
	hyve_wait
	if ! echo "$json" | grep -q '"state":"sleeping","sleeping":true'; then
		fail $name "status JSON: $json"
	elif [ "$still" != sleeping ] || [ "$lines" != 1 ]; then
		fail $name "woke by itself (state '$still', $lines lines of output before --wake)"
		dump_run $name
	elif [ $rc != 0 ] || ! grep -q 'woken from S3' "$SYS_TMP/wake.out"; then
		fail $name "hyvectl --wake: status $rc, $(cat "$SYS_TMP/wake.out")"
	else
		judge_wake $name real 0x8000 "sleep: entering S3 via real, wake host (cycle 1)"
	fi
fi

# The power button wakes a sleeping guest even with PWRBTN_EN clear.
name=s3_power_button_wakes
if start_asleep $name "wake=button via=long64"; then
	out=$("$HYVECTL" --socket="$CTL/$name.sock" --powerdown 2>&1)
	hyve_wait
	if ! echo "$out" | grep -q 'power button pressed; the guest woke from S3'; then
		fail $name "hyvectl --powerdown: '$out'"
	else
		judge_wake $name long64 0x8100
	fi
fi

# --wake on a running guest is refused and changes nothing.
name=s3_wake_refused_when_not_sleeping
hyve_start --debug-exit -m 64M -l com1,stdio --control "$CTL/$name.sock" --kernel "$(guest uart_rx)" "$name"
wait_for_line "$HYVE_OUT" '^uart_rx: ready$' 30
out=$("$HYVECTL" --socket="$CTL/$name.sock" --wake 2>&1)
rc=$?
state=$(status_state "$CTL/$name.sock")
feed_input $'\n'
hyve_wait
if [ $rc != 1 ] || ! echo "$out" | grep -q 'wake: the guest is not sleeping (state running)'; then
	fail $name "hyvectl --wake on a running guest: status $rc, '$out'"
elif [ "$state" != running ]; then
	fail $name "state '$state' after a refused wake"
else
	pass $name
fi

# checkpoint_asleep NAME CMDLINE: starts the guest, waits until it sleeps,
# checkpoints it, kills hyve; the snapshot is $SYS_TMP/NAME.snap.
checkpoint_asleep() {
	local name=$1
	start_asleep "$name" "$2" || return 1
	if ! "$HYVECTL" --socket="$CTL/$name.sock" --checkpoint="$SYS_TMP/$name.snap" >"$SYS_TMP/cp.out" 2>&1 ||
		! grep -q 'the guest sleeps on' "$SYS_TMP/cp.out"; then
		hyve_kill
		fail "$name" "checkpoint of the sleeping guest: $(cat "$SYS_TMP/cp.out")"
		return 1
	fi
	hyve_kill
}

name=s3_checkpoint_while_sleeping_restores_asleep_then_wakes
if checkpoint_asleep $name "wake=host via=real mb=32"; then
	hyve_start -r "$SYS_TMP/$name.snap" -l com1,stdio --control "$CTL/$name-r.sock"
	state=
	for i in $(seq 1 50); do
		state=$(status_state "$CTL/$name-r.sock")
		[ -n "$state" ] && break
		sleep 0.1
	done
	sleep 1
	still=$(status_state "$CTL/$name-r.sock")
	quiet=$(wc -c <"$HYVE_OUT")
	"$HYVECTL" --socket="$CTL/$name-r.sock" --wake >"$SYS_TMP/wake.out" 2>&1
	hyve_wait
	if [ "$state" != sleeping ] || [ "$still" != sleeping ] || [ "$quiet" != 0 ]; then
		fail $name "restored guest: state '$state' then '$still', $quiet bytes of output before --wake"
		dump_run $name
	else
		judge_wake $name real 0x8000
	fi
fi

# The RTC alarm and RTC_EN are in the snapshot: the restored machine wakes
# on its own when the alarm comes (guest time goes on from the save).
name=s3_restored_sleeper_wakes_on_its_rtc_alarm
if checkpoint_asleep $name "wake=rtc via=real secs=6"; then
	hyve_run --timeout 60 -r "$SYS_TMP/$name.snap" -l com1,stdio --control "$CTL/$name-r.sock"
	judge_wake $name real 0x8400
fi
sys_done
