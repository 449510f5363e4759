/* ACPI S3, suspend to RAM, as the machine carries it out.
 *
 * The PM device (src/dev/pmtimer.c) owns the registers and decides: a guest
 * write of SLP_TYP=S3 with SLP_EN is a sleep, a wake event (RTC alarm with
 * RTC_EN, the power button, hyvectl --wake) a wake.  It reports each with
 * machine_set_power_state from whatever thread it runs on, holding its own
 * lock; the main thread does the work here, with no device lock held:
 *
 *   sleep: every vCPU parks (a pause the machine holds while asleep).  hyve
 *          stays up; RAM, the RTC and the PM device keep going, so an RTC
 *          alarm can fire; a checkpoint saves a sleeping machine.
 *   wake:  the devices that lose power in S3 are reset (every one but the
 *          RTC and the PM device, type->sleep_powered), the vCPUs are reset
 *          to the FACS waking vector (src/kvm/vcpu_reset.c), and the pause
 *          ends.  Memory is untouched, but for the firmware's own page in
 *          the BIOS area a long-mode wake uses.
 *
 * The requests are counted rather than kept as a state: a guest that
 * sleeps and is woken again before the main thread looks still sleeps and
 * wakes (it is reset to its waking vector), as it would on hardware. */
#include <string.h>

#include "core/internal.h"
#include "hyve/acpi_pm.h"
#include "hyve/machine.h"
#include "hyve/timer.h"
#include "hyve/vcpu.h"

void machine_set_power_state(struct machine *m, unsigned acpi_state)
{
	if (acpi_state == 3)
		atomic_fetch_add(&m->power_sleeps, 1);
	else
		atomic_fetch_add(&m->power_wakes, 1);
	/* timerfd_settime is thread safe; before machine_run there is no
	 * timer yet and machine_power_start looks at the counts itself. */
	if (m->power_timer)
		timer_arm(m->power_timer, 0);
}

bool machine_sleeping(const struct machine *m)
{
	return m->sleeping;
}

/* Firmware's part of a resume, then the vCPUs at the OS's waking vector. */
static int machine_power_wake(struct machine *m, struct hyve_err *err)
{
	struct acpi_wake_vector vec;
	uint64_t cr3 = 0;
	int ret;

	ret = acpi_wake_vector(&m->mem, &vec, err);
	if (ret)
		return ret;
	if (vec.mode == ACPI_WAKE_NONE) {
		/* No vector: firmware boots the machine afresh (ACPI 6.4,
		 * 16.3.3), which for hyve is a reboot. */
		machine_request_exit(m, HYVE_EXIT_REBOOT,
				     "guest woke from S3 without a waking "
				     "vector in the FACS: rebooting");
		return 0;
	}
	if (vec.mode == ACPI_WAKE_LONG64) {
		ret = acpi_wake_tables(&m->mem, &cr3, err);
		if (ret)
			return ret;
	}
	for (struct device *d = m->devices; d; d = d->next)
		if (d->type->reset && !d->type->sleep_powered)
			d->type->reset(d);
	for (unsigned i = 0; i < m->nr_vcpus; i++) {
		ret = vcpu_reset_to_wake(&m->vcpus[i], &vec, cr3, err);
		if (ret)
			return ret;
	}
	return 0;
}

/* Carries out every sleep and wake asked for since the last call. */
static void machine_power_work(struct machine *m)
{
	unsigned sleeps = atomic_load(&m->power_sleeps);
	unsigned wakes = atomic_load(&m->power_wakes);
	struct hyve_err err = {0};

	if (sleeps != m->power_sleeps_done) {
		m->power_sleeps_done = sleeps;
		if (!m->sleeping) {
			if (machine_pause(m, &err)) {
				machine_request_exit(m, HYVE_EXIT_ERROR,
						     "ACPI S3: %s", err.msg);
				return;
			}
			m->sleeping = true;
		}
	}
	if (wakes != m->power_wakes_done) {
		m->power_wakes_done = wakes;
		if (m->sleeping) {
			if (machine_power_wake(m, &err)) {
				machine_request_exit(m, HYVE_EXIT_ERROR,
						     "ACPI S3: %s", err.msg);
				return;
			}
			m->sleeping = false;
			machine_resume(m);
		}
	}
}

static void machine_power_fired(void *opaque)
{
	machine_power_work(opaque);
}

int machine_power_start(struct machine *m, struct hyve_err *err)
{
	m->power_timer = timer_new(m, machine_power_fired, m);
	if (!m->power_timer)
		return err_set(err, ENOMEM, "cannot create the ACPI S3 timer");
	machine_power_work(m);
	return 0;
}

void machine_power_stop(struct machine *m)
{
	timer_free(m->power_timer);
	m->power_timer = NULL;
}

int machine_wake(struct machine *m, struct hyve_err *err)
{
	int ret = acpi_pm_event(m, ACPI_PM_EVENT_WAKE);

	if (ret < 0)
		return err_set(err, -ret, "this machine has no ACPI PM device");
	if (ret == 0)
		return err_set(err, EALREADY, "the guest is not sleeping");
	machine_power_work(m);
	return 0;
}

void machine_power_button(struct machine *m)
{
	acpi_pm_event(m, ACPI_PM_EVENT_POWER_BUTTON);
	machine_power_work(m);
}
