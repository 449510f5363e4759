/* The machine side of dev_host.h: thin forwards to machine.c, timer.c, the
 * event loop, the KVM PIT and power.c. */
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "dev/dev_host.h"
#include "hyve/machine.h"

static void dev_host_request_exit(struct machine *m, int status,
				  const char *reason)
{
	machine_request_exit(m, status, "%s", reason);
}

static int dev_host_pit_set_hpet_legacy(struct machine *m, bool on)
{
	struct kvm_pit_state2 pit;

	/* KVM_GET_PIT2/KVM_SET_PIT2 round trip changing only the flag.  KVM
	 * parks channel 0 while the flag is set and restores its mode when
	 * it is cleared; the set reloads every channel's count, so it is
	 * skipped when the flag is already as asked. */
	memset(&pit, 0, sizeof(pit));
	if (ioctl(m->vm_fd, KVM_GET_PIT2, &pit) < 0)
		return -errno;
	if (!(pit.flags & KVM_PIT_FLAGS_HPET_LEGACY) == !on)
		return 0;
	if (on)
		pit.flags |= KVM_PIT_FLAGS_HPET_LEGACY;
	else
		pit.flags &= ~KVM_PIT_FLAGS_HPET_LEGACY;
	if (ioctl(m->vm_fd, KVM_SET_PIT2, &pit) < 0)
		return -errno;
	if (on) {
		/* Legacy replacement disconnects the PIT from IRQ 0, but KVM
		 * keeps re-injecting the ticks it queued while the guest did
		 * not take them (reinject mode, KVM's default): on a slow or
		 * busy host the guest would see "PIT" interrupts after the
		 * switch.  Turning reinject off and on empties that queue
		 * (kvm_pit_set_reinject resets the pending count). */
		struct kvm_reinject_control rc = {.pit_reinject = 0};

		if (ioctl(m->vm_fd, KVM_REINJECT_CONTROL, &rc) < 0)
			return -errno;
		rc.pit_reinject = 1;
		if (ioctl(m->vm_fd, KVM_REINJECT_CONTROL, &rc) < 0)
			return -errno;
	}
	return 0;
}

static int dev_host_watch_fd(struct machine *m, int fd, evloop_fn fn,
			     void *opaque, struct hyve_err *err)
{
	return evloop_add_fd(m->loop, fd, fn, opaque, err);
}

static void dev_host_unwatch_fd(struct machine *m, int fd)
{
	evloop_del_fd(m->loop, fd);
}

const struct dev_host_ops dev_host_machine = {
    .clock_ns = vm_clock_ns,
    .irq_set = machine_irq_set,
    .timer_new = timer_new,
    .timer_arm = timer_arm,
    .timer_disarm = timer_disarm,
    .timer_free = timer_free,
    .request_exit = dev_host_request_exit,
    .pit_set_hpet_legacy = dev_host_pit_set_hpet_legacy,
    .watch_fd = dev_host_watch_fd,
    .unwatch_fd = dev_host_unwatch_fd,
    .power_state = machine_set_power_state,
};

const struct dev_host_ops *dev_host = &dev_host_machine;
