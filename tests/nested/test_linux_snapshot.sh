#!/usr/bin/env bash
# Save/restore of a real Linux guest on real (nested) KVM, issue 6 (b), and
# the raw-TSC check this host's /dev/kvm cannot do.  One L1 boot, two runs
# of l1-snapshot.sh inside it (see that file for the steps):
#   run 1 (tsc):   tests/guest snapcount.elf with clock=tsc, checkpoint,
#                  5 s later kill -9, restore: the guest fails itself if its
#                  TSC moved more than 2 s between two ticks
#   run 2 (linux): Debian's kernel, -c 2, running l2-workload.c (64 MiB
#                  pattern re-verified every second, half on each CPU);
#                  checkpoint at tick 3, run on 6 s, kill -9, restore (r1),
#                  suspend, restore (r2), suspend, restore (r3), which runs
#                  the workload to its end and powers off.
# Here every line hyve printed is judged: the counter continues, memory
# stays intact, CLOCK_MONOTONIC / uptime continue without a leap (kvmclock
# restored), the date keeps step with them, both CPUs stay online and run,
# suspend ends hyve with 0 and the last restored guest's poweroff with 1.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

names=(nested_tsc_continues_across_restore nested_ioapic_level_exactly_once linux_checkpoint_while_running linux_restore_counter_continues
	linux_restore_memory_intact linux_restore_monotonic_clock_continues linux_restore_date_continues
	linux_restore_both_cpus_online linux_suspend_restore_suspend_restore linux_restored_guest_powers_off)
fail_all() { for n in "${names[@]}"; do nested_fail "$n" "$1"; done; exit 1; }

if [ "${HYVE_NESTED_VMM:-hyve}" != hyve ]; then
	for n in "${names[@]}"; do echo "SKIP: $n: save/restore is hyve's, not QEMU's (HYVE_NESTED_VMM=$HYVE_NESTED_VMM)"; done
	exit 0
fi
nested_prepare "${names[@]}" || exit $nested_failed
[ -x "$nested_top/build/bin/hyvectl" ] || fail_all "build/bin/hyvectl is not built"
snapcount=$nested_top/tests/guest/build/snapcount.elf
[ -f "$snapcount" ] || make -s -C "$nested_top/tests/guest" >/dev/null 2>&1
[ -f "$snapcount" ] || fail_all "$snapcount is not built (make -C tests/guest)"
ioapic_guest=$nested_top/tests/guest/build/dev_ioapic.elf
[ -f "$ioapic_guest" ] || fail_all "$ioapic_guest is not built (make -C tests/guest)"
dir=$nested_top/build/nested/linux_snapshot
mkdir -p "$dir"
# Static: the L2 initramfs has busybox and nothing else.
gcc -std=c11 -D_GNU_SOURCE -O2 -static -s -Wall -Wextra -Werror -o "$dir/l2-workload" \
	"$nested_dir/l2-workload.c" >"$dir/gcc.log" 2>&1 ||
	fail_all "building l2-workload.c with gcc -static failed: $(head -3 "$dir/gcc.log")"

t0=$(date +%s)
nested_rig linux_snapshot --l2-file "$dir/l2-workload:/bin/l2-workload" \
	--l1-file "$nested_dir/l1-snapshot.sh:/rig/l1-snapshot.sh" --l1-file "$snapcount:/snapcount.elf" \
	--l1-file "$ioapic_guest:/dev_ioapic.elf" --l1-cmd 'sh /rig/l1-snapshot.sh ioapic' \
	--l1-cmd 'sh /rig/l1-snapshot.sh tsc' --l1-cmd 'sh /rig/l1-snapshot.sh linux' \
	--run-timeout 240 --timeout 380
echo "# rig wall time: $(($(date +%s) - t0)) s"
nested_rig_ok || fail_all "nested rig failed before hyve ran (see above)"
grep -E '^SNAP-(STEP|CTL)' "$nested_log" | sed 's/^/# /'

# --- reading the console -------------------------------------------------

