/* What other device models need from the RTC (src/dev/rtc.c). */
#ifndef HYVE_DEV_RTC_H
#define HYVE_DEV_RTC_H

#include <stdbool.h>
#include <stdint.h>

struct device;

/* HPET legacy replacement routing (LEG_RT_CNF) takes IRQ 8 away from the
 * RTC: while `on`, the RTC keeps its flags but does not drive the line. */
void rtc_set_hpet_legacy(struct device *dev, bool on);

/* Moves the clock forward by `seconds` (hyve -r --restore-wallclock: the
 * real time that passed since the snapshot was taken).  A stopped clock
 * (SET, divider off) moves its held time. */
void rtc_advance_seconds(struct device *dev, int64_t seconds);

#endif
