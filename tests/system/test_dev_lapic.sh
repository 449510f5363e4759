#!/usr/bin/env bash
# The in-kernel LAPIC from a guest (tests/guest/dev_lapic.c), timed by the
# TSC at kvmclock's published rate: the timer in one-shot mode (divide 1, 16,
# 128; never early, current count falling, masked LVT silent), periodic mode
# (200 Hz and 50 Hz over 1 s: never faster than programmed, mean interval),
# TSC-deadline mode (fires at or after the deadline, MSR cleared when it
# fires, 0 disarms, a past deadline fires at once), and 200 fixed IPIs each
# way between 2 vCPUs, every one delivered exactly once.
. "$(dirname "$0")/lib.sh"
CASES=(dev_lapic_timer_one_shot dev_lapic_timer_periodic dev_lapic_timer_tsc_deadline dev_lapic_ipi_2cpus)
sys_init "${CASES[@]}"

hyve_run --timeout 60 --debug-exit -c 2 -l com1,stdio --kernel "$(guest dev_lapic)" \
	--cmdline "cpus=2" vm-dev-lapic$$
problem=$(run_problem 1 "lapic: done (tsc-deadline tested, ipi tested)")
for c in "${CASES[@]}"; do
	case $c in
	dev_lapic_timer_one_shot) line="lapic: one-shot ok" ;;
	dev_lapic_timer_periodic) line="lapic: periodic ok" ;;
	dev_lapic_timer_tsc_deadline) line="lapic: tsc-deadline ok" ;;
	dev_lapic_ipi_2cpus) line="lapic: ipi ok" ;;
	esac
	if [ "$c" = dev_lapic_timer_tsc_deadline ] && out_grep '^lapic: tsc-deadline unsupported'; then
		echo "SKIP: $c: this host's vCPU has no TSC-deadline timer (CPUID.1:ECX[24])"
		echo "$c" >>"$SYS_TMP/reported"
	elif out_has_line "$line" && [ -z "$problem" ]; then
		pass "$c"
	elif out_has_line "$line"; then
		pass "$c" # this case passed; a later one failed the run
	else
		fail "$c" "${problem:-output lacks the line '$line'}"
		dump_run "$c"
	fi
done
sys_done
