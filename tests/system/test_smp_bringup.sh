#!/usr/bin/env bash
# SMP bring-up: the guest sends INIT-SIPI-SIPI and every AP enters long
# mode on its own stack.  With -c N exactly N CPUs report, each with a
# distinct APIC ID that matches the initial APIC ID its CPUID reports.
. "$(dirname "$0")/lib.sh"
sys_init smp_bringup_1_vcpu smp_bringup_2_vcpus smp_bringup_4_vcpus smp_bringup_64_vcpus \
	smp_fewer_vcpus_than_expected

g=$(guest smp)
for n in 1 2 4 64; do
	name=smp_bringup_${n}_vcpu$([ "$n" -gt 1 ] && echo s)
	# The bounds on waiting for APs and their reports (every report is
	# ~25 serial exits) grow with SYS_SCALE; the count checked does not.
	hyve_run --debug-exit -l com1,stdio -c "$n" --kernel "$g" \
		--cmdline "cpus=$n wait_ms=$(scaled 5000) report_ms=$(scaled 2000)" "$VM"
	why=$(run_problem 1 "smp: $n of $n cpus online")
	if [ -n "$why" ]; then
		fail "$name" "$why"
		dump_run "$name"
		continue
	fi
	# one report per CPU index, APIC IDs distinct
	ids=$(tr -d '\r' <"$HYVE_OUT" | sed -n 's/^smp: cpu \([0-9]*\) apic_id \([0-9]*\)$/\1 \2/p' | sort -n)
	idx=$(echo "$ids" | awk '{print $1}' | tr '\n' ' ')
	want=$(seq 0 $((n - 1)) | tr '\n' ' ')
	if [ "$idx" != "$want" ]; then
		fail "$name" "CPU indexes reported: '$idx', expected '$want'"
	elif [ "$(echo "$ids" | awk '{print $2}' | sort -u | wc -l)" != "$n" ]; then
		fail "$name" "APIC IDs not distinct: $(echo "$ids" | tr '\n' ';')"
	else
		pass "$name"
	fi
done

# the guest expects 4 CPUs but the VM has 2: it must notice and fail
hyve_run --debug-exit -l com1,stdio -c 2 --kernel "$g" --cmdline "cpus=4 wait_ms=300" "$VM"
if [ "$HYVE_STATUS" = 65 ] && grep -q 'expected 4 CPUs, 2 came up' "$HYVE_OUT"; then
	pass smp_fewer_vcpus_than_expected
else
	fail smp_fewer_vcpus_than_expected "expected the guest to report 2 of 4 CPUs (status 65), got $(hyve_summary)"
	dump_run smp_fewer_vcpus_than_expected
fi
sys_done
