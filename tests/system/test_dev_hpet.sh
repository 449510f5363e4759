#!/usr/bin/env bash
# The HPET from a guest (tests/guest/dev_hpet.c): capabilities, a 100 MHz
# main counter against the TSC, one-shot and periodic interrupts on each of
# the three timers through IOAPIC pins 20-22, a level-triggered timer, the
# 32-bit wrap interrupt, and legacy replacement (timer 0 on IRQ 0 while the
# in-kernel PIT is silenced, timer 1 on IRQ 8, the PIT back afterwards).
. "$(dirname "$0")/lib.sh"
sys_init dev_hpet_timers_and_legacy_routing

hyve_run --timeout 120 --debug-exit -l com1,stdio --kernel "$(guest dev_hpet)" vm-dev-hpet$$
expect_run dev_hpet_timers_and_legacy_routing 1 "hpet: caps and rate ok" \
	"hpet: 32-bit mode ok" "hpet: legacy replacement ok"
