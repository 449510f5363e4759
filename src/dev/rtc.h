/* What other device models need from the RTC (src/dev/rtc.c). */
#ifndef HYVE_DEV_RTC_H
#define HYVE_DEV_RTC_H

#include <stdbool.h>

struct device;

/* HPET legacy replacement routing (LEG_RT_CNF) takes IRQ 8 away from the
 * RTC: while `on`, the RTC keeps its flags but does not drive the line. */
void rtc_set_hpet_legacy(struct device *dev, bool on);

#endif
