#!/usr/bin/env bash
# The in-kernel PIT's channel 2 as OSes use it to calibrate the TSC: gate
# through port 0x61 bit 0, output visible in port 0x61 bit 5.
. "$(dirname "$0")/lib.sh"
sys_init pit_channel2_calibrates_tsc

hyve_run --debug-exit -l com1,stdio --kernel "$(guest pit)" "$VM"
expect_run pit_channel2_calibrates_tsc 1
sys_done
