#!/bin/busybox sh
# Runs inside L1 (test_linux_snapshot.sh puts it at /rig/l1-snapshot.sh):
# drives hyve and hyvectl through save/restore on real (nested) KVM and
# reports, for the host-side test to judge:
#   SNAP-OUT[TAG] LINE          each line hyve printed in phase TAG, live
#   SNAP-STEP TAG WHAT k=v...   what this script did and what came of it
#   SNAP-CTL[TAG] LINE          what hyvectl answered
# Every wait is bounded; a phase whose hyve will not finish is killed.
#
#   sh l1-snapshot.sh tsc     snapcount.elf clock=tsc: checkpoint, kill -9,
#                             restore; the guest ends with status 1 unless
#                             its raw TSC leapt across the restore
#   sh l1-snapshot.sh ioapic  tests/guest dev_ioapic.elf: level-triggered
#                             IOAPIC interrupts delivered exactly once
#   sh l1-snapshot.sh linux   Debian's kernel running l2-workload (-c 2):
#                             checkpoint, run on, kill -9, restore; suspend,
#                             restore; suspend, restore; the workload
#                             finishes and the guest powers off
#   sh l1-snapshot.sh s3rtc   the same guest suspends to RAM with rtcwake
#                             (ACPI S3, RTC alarm); hyve's state is sampled
#                             while it sleeps; the workload finishes
#   sh l1-snapshot.sh s3host  the guest suspends to RAM with no alarm; hyve
#                             is checkpointed asleep and killed; the restore
#                             stays asleep until hyvectl --wake
d=/tmp/snap
mkdir -p "$d" && chmod 700 "$d"
cr=$(printf '\r')
l2_cmdline="console=ttyS0 quiet loglevel=1 panic=-1"

up() { cut -d' ' -f1 /proc/uptime; }

# hyve_start TAG ARGS...: hyve in the background (pid in $hpid); what it
# prints goes to $d/TAG.out and to the console as SNAP-OUT[TAG] lines.
hyve_start() {
	local tag=$1
	shift
	out=$d/$tag.out
	: >"$out"
	rm -f "$d/$tag.fifo"
	mkfifo "$d/$tag.fifo"
	(
		while IFS= read -r l || [ -n "$l" ]; do
			l=${l%"$cr"}
			echo "$l" >>"$out"
			echo "SNAP-OUT[$tag] $l"
			l=
		done <"$d/$tag.fifo"
	) &
	reader=$!
	echo "SNAP-STEP $tag start l1up=$(up) args=$*"
	/bin/hyve "$@" >"$d/$tag.fifo" 2>&1 &
	hpid=$!
}

# hyve_reap TAG SECONDS: waits for hyve to exit (killing it with SIGKILL
# after SECONDS) and reports its status.
hyve_reap() {
	local tag=$1 n=0 rc
	while kill -0 "$hpid" 2>/dev/null && [ $n -lt $(($2 * 2)) ]; do
		sleep 0.5
		n=$((n + 1))
	done
	if kill -0 "$hpid" 2>/dev/null; then
		echo "SNAP-STEP $tag timeout after=$2"
		kill -9 "$hpid"
	fi
	wait "$hpid"
	rc=$?
	wait "$reader"
	echo "SNAP-STEP $tag exit status=$rc l1up=$(up)"
}

# hyve_kill TAG: SIGKILL, as a crash would.
hyve_kill() {
	echo "SNAP-STEP $1 kill last=$(last_tick) l1up=$(up)"
	kill -9 "$hpid"
	hyve_reap "$1" 10
}

# wait_line TAG PATTERN SECONDS: polls hyve's output for PATTERN (grep -E);
# reports and fails if hyve exits or the time runs out first.
wait_line() {
	local n=0
	while ! grep -q -E "$2" "$out"; do
		if ! kill -0 "$hpid" 2>/dev/null; then
			echo "SNAP-STEP $1 gone waiting-for=$2"
			return 1
		fi
		if [ $n -ge $(($3 * 4)) ]; then
			echo "SNAP-STEP $1 stuck waiting-for=$2 seconds=$3"
			return 1
		fi
		sleep 0.25
		n=$((n + 1))
	done
}

