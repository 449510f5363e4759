/* What the rest of hyve may ask of the ACPI PM device (src/dev/pmtimer.c). */
#ifndef HYVE_DEV_PMTIMER_H
#define HYVE_DEV_PMTIMER_H

struct device;

/* Presses the ACPI power button: PWRBTN_STS, and an SCI if the guest
 * enabled PWRBTN_EN (an ACPI guest then shuts down cleanly). */
void pmtimer_power_button(struct device *dev);

#endif
