/* What the rest of hyve may ask of the ACPI PM device (src/dev/pmtimer.c),
 * besides acpi_pm_event (hyve/acpi_pm.h). */
#ifndef HYVE_DEV_PMTIMER_H
#define HYVE_DEV_PMTIMER_H

#include <stdbool.h>

#include "hyve/acpi_pm.h"

struct device;

/* acpi_pm_event on this device: true if it woke the machine. */
bool pmtimer_event(struct device *dev, enum acpi_pm_event ev);

/* Presses the ACPI power button: PWRBTN_STS, and an SCI if the guest
 * enabled PWRBTN_EN (an ACPI guest then shuts down cleanly); wakes a
 * sleeping machine. */
void pmtimer_power_button(struct device *dev);

/* True while the machine is in S3 (the guest wrote SLP_TYP=S3, SLP_EN). */
bool pmtimer_sleeping(struct device *dev);

#endif