# The last tick number the guest printed in the current phase.
last_tick() {
	if [ "$mode" = tsc ]; then
		sed -n 's/.*tick \([0-9]*\) cpus=.*/\1/p' "$out" | tail -1
	else
		sed -n 's/.*HYVE-TICK n=\([0-9]*\) .*/\1/p' "$out" | tail -1
	fi
}

# ctl TAG OP SNAPSHOT SOCKET: hyvectl --OP=SNAPSHOT; reports its status
# and the tick the guest had printed before and after.
ctl() {
	local before rc t0
	before=$(last_tick)
	t0=$(up)
	timeout -s KILL 60 /bin/hyvectl --socket="$4" --"$2"="$3" >"$d/ctl.out" 2>&1
	rc=$?
	sed "s/^/SNAP-CTL[$1] /" "$d/ctl.out"
	echo "SNAP-STEP $1 $2 status=$rc before=$before after=$(last_tick) start=$t0 l1up=$(up)" \
		"bytes=$(du -k "$3" "$3.mem" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')K"
	return $rc
}

scenario_tsc() {
	# tick_ms=50: the guest fails if its clock moves more than 40 ticks
	# (2 s) between two ticks; the 5 s between checkpoint and kill make a
	# TSC that follows the host's (not restored) fail that check.
	hyve_start tsc --debug-exit -c 2 -m 128M -l com1,stdio --control "$d/tsc.sock" \
		--kernel /snapcount.elf --cmdline "mb=16 ticks=160 tick_ms=50 cpus=2 clock=tsc" tsc
	if ! wait_line tsc 'tick 8 cpus=' 60; then
		hyve_kill tsc
		return 1
	fi
	if ! ctl tsc checkpoint "$d/tsc.snap" "$d/tsc.sock"; then
		hyve_kill tsc
		return 1
	fi
	sleep 5
	hyve_kill tsc
	hyve_start tsc-r -r "$d/tsc.snap" -l com1,stdio
	hyve_reap tsc-r 60
}

# restore_phase TAG SNAPSHOT TICKS: restores SNAPSHOT, waits for TICKS more
# ticks, then suspends to $d/TAG.snap (hyve should exit 0).
restore_phase() {
	local first
	hyve_start "$1" -r "$2" -l com1,stdio --control "$d/$1.sock"
	if ! wait_line "$1" 'HYVE-TICK n=' 60; then
		hyve_kill "$1"
		return 1
	fi
	first=$(sed -n 's/.*HYVE-TICK n=\([0-9]*\) .*/\1/p' "$out" | head -1)
	if ! wait_line "$1" "HYVE-TICK n=$((first + $3)) " 30 ||
		! ctl "$1" suspend "$d/$1.snap" "$d/$1.sock"; then
		hyve_kill "$1"
		return 1
	fi
	hyve_reap "$1" 60
}

scenario_linux() {
	# 15 ticks: the first run is killed near tick 10, the restores
	# suspend near ticks 6 and 8, and the last restore runs to the end.
	hyve_start boot -c 2 -m 192M --kernel /vmlinuz --initrd /l2.cpio.gz -l com1,stdio \
		--cmdline "$l2_cmdline hyve.action=workload hyve.mb=64 hyve.ticks=15" --control "$d/boot.sock" l2
	if ! wait_line boot 'HYVE-TICK n=3 ' 150; then
		hyve_kill boot
		return 1
	fi
	if ! ctl boot checkpoint "$d/ck.snap" "$d/boot.sock"; then
		hyve_kill boot
		return 1
	fi
	# Long enough that a clock which leapt by the time hyve was down
	# stands out from a tick's normal second.
	sleep 6
	hyve_kill boot
	restore_phase r1 "$d/ck.snap" 2 || return 1
	restore_phase r2 "$d/r1.snap" 1 || return 1
	hyve_start r3 -r "$d/r2.snap" -l com1,stdio --control "$d/r3.sock"
	hyve_reap r3 90
}

