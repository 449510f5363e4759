#!/usr/bin/env bash
# ACPI S3 with Debian's kernel under hyve on real (nested) KVM.  One L1
# boot, two runs of l1-snapshot.sh inside it (see that file):
#   s3rtc:  L2 (-c 2) runs l2-workload, then `rtcwake -m mem -s 3`
#           (util-linux's; Debian's busybox-static has no rtcwake applet):
#           Linux takes CPU 1 down, writes SLP_TYP=S3|SLP_EN, and resumes
#           through its real-mode wakeup trampoline when the RTC alarm
#           wakes the machine; rtcwake returns 0 and the workload (memory
#           re-verified every tick on both CPUs) runs on to its end.
#   s3host: L2 suspends with no alarm; hyve is checkpointed asleep and
#           killed; the restored hyve keeps it asleep until hyvectl --wake,
#           and the workload finishes.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

names=(linux_s3_rtcwake_returns linux_s3_hyve_says_sleeping linux_s3_wake_not_before_the_alarm
	linux_s3_workload_continues_after_resume linux_s3_checkpoint_while_asleep_restores_asleep
	linux_s3_restored_guest_resumes_on_hyvectl_wake)
fail_all() { for n in "${names[@]}"; do nested_fail "$n" "$1"; done; exit 1; }

if [ "${HYVE_NESTED_VMM:-hyve}" != hyve ]; then
	for n in "${names[@]}"; do echo "SKIP: $n: drives hyve and hyvectl (HYVE_NESTED_VMM=$HYVE_NESTED_VMM)"; done
	exit 0
fi
nested_prepare "${names[@]}" || exit $nested_failed
[ -x "$nested_top/build/bin/hyvectl" ] || fail_all "build/bin/hyvectl is not built"
rtcwake=$(command -v rtcwake || echo /usr/sbin/rtcwake)
[ -x "$rtcwake" ] || fail_all "util-linux's rtcwake is not installed"
libs=()
for l in $(ldd "$rtcwake" | grep -o '/[^ ]*'); do libs+=(--l2-file "$l:$l"); done
dir=$nested_top/build/nested/linux_s3
mkdir -p "$dir"
gcc -std=c11 -D_GNU_SOURCE -O2 -static -s -Wall -Wextra -Werror -o "$dir/l2-workload" \
	"$nested_dir/l2-workload.c" >"$dir/gcc.log" 2>&1 ||
	fail_all "building l2-workload.c with gcc -static failed: $(head -3 "$dir/gcc.log")"

t0=$(date +%s)
nested_rig linux_s3 --l2-file "$dir/l2-workload:/bin/l2-workload" --l2-file "$rtcwake:/bin/rtcwake" "${libs[@]}" \
	--l1-file "$nested_dir/l1-snapshot.sh:/rig/l1-snapshot.sh" \
	--l1-cmd 'sh /rig/l1-snapshot.sh s3rtc' --l1-cmd 'sh /rig/l1-snapshot.sh s3host' \
	--run-timeout 300 --timeout 420
echo "# rig wall time: $(($(date +%s) - t0)) s"
nested_rig_ok || fail_all "nested rig failed before hyve ran (see above)"
grep -E '^SNAP-(STEP|CTL)' "$nested_log" | sed 's/^/# /'

out() { sed -n "s/^SNAP-OUT\[$1\] //p" "$nested_log"; }
step() { grep "^SNAP-STEP $1 $2\( \|$\)" "$nested_log" | tail -1; }
val() { printf '%s\n' "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p" | head -1; }
ticks() { out "$1" | sed -n 's/.*HYVE-TICK n=\([0-9]*\) .*/\1/p'; }
show() {
	echo "# phase $1: the last 15 lines hyve printed (full log: $nested_log):"
	out "$1" | tail -15 | sed 's/^/#   | /'
}

# --- s3rtc -----------------------------------------------------------------
sus=$(out s3rtc | grep -m1 'HYVE-L2-SUSPEND ')
res=$(out s3rtc | grep -m1 'HYVE-L2-RESUMED ')
ex=$(step s3rtc exit)

name=linux_s3_rtcwake_returns
if [ -z "$sus" ]; then
	nested_fail $name "L2 never got to suspend: $(step s3rtc stuck; step s3rtc gone)"
	show s3rtc
elif ! echo "$sus" | grep -q 'states=[^ ]*mem'; then
	nested_fail $name "L2 does not offer suspend to RAM: $sus"
