/* The ACPI PM device's fixed-feature events, as the rest of hyve raises
 * them (src/dev/pmtimer.c): the RTC's alarm, the power button, a wake from
 * the host. */
#ifndef HYVE_ACPI_PM_H
#define HYVE_ACPI_PM_H

struct machine;

/* ACPI 6.4, 4.8.3.1: the events that set a PM1 status bit, and S3 wake. */
enum acpi_pm_event {
	ACPI_PM_EVENT_RTC,	    /* the RTC asserted its interrupt: RTC_STS */
	ACPI_PM_EVENT_POWER_BUTTON, /* PWRBTN_STS */
	ACPI_PM_EVENT_WAKE,	    /* the host wakes a sleeping machine */
};

/* Raises `ev` on the machine's PM device: its status bit and the SCI as
 * the enable bits say, and a wake from S3 when it is a wake event (RTC
 * with RTC_EN, the power button always, ACPI_PM_EVENT_WAKE).  Returns 1 if
 * it woke the machine, 0 if not, -ENODEV if there is no PM device. */
int acpi_pm_event(struct machine *m, enum acpi_pm_event ev);

#endif
