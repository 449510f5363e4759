#!/usr/bin/env bash
# Each way a guest can end maps to bhyve's exit statuses: debug-exit V gives
# (V << 1) | 1, a triple fault 3, reset through 0xCF9 or the 8042 pulse 0,
# every vCPU halted with interrupts off 2.  Also the guest library's own
# fatal-exception path (status 67, an EXCEPTION line naming #UD), and its
# #DF handler on its own IST stack when the kernel stack is unusable.
. "$(dirname "$0")/lib.sh"
sys_init exit_debug_exit_0 exit_debug_exit_5 exit_debug_exit_127 exit_triple_fault exit_reset_cf9 \
	exit_reset_8042_pulse exit_halt_1_vcpu exit_halt_all_of_2_vcpus exit_halt_needs_every_vcpu \
	exit_guest_exception_reported exit_guest_double_fault_on_ist

g=$(guest exits)
run() { hyve_run --debug-exit -l com1,stdio --kernel "$g" "$@" "$VM"; }

run --cmdline "action=debugexit value=0"
expect_run exit_debug_exit_0 1 "exits: debugexit"
run --cmdline "action=debugexit value=5"
expect_run exit_debug_exit_5 11
run --cmdline "action=debugexit value=0x7f"
expect_run exit_debug_exit_127 255
run --cmdline "action=triple"
expect_run exit_triple_fault 3 "exits: triple"
run --cmdline "action=cf9"
expect_run exit_reset_cf9 0 "exits: cf9"
run --cmdline "action=kbd"
expect_run exit_reset_8042_pulse 0 "exits: kbd"
run --cmdline "action=halt"
expect_run exit_halt_1_vcpu 2 "exits: halt"
run -c 2 --cmdline "action=halt cpus=2"
expect_run exit_halt_all_of_2_vcpus 2 "exits: halt"

# One vCPU halts with interrupts off while the other keeps running (it
# waits for the debug-exit below): hyve must not call that a halt.
run -c 2 --cmdline "action=halt_one cpus=2"
expect_run exit_halt_needs_every_vcpu 1 "exits: halt_one"

run --cmdline "action=fault"
if [ "$HYVE_STATUS" = 67 ] && grep -q 'EXCEPTION: .*vector 6 (#UD)' "$HYVE_OUT"; then
	pass exit_guest_exception_reported
else
	fail exit_guest_exception_reported "expected status 67 and an 'EXCEPTION: ... (#UD)' line, got $(hyve_summary)"
	dump_run exit_guest_exception_reported
fi

run --cmdline "action=double"
if [ "$HYVE_STATUS" = 67 ] && grep -q 'EXCEPTION: .*vector 8 (#DF)' "$HYVE_OUT"; then
	pass exit_guest_double_fault_on_ist
else
	fail exit_guest_double_fault_on_ist "expected status 67 and an 'EXCEPTION: ... (#DF)' line, got $(hyve_summary)"
	dump_run exit_guest_double_fault_on_ist
fi
sys_done
