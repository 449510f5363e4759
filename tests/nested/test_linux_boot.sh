#!/usr/bin/env bash
# Debian's stock kernel boots under hyve (inside the nested rig) with 1 and
# 2 vCPUs, sees every vCPU online and the ACPI tables hyve builds, reads a
# date within 5 s of the host's from hyve's RTC, and its poweroff / reboot
# end hyve with status 1 / 0.  One L1 boot, two hyve runs:
#   run 1: hyve -c 1, guest does poweroff -f
#   run 2: hyve -c 2, guest does reboot -f
set -uo pipefail
. "$(dirname "$0")/lib.sh"

names=(linux_boot_1_vcpu linux_boot_2_vcpus linux_poweroff_exits_1 linux_reboot_exits_0
	linux_date_matches_host linux_sees_acpi_tables)
nested_prepare "${names[@]}" || exit $nested_failed

t0=$(date +%s)
nested_rig linux_boot --run 1:poweroff --run 2:reboot --run-timeout 100 --timeout 260
echo "# rig wall time: $(($(date +%s) - t0)) s"
if ! nested_rig_ok; then
	for n in "${names[@]}"; do nested_fail "$n" "nested rig failed before hyve ran (see above)"; done
	exit 1
fi

seg1=$(nested_segment 1)
seg2=$(nested_segment 2)
shown=()

# check_boot NAME RUN SEGMENT CPUS ONLINE
check_boot() {
	local name=$1 run=$2 seg=$3 cpus=$4 online=$5 n o
	if ! printf '%s\n' "$seg" | grep -q 'HYVE-L2-UP'; then
		nested_fail "$name" "L2 never reached its /init (no HYVE-L2-UP); hyve exit=$(nested_exit "$run")"
		return 1
	fi
	n=$(nested_value "$seg" NPROC)
	o=$(nested_value "$seg" CPUS-ONLINE)
	if [ "$n" != "$cpus" ] || [ "$o" != "$online" ]; then
		nested_fail "$name" "hyve -c $cpus: guest nproc=$n online=$o (want $cpus, $online)"
		return 1
	fi
	nested_pass "$name"
}

check_boot linux_boot_1_vcpu 1 "$seg1" 1 0 || shown+=(1)
check_boot linux_boot_2_vcpus 2 "$seg2" 2 0-1 || shown+=(2)

# check_exit NAME RUN SEGMENT ACTION WANT
check_exit() {
	local name=$1 run=$2 seg=$3 action=$4 want=$5 got
	got=$(nested_exit "$run")
	if ! printf '%s\n' "$seg" | grep -q "HYVE-L2-ACTION=$action"; then
		nested_fail "$name" "the guest never got to '$action -f' (hyve exit=$got)"
	elif [ "$got" != "$want" ]; then
		nested_fail "$name" "guest '$action -f': hyve exit status $got, want $want"
	else
		nested_pass "$name"
		return 0
	fi
	return 1
}
check_exit linux_poweroff_exits_1 1 "$seg1" poweroff 1 || shown+=(1)
check_exit linux_reboot_exits_0 2 "$seg2" reboot 0 || shown+=(2)

# The guest's clock comes from hyve's CMOS RTC at boot; the rig stamps the
# line with the host's time when it arrives.
date_ok=1 date_why= checked=0
for seg in "$seg1" "$seg2"; do
	line=$(printf '%s\n' "$seg" | grep -m1 'HYVE-L2-DATE=')
	[ -n "$line" ] || continue
	g=$(printf '%s\n' "$line" | sed -n 's/.*HYVE-L2-DATE=\([0-9]*\).*/\1/p')
	h=$(printf '%s\n' "$line" | sed -n 's/.*HOST-DATE=\([0-9]*\).*/\1/p')
	if [ -z "$g" ] || [ -z "$h" ]; then
		date_ok=0 date_why="unreadable date line: $line"
		continue
	fi
	checked=$((checked + 1))
	d=$((g - h)); [ $d -lt 0 ] && d=$((-d))
	[ $d -le 5 ] || { date_ok=0; date_why="guest date $g, host $h: off by $d s (max 5)"; }
done
if [ $checked -eq 0 ] && [ $date_ok = 1 ]; then
	nested_fail linux_date_matches_host "no guest printed its date"
elif [ $date_ok = 1 ]; then
	nested_pass linux_date_matches_host
else
	nested_fail linux_date_matches_host "$date_why"
fi

# What hyve's ACPI tables gave the guest: MADT (APIC), FADT (FACP), DSDT.
tables=$(printf '%s\n' "$seg1" | sed -n 's/.*HYVE-L2-ACPI=//p' | head -1)
missing=
for t in APIC FACP DSDT; do
	printf '%s\n' "$tables" | grep -qw "$t" || missing="$missing $t"
done
if ! printf '%s\n' "$seg1" | grep -q 'HYVE-L2-ACPI='; then
	nested_fail linux_sees_acpi_tables "the guest never listed its ACPI tables"
elif [ -n "$missing" ]; then
	nested_fail linux_sees_acpi_tables "guest's /sys/firmware/acpi/tables lacks$missing (has: $tables)"
else
	nested_pass linux_sees_acpi_tables
fi

for r in $(printf '%s\n' "${shown[@]}" | sort -u); do nested_show "$r"; done
exit $nested_failed