# out TAG: what hyve printed in phase TAG (SNAP-OUT[TAG] lines, unprefixed).
out() { sed -n "s/^SNAP-OUT\[$1\] //p" "$nested_log"; }
# step TAG WHAT: the (last) SNAP-STEP line for it, or nothing.
step() { grep "^SNAP-STEP $1 $2\( \|$\)" "$nested_log" | tail -1; }
# steps TAG WHAT...: those SNAP-STEP lines that exist, joined by "; ".
steps() {
	local t=$1 w l sep=
	shift
	for w in "$@"; do
		l=$(step "$t" "$w")
		[ -n "$l" ] && printf '%s%s' "$sep" "${l#SNAP-STEP }" && sep="; "
	done
}
# val LINE KEY: the value of KEY=value in LINE.
val() { printf '%s\n' "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p" | head -1; }
# ticks TAG [PATTERN]: the tick numbers printed in phase TAG.
ticks() { out "$1" | sed -n "s/.*${2:-HYVE-TICK n=}\([0-9]*\) .*/\1/p"; }
# tick TAG N: phase TAG's line for tick N.
tick() { out "$1" | grep -m1 "HYVE-TICK n=$2 "; }
# consecutive: stdin's numbers each one more than the last.
consecutive() { awk 'NR > 1 && $1 != prev + 1 { bad = 1 } { prev = $1 } END { exit bad }'; }
# ms SECONDS.CC: milliseconds (for /proc/uptime and L1 uptimes).
ms() { awk -v s="$1" 'BEGIN { printf "%d", s * 1000 }'; }
# show TAG...: the end of what hyve printed in those phases, after a failure.
shown=" "
show() {
	local t
	for t in "$@"; do
		[[ $shown == *" $t "* ]] && continue
		grep -q -E "^SNAP-(STEP|OUT|CTL)[ []${t}[] ]" "$nested_log" || continue
		shown="$shown$t "
		echo "# phase $t: steps and the last 12 lines hyve printed (full log: $nested_log):"
		grep -E "^SNAP-(STEP|CTL)[ []${t}[] ]" "$nested_log" | sed 's/^/#   /'
		out "$t" | tail -12 | sed 's/^/#   | /'
	done
}
# first_ok N LO HI: the first tick of a restored phase is LO..HI (one after
# the saved one, or two when the save caught a tick line half printed).
first_ok() {
	[ -n "$1" ] && [ -n "$2" ] && [ -n "$3" ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

# --- the IOAPIC under real KVM ---------------------------------------------
name=nested_ioapic_level_exactly_once
ex=$(step ioapic exit)
if [ "$(val "$ex" status)" = 1 ] && out ioapic | grep -qx 'ioapic: exactly-once ok' &&
	out ioapic | grep -qx 'ioapic: level-once ok'; then
	nested_pass "$name"
else
	nested_fail $name "dev_ioapic under real KVM: status '$(val "$ex" status)', $(out ioapic | grep -m1 -E 'exactly-once|FAIL' || echo 'no exactly-once line')"
	show ioapic
fi

# --- run 1: snapcount, raw TSC --------------------------------------------

name=nested_tsc_continues_across_restore
ck=$(step tsc checkpoint) ex=$(step tsc-r exit) st=$(step tsc-r start)
first=$(ticks tsc-r 'tick ' | head -1)
if [ -z "$ck" ] || [ "$(val "$ck" status)" != 0 ]; then
	nested_fail $name "hyvectl --checkpoint of the running snapcount guest failed: ${ck:-never ran}"
	show tsc
elif [ -z "$ex" ]; then
	nested_fail $name "the restored guest never finished: $(steps tsc-r start timeout)"
	show tsc-r
elif out tsc-r | grep -q 'FAIL'; then
	nested_fail $name "restored guest: $(out tsc-r | grep -m1 FAIL) (hyve status $(val "$ex" status))"
	show tsc-r
elif ! first_ok "$first" $(($(val "$ck" before) + 1)) $(($(val "$ck" after) + 2)); then
	nested_fail $name "restored guest's first tick is '$first', checkpoint was between ticks $(val "$ck" before) and $(val "$ck" after)"
	show tsc tsc-r
elif ! ticks tsc-r 'tick ' | consecutive; then
	nested_fail $name "restored guest skipped or repeated ticks"
	show tsc-r
elif [ "$(val "$ex" status)" != 1 ] || ! out tsc-r | grep -q 'done: 160 ticks, memory verified, TSC clock'; then
	nested_fail $name "restored guest did not end with its 'done' line and status 1 (status $(val "$ex" status))"
	show tsc-r
else
	# The guest's own check only bites if hyve was down longer than 2 s.
	down=$(($(ms "$(val "$st" l1up)") - $(ms "$(val "$ck" l1up)")))
	if [ "$down" -lt 4000 ]; then
		nested_fail $name "hyve was down only $down ms between checkpoint and restore; the TSC check needs > 2 s"
	else
		nested_pass "$name ($(out tsc-r | grep -o 'TSC clock at [0-9]* ms'), ticks $first..160 after $down ms down)"
	fi
fi

# --- run 2: Linux ----------------------------------------------------------

boot_ck=$(step boot checkpoint) kill=$(step boot kill)
b=$(val "$boot_ck" before) a=$(val "$boot_ck" after)
name=linux_checkpoint_while_running
if [ -z "$(ticks boot | head -1)" ]; then
	nested_fail $name "the L2 workload never ticked: $(steps boot stuck gone)"
	show boot
elif [ -z "$boot_ck" ] || [ "$(val "$boot_ck" status)" != 0 ]; then
	nested_fail $name "hyvectl --checkpoint failed: ${boot_ck:-never ran}"
	show boot
elif [ -z "$kill" ] || [ "$(val "$kill" last)" -lt $((a + 3)) ]; then
	nested_fail $name "the guest did not run on after the checkpoint (tick $a then, ${kill:-never killed})"
	show boot
else
	nested_pass "$name (ticks $b..$a, $(val "$boot_ck" bytes) written; ran on to tick $(val "$kill" last))"
fi

r1_first=$(ticks r1 | head -1)
name=linux_restore_counter_continues
if [ -z "$kill" ]; then
	nested_fail $name "no checkpoint to restore"
elif [ -z "$r1_first" ]; then
	nested_fail $name "the restored guest never ticked: $(steps r1 stuck gone exit)"
	show r1
elif ! first_ok "$r1_first" $((b + 1)) $((a + 2)); then
	nested_fail $name "restored guest's first tick is $r1_first, checkpoint was between ticks $b and $a"
	show boot r1
elif ! ticks r1 | consecutive; then
	nested_fail $name "restored guest skipped or repeated ticks: $(ticks r1 | tr '\n' ' ')"
	show r1
else
	nested_pass "$name (checkpoint after tick $b, restored guest ticks $(ticks r1 | head -1)..$(ticks r1 | tail -1))"
fi

name=linux_restore_memory_intact
bad=$(for t in boot r1 r2 r3; do out $t | grep -E 'HYVE-WORKLOAD-FAIL|HYVE-L2-WORKLOAD-FAILED' | sed "s/^/$t: /"; done | head -3)
n_restored=$(for t in r1 r2 r3; do ticks $t; done | wc -l)
if [ -n "$bad" ]; then
	nested_fail $name "$bad"
	show r1 r2 r3
elif [ -z "$r1_first" ]; then
	nested_fail $name "no tick after the restore verified memory"
else
	nested_pass "$name ($n_restored ticks after restores re-verified all 64 MiB)"
fi

# The restored clock starts where it was saved: past the tick before the
# restored first one, and no later than the original run's own tick of that
# number (plus scheduling slack).  A clock that leapt by the time hyve was
# down (>= 6 s here) lands well after the original's.
name=linux_restore_monotonic_clock_continues
slack=1500
if [ -z "$r1_first" ]; then
	nested_fail $name "the restored guest never ticked"
else
	prev=$(tick boot $((r1_first - 1))) same=$(tick boot "$r1_first") now=$(tick r1 "$r1_first")
	down=$(($(ms "$(val "$(step r1 start)" l1up)") - $(ms "$(val "$boot_ck" l1up)")))
	why=
	for k in mono_ms uptime; do
		p=$(val "$prev" $k) s=$(val "$same" $k) n=$(val "$now" $k)
		if [ $k = uptime ]; then p=$(ms "$p") s=$(ms "$s") n=$(ms "$n"); fi
		if [ -z "$p" ] || [ -z "$s" ] || [ -z "$n" ]; then
			why="cannot read $k of ticks $((r1_first - 1))/$r1_first"
		elif [ "$n" -le "$p" ]; then
			why="$k went backwards: $p at tick $((r1_first - 1)) before the checkpoint, $n at tick $r1_first after the restore"
		elif [ "$n" -gt $((s + slack)) ]; then
			why="$k leapt: tick $r1_first at $n after the restore, at $s in the original run ($((n - s)) ms later; hyve was down $down ms)"
		fi
		[ -n "$why" ] && break
	done
	if [ -n "$why" ]; then
		nested_fail $name "$why"
		show boot r1
	elif [ "$down" -le $((slack + 2000)) ]; then
		nested_fail $name "hyve was down only $down ms: too short to tell a restored clock from a leaping one"
	else
		nested_pass "$name (tick $r1_first: mono $(val "$same" mono_ms) ms originally, $(val "$now" mono_ms) ms restored; hyve was down $down ms)"
	fi
fi

# Without --restore-wallclock the realtime clock continues from the saved
# time: no leap (the original run's date for the same tick bounds it),
# date - uptime stays what it was, and it is never in the future.
name=linux_restore_date_continues
if [ -z "$r1_first" ]; then
	nested_fail $name "the restored guest never ticked"
else
	prev=$(tick boot $((r1_first - 1))) same=$(tick boot "$r1_first") now=$(tick r1 "$r1_first")
	pd=$(val "$prev" date) pm=$(val "$prev" mono_ms) sd=$(val "$same" date)
	nd=$(val "$now" date) nm=$(val "$now" mono_ms) nh=$(val "$now" HOST-DATE)
	if [ -z "$pd" ] || [ -z "$pm" ] || [ -z "$sd" ] || [ -z "$nd" ] || [ -z "$nm" ] || [ -z "$nh" ]; then
		nested_fail $name "cannot read date/mono_ms/HOST-DATE of ticks $((r1_first - 1))/$r1_first"
		show boot r1
	else
		off_before=$((pd * 1000 - pm)) off_after=$((nd * 1000 - nm)) d=$(((nd * 1000 - nm) - (pd * 1000 - pm)))
		[ $d -lt 0 ] && d=$((-d))
		why=
		if [ "$nd" -lt "$pd" ]; then
			why="date went backwards: $pd before the checkpoint, $nd after the restore"
		elif [ "$nd" -gt $((sd + 2)) ]; then
			why="date leapt: tick $r1_first at $nd after the restore, at $sd in the original run"
		elif [ $d -gt 2000 ]; then
			why="date no longer keeps step with the monotonic clock: date-mono was $off_before ms, now $off_after ms"
		elif [ "$nd" -gt $((nh + 2)) ]; then
			why="restored guest's date $nd is ahead of the host's $nh"
		fi
		if [ -n "$why" ]; then
			nested_fail $name "$why"
			show boot r1
		else
			nested_pass "$name (date $pd -> $nd across the restore, host $nh: the saved time continues)"
		fi
	fi
fi

name=linux_restore_both_cpus_online
lines=$(for t in r1 r2 r3; do out $t | grep 'HYVE-TICK n=' | sed "s/^/$t: /"; done)
bad=$(printf '%s\n' "$lines" | grep -v -E ' online=0-1 cpus=0,1( |$)' | head -1)
if [ -z "$lines" ]; then
	nested_fail $name "no tick after any restore"
elif [ -n "$bad" ]; then
	nested_fail $name "want online=0-1 cpus=0,1 on every tick after a restore: $bad"
else
	nested_pass "$name ($(printf '%s\n' "$lines" | wc -l) ticks after restores, each run on CPUs 0 and 1)"
fi

# Suspend ends hyve with 0; each restore continues the count from the tick
# the suspend saw, and its clock from where it was (within the save time).
name=linux_suspend_restore_suspend_restore
why=
for pair in r1:r2 r2:r3; do
	from=${pair%:*} to=${pair#*:}
	sus=$(step "$from" suspend) ex=$(step "$from" exit)
	last=$(ticks "$from" | tail -1) nfirst=$(ticks "$to" | head -1)
	if [ -z "$sus" ] || [ "$(val "$sus" status)" != 0 ]; then
		why="hyvectl --suspend in $from failed: ${sus:-never ran}"
	elif [ "$(val "$ex" status)" != 0 ]; then
		why="hyve $from after --suspend: exit status $(val "$ex" status), want 0"
	elif [ -z "$nfirst" ]; then
		why="the guest restored from $from's suspend never ticked: $(steps "$to" stuck gone exit)"
	elif ! first_ok "$nfirst" $((last + 1)) $((last + 2)); then
		why="$to resumed at tick $nfirst, $from was suspended after tick $last"
	elif ! ticks "$to" | consecutive; then
		why="$to skipped or repeated ticks: $(ticks "$to" | tr '\n' ' ')"
	else
		lm=$(val "$(tick "$from" "$last")" mono_ms) nm=$(val "$(tick "$to" "$nfirst")" mono_ms)
		save=$(($(ms "$(val "$sus" l1up)") - $(ms "$(val "$sus" start)")))
		if [ -z "$lm" ] || [ -z "$nm" ] || [ "$nm" -le "$lm" ] || [ "$nm" -gt $((lm + save + 1000 * (nfirst - last) + slack)) ]; then
			why="monotonic clock across $from's suspend: tick $last at ${lm:-?} ms, tick $nfirst at ${nm:-?} ms (save took $save ms)"
		fi
	fi
	if [ -n "$why" ]; then
		show "$from" "$to"
		break
	fi
done
if [ -n "$why" ]; then nested_fail $name "$why"; else nested_pass $name; fi

name=linux_restored_guest_powers_off
ex=$(step r3 exit)
if [ -z "$ex" ]; then
	nested_fail $name "the last restore never ran (an earlier step failed)"
elif ! out r3 | grep -q 'HYVE-WORKLOAD-DONE'; then
	nested_fail $name "the workload did not finish after the last restore (hyve status $(val "$ex" status)) $(steps r3 timeout)"
	show r3
elif [ "$(val "$ex" status)" != 1 ]; then
	nested_fail $name "restored guest's poweroff -f: hyve exit status $(val "$ex" status), want 1"
	show r3
else
	nested_pass $name
fi

exit $nested_failed
