/* The vCPU thread: KVM_RUN and the exits that come back to hyve.
 *
 * Kicking a vCPU out of KVM_RUN (pause, exit, halt probe) uses SIGUSR1 and
 * kvm_run->immediate_exit: the signal handler sets immediate_exit, so a
 * signal that lands between our flag check and the ioctl still makes
 * KVM_RUN return at once (KVM API doc, "immediate_exit"). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/internal.h"
#include "hyve/machine.h"
#include "hyve/vcpu.h"

static __thread struct kvm_run *vcpu_tls_run;

static void vcpu_kick_handler(int sig)
{
	(void)sig;
	if (vcpu_tls_run)
		vcpu_tls_run->immediate_exit = 1;
}

void vcpu_loop_init_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vcpu_kick_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART: KVM_RUN returns EINTR */
}

void vcpu_kick(struct vcpu *v)
{
	if (v->thread_started)
		pthread_kill(v->thread, SIGUSR1);
}

static void vcpu_internal_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint64_t rip = 0;
	unsigned cpl = 0;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
		rip = regs.rip;
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) == 0)
		cpl = sregs.cs.selector & 3;
	machine_request_exit(v->machine, HYVE_EXIT_ERROR,
			     "vcpu %u: KVM internal error (suberror %u%s) at RIP 0x%" PRIx64 ", CPL %u",
			     v->index, run->internal.suberror,
			     run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? ": emulation failure" : "",
			     rip, cpl);
}

/* Decides whether this vCPU can ever run again without help from another
 * vCPU: halted with interrupts off, or an AP never started. */
static void vcpu_probe_halt(struct vcpu *v)
{
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	int dead = 0;

	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) == 0) {
		if (mp.mp_state == KVM_MP_STATE_HALTED)
			dead = ioctl(v->fd, KVM_GET_REGS, &regs) == 0 && !(regs.rflags & (1u << 9));
		else if (mp.mp_state == KVM_MP_STATE_UNINITIALIZED ||
			 mp.mp_state == KVM_MP_STATE_INIT_RECEIVED)
			dead = 1;
	}
	atomic_store(&v->probe_dead, dead);
	atomic_store(&v->probe_requested, 0);
}

static void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < run->io.count; i++) {
		bus_access(&v->machine->pio, run->io.port, data, run->io.size, is_write);
		data += run->io.size;
	}
}

static void vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct machine *m = v->machine;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(v);
		v->io_pending = true;
		break;
	case KVM_EXIT_MMIO:
		bus_access(&m->mmio, run->mmio.phys_addr, run->mmio.data,
			   run->mmio.len > 8 ? 8 : run->mmio.len, run->mmio.is_write);
		v->io_pending = true;
		break;
	case KVM_EXIT_INTR:
		break;
	case KVM_EXIT_HLT:
		/* Only reached without an in-kernel LAPIC; treat as halted. */
		machine_request_exit(m, HYVE_EXIT_HALT, "vcpu %u halted", v->index);
		break;
	case KVM_EXIT_SHUTDOWN:
		machine_request_exit(m, HYVE_EXIT_TRIPLEFAULT, "vcpu %u: triple fault", v->index);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			machine_request_exit(m, HYVE_EXIT_POWEROFF, "guest powered off");
			break;
		case KVM_SYSTEM_EVENT_RESET:
			machine_request_exit(m, HYVE_EXIT_REBOOT, "guest reset");
			break;
		default:
			machine_request_exit(m, HYVE_EXIT_ERROR, "vcpu %u: system event %u",
					     v->index, run->system_event.type);
		}
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		vcpu_internal_error(v);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		machine_request_exit(m, HYVE_EXIT_ERROR, "vcpu %u: VM entry failed (reason 0x%llx)", v->index,
				     (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	default:
		machine_request_exit(m, HYVE_EXIT_ERROR, "vcpu %u: unexpected KVM exit reason %u",
				     v->index, run->exit_reason);
	}
}

void *vcpu_thread_main(void *arg)
{
	struct vcpu *v = arg;
	struct machine *m = v->machine;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);
	vcpu_tls_run = v->run;
	while (!atomic_load(&m->exit_requested)) {
		v->run->immediate_exit = 0;
		atomic_thread_fence(memory_order_seq_cst);
		if (atomic_load(&v->probe_requested))
			vcpu_probe_halt(v);
		if (v->io_pending && atomic_load(&m->pause_requested)) {
			/* An I/O exit is complete (guest registers hold the
			 * result) only after KVM_RUN is entered again: do so
			 * with immediate_exit set, so that a paused vCPU's
			 * saved state is consistent (KVM API doc, KVM_RUN). */
			v->run->immediate_exit = 1;
			ioctl(v->fd, KVM_RUN, 0);
			v->run->immediate_exit = 0;
			v->io_pending = false;
		}
		if (machine_pause_point(m))
			continue;
		if (atomic_load(&m->exit_requested))
			break;
		v->io_pending = false;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			machine_request_exit(m, HYVE_EXIT_ERROR, "vcpu %u: KVM_RUN: %s", v->index, strerror(errno));
			break;
		}
		atomic_fetch_add(&v->nr_exits, 1);
		vcpu_handle_exit(v);
	}
	machine_vcpu_exiting(m);
	vcpu_tls_run = NULL;
	return NULL;
}
