#!/usr/bin/env bash
# hyve's internal pause/resume (every vCPU parked outside KVM_RUN, then
# released) run 1000 times while a ring-3 workload runs on every vCPU
# (hyve --selftest-pause=1000).  The guest checks its registers, memory,
# shared atomic counter and TSC lost nothing; hyve checks every vCPU
# parked each time.  The guest stops when a byte arrives on COM1, which is
# sent once hyve reports the cycles done.
. "$(dirname "$0")/lib.sh"
sys_init pause_resume_1000_cycles_2_vcpus pause_resume_1000_cycles_4_vcpus

for n in 2 4; do
	name=pause_resume_1000_cycles_${n}_vcpus
	SYS_TIMEOUT=180 hyve_start --debug-exit -l com1,stdio -c "$n" --selftest-pause=1000 \
		--kernel "$(guest pause)" --cmdline "cpus=$n ms=150000" "$VM"
	if wait_for_line "$HYVE_ERR" 'selftest-pause: [0-9]+ pause/resume cycles' 150; then
		feed_input q
	fi
	hyve_wait
	cycles=$(sed -n 's/.*selftest-pause: \([0-9]*\) pause\/resume cycles.*/\1/p' "$HYVE_ERR" | head -1)
	if [ "$cycles" != 1000 ]; then
		g=$(guest_failure)
		fail "$name" "hyve completed '${cycles:-no}' of 1000 cycles, $(hyve_summary)${g:+; guest: $g}"
		dump_run "$name"
		continue
	fi
	why=$(run_problem 1)
	if [ -n "$why" ]; then
		fail "$name" "$why"
		dump_run "$name"
	elif ! out_grep "^pause: ok, $n cpus, [0-9]+ steps$"; then
		fail "$name" "no 'pause: ok, $n cpus' line from the guest"
		dump_run "$name"
	else
		echo "$name: $(grep -o 'mean .*' "$HYVE_ERR" | head -1)"
		pass "$name"
	fi
done
sys_done