# state SOCKET: the state hyvectl --status reports ("" if none).
state() {
	timeout -s KILL 30 /bin/hyvectl --socket="$1" --status 2>/dev/null | sed -n 's/^state: *//p'
}

# wait_state TAG SOCKET STATE SECONDS
wait_state() {
	local n=0
	while [ "$(state "$2")" != "$3" ]; do
		if ! kill -0 "$hpid" 2>/dev/null || [ $n -ge $(($4 * 2)) ]; then
			echo "SNAP-STEP $1 stuck waiting-for-state=$3 seconds=$4"
			return 1
		fi
		sleep 0.5
		n=$((n + 1))
	done
	echo "SNAP-STEP $1 state=$3 l1up=$(up)"
}

s3_boot() {
	hyve_start "$1" -c 2 -m 192M --kernel /vmlinuz --initrd /l2.cpio.gz -l com1,stdio \
		--cmdline "$l2_cmdline hyve.action=$2 hyve.mb=32 hyve.ticks=12" --control "$d/$1.sock" l2
	wait_line "$1" 'HYVE-L2-SUSPEND ' 150
}

scenario_s3rtc() {
	local seen=none n=0 s
	if ! s3_boot s3rtc rtcwake; then
		hyve_kill s3rtc
		return 1
	fi
	# What hyve says while the guest sleeps (until it is back).
	while [ $n -lt 240 ] && ! grep -q 'HYVE-L2-RESUMED' "$out"; do
		s=$(state "$d/s3rtc.sock")
		[ "$s" = sleeping ] && seen=sleeping
		sleep 0.25
		n=$((n + 1))
	done
	echo "SNAP-STEP s3rtc during-sleep state=$seen"
	hyve_reap s3rtc 150
}

scenario_s3host() {
	local rc
	if ! s3_boot s3host s3host || ! wait_state s3host "$d/s3host.sock" sleeping 120 ||
		! ctl s3host checkpoint "$d/s3.snap" "$d/s3host.sock"; then
		hyve_kill s3host
		return 1
	fi
	hyve_kill s3host
	hyve_start s3r -r "$d/s3.snap" -l com1,stdio --control "$d/s3r.sock"
	if ! wait_state s3r "$d/s3r.sock" sleeping 60; then
		hyve_kill s3r
		return 1
	fi
	# Asleep it stays: no wake event, nothing printed.
	sleep 5
	echo "SNAP-STEP s3r still state=$(state "$d/s3r.sock") bytes=$(wc -c <"$out")"
	timeout -s KILL 60 /bin/hyvectl --socket="$d/s3r.sock" --wake >"$d/ctl.out" 2>&1
	rc=$?
	sed "s/^/SNAP-CTL[s3r] /" "$d/ctl.out"
	echo "SNAP-STEP s3r wake status=$rc l1up=$(up)"
	hyve_reap s3r 150
}

# The IOAPIC exact-delivery check that this host's PVM KVM cannot pass
# (tests/system/test_dev_ioapic.sh): under real KVM it must be exact.
scenario_ioapic() {
	hyve_start ioapic --debug-exit -l com1,stdio --kernel /dev_ioapic.elf ioapic
	hyve_reap ioapic 90
}

mode=$1
case $mode in
tsc) scenario_tsc ;;
ioapic) scenario_ioapic ;;
linux) scenario_linux ;;
s3rtc) scenario_s3rtc ;;
s3host) scenario_s3host ;;
*) echo "SNAP-STEP usage bad-mode=$mode" ;;
esac
echo "SNAP-STEP $mode done l1up=$(up)"
