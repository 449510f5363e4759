#!/usr/bin/env bash
# The ACPI PM timer from a guest (tests/guest/dev_pmtimer.c): 3.579545 MHz
# against the TSC, reads at every width, the PM1 registers, and \_S5
# (SLP_TYP 5 + SLP_EN in PM1a_CNT) powering the machine off: exit status 1
# with no guest exit of its own (the guest fails with status 65 if it is
# still running 500 ms later).
. "$(dirname "$0")/lib.sh"
sys_init dev_pmtimer_rate_registers_s5_poweroff

hyve_run --timeout 120 --debug-exit -l com1,stdio --kernel "$(guest dev_pmtimer)" vm-dev-pm$$
expect_run dev_pmtimer_rate_registers_s5_poweroff 1 "pmtimer: rate ok" "pmtimer: registers ok" \
	"pmtimer: entering S5"