elif [ "$(val "$res" rc)" != 0 ]; then
	nested_fail $name "rtcwake did not return 0: ${res:-no HYVE-L2-RESUMED line}; $(out s3rtc | grep -m3 RTCWAKE-OUT | tr '\n' ' ')"
	show s3rtc
else
	nested_pass $name
fi

name=linux_s3_hyve_says_sleeping
if [ "$(val "$(step s3rtc during-sleep)" state)" = sleeping ]; then
	nested_pass $name
else
	nested_fail $name "hyvectl --status never said 'sleeping' while L2 slept: $(step s3rtc during-sleep)"
fi

name=linux_s3_wake_not_before_the_alarm
d0=$(val "$sus" date) d1=$(val "$res" date)
if [ -n "$d0" ] && [ -n "$d1" ] && [ $((d1 - d0)) -ge 3 ]; then
	nested_pass $name
else
	nested_fail $name "the guest's date moved '${d0:-?}' -> '${d1:-?}' across rtcwake -s 3: woke early or not at all"
fi

# The ticks before and after the sleep, 1..12 without a gap or a repeat,
# both CPUs verified on the last, and L2's poweroff (hyve status 1).
workload_ok() {
	local t last
	t=$(ticks "$1" | tr '\n' ' ')
	last=$(out "$1" | grep 'HYVE-TICK n=12 ')
	if out "$1" | grep -q 'HYVE-WORKLOAD-FAIL'; then
		echo "$(out "$1" | grep -m1 HYVE-WORKLOAD-FAIL)"
	elif [ "$t" != "$2" ]; then
		echo "ticks '$t', expected '$2'"
	elif [ "$(val "$last" cpus)" != 0,1 ] || [ "$(val "$last" online)" != 0-1 ]; then
		echo "last tick not on both CPUs: $last"
	elif [ "$(val "$(step "$1" exit)" status)" != 1 ]; then
		echo "hyve status '$(val "$(step "$1" exit)" status)', expected 1 (L2 poweroff)"
	fi
}

name=linux_s3_workload_continues_after_resume
why=$(workload_ok s3rtc "1 2 3 4 5 6 7 8 9 10 11 12 ")
if [ -z "$res" ]; then
	nested_fail $name "L2 never resumed"
elif [ -n "$why" ]; then
	nested_fail $name "$why"
	show s3rtc
elif [ -z "$(out s3rtc | sed -n '/HYVE-L2-RESUMED/,$p' | grep 'HYVE-TICK')" ]; then
	nested_fail $name "no tick after the resume"
else
	nested_pass $name
fi

# --- s3host ----------------------------------------------------------------
name=linux_s3_checkpoint_while_asleep_restores_asleep
ck=$(step s3host checkpoint) still=$(step s3r still)
if [ -z "$ck" ] || [ "$(val "$ck" status)" != 0 ]; then
	nested_fail $name "checkpoint of the sleeping L2: ${ck:-never ran} $(step s3host stuck)"
	show s3host
elif ! grep -q '^SNAP-CTL\[s3host\] .*the guest sleeps on' "$nested_log"; then
	nested_fail $name "hyvectl did not report the guest asleep: $(grep -m1 '^SNAP-CTL\[s3host\]' "$nested_log")"
elif [ -z "$(step s3r state=sleeping)" ] && ! grep -q '^SNAP-STEP s3r state=sleeping' "$nested_log"; then
	nested_fail $name "the restored hyve never said 'sleeping': $(step s3r stuck)"
	show s3r
elif [ "$(val "$still" state)" != sleeping ] || [ "$(val "$still" bytes)" != 0 ]; then
	nested_fail $name "the restored guest did not stay asleep: $still"
	show s3r
else
	nested_pass $name
fi

name=linux_s3_restored_guest_resumes_on_hyvectl_wake
wk=$(step s3r wake)
why=$(workload_ok s3r "$(seq -s ' ' "$(($(ticks s3host | tail -1) + 1))" 12) ")
if [ "$(val "$wk" status)" != 0 ]; then
	nested_fail $name "hyvectl --wake: ${wk:-never ran}; $(grep -m1 '^SNAP-CTL\[s3r\]' "$nested_log")"
elif [ "$(val "$(out s3r | grep -m1 'HYVE-L2-RESUMED ')" rc)" != 0 ]; then
	nested_fail $name "L2 did not resume (no HYVE-L2-RESUMED rc=0)"
	show s3r
elif [ -n "$why" ]; then
	nested_fail $name "$why"
	show s3r
else
	nested_pass $name
fi
exit $nested_failed
