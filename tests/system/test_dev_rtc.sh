#!/usr/bin/env bash
# The MC146818A RTC from a guest (tests/guest/dev_rtc.c): BCD and binary
# time, a set time that persists, UIP before each update, update-ended and
# alarm interrupts, and every periodic rate on IRQ 8 through the IOAPIC,
# measured against the TSC (kvmclock's rate).
. "$(dirname "$0")/lib.sh"
sys_init dev_rtc_time_uip_alarm_rates

hyve_run --timeout 120 --debug-exit -l com1,stdio --kernel "$(guest dev_rtc)" vm-dev-rtc$$
expect_run dev_rtc_time_uip_alarm_rates 1 "rtc: bcd binary set-time ok" "rtc: uip ok" \
	"rtc: periodic rates ok"
