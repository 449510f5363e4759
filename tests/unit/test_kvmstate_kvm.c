/* KVM-held state on this machine's /dev/kvm: set state in VM A, save it by
 * name, load it into a fresh VM B (the restore case), save B again: the
 * named state must be identical (up to the clocks, which move on).
 * The VMs are built here with raw ioctls (in-kernel irqchip, PIT, 2 vCPUs)
 * so the test does not depend on the machine code. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "dev/ioapic.h"
#include "dev/kvmclock.h"
#include "dev/lapic.h"
#include "dev/pic.h"
#include "dev/pit.h"
#include "hyve/vcpu_state.h"
#include "test_kvmstate.h"

#define NR_VCPUS 2
#define MSR_TSC 0x10u
#define MSR_TSC_DEADLINE 0x6e0u

struct test_vm {
	int kvm, vm;
	int vcpu[NR_VCPUS];
};

static char kvm_unusable[256];

static void vm_destroy(struct test_vm *v)
{
	for (int i = 0; i < NR_VCPUS; i++)
		if (v->vcpu[i] >= 0)
			close(v->vcpu[i]);
	if (v->vm >= 0)
		close(v->vm);
	if (v->kvm >= 0)
		close(v->kvm);
}

/* set_cpuid: give each vCPU the host's supported CPUID (as hyve does at
 * creation); VM B leaves it to vcpu_state_load. */
static int vm_create(struct test_vm *v, bool set_cpuid)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	v->vm = -1;
	for (int i = 0; i < NR_VCPUS; i++)
		v->vcpu[i] = -1;
	v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->kvm < 0) {
		snprintf(kvm_unusable, sizeof(kvm_unusable), "/dev/kvm cannot be opened: %s",
			 strerror(errno));
		return -1;
	}
	v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
	if (v->vm < 0 || ioctl(v->vm, KVM_CREATE_IRQCHIP, 0) < 0 ||
	    ioctl(v->vm, KVM_CREATE_PIT2, &pit) < 0) {
		snprintf(kvm_unusable, sizeof(kvm_unusable),
			 "/dev/kvm: creating a VM with irqchip and PIT failed: %s", strerror(errno));
		vm_destroy(v);
		return -1;
	}
	for (int i = 0; i < NR_VCPUS; i++) {
		v->vcpu[i] = ioctl(v->vm, KVM_CREATE_VCPU, i);
		if (v->vcpu[i] < 0) {
			snprintf(kvm_unusable, sizeof(kvm_unusable), "/dev/kvm: KVM_CREATE_VCPU: %s",
				 strerror(errno));
			vm_destroy(v);
			return -1;
		}
	}
	if (set_cpuid) {
		struct {
			struct kvm_cpuid2 c;
			struct kvm_cpuid_entry2 e[256];
		} cpuid;

		memset(&cpuid, 0, sizeof(cpuid));
		cpuid.c.nent = 256;
		if (ioctl(v->kvm, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0)
			return -1;
		for (int i = 0; i < NR_VCPUS; i++) {
			for (uint32_t j = 0; j < cpuid.c.nent; j++)
				if (cpuid.e[j].function == 1)
					cpuid.e[j].ebx = (cpuid.e[j].ebx & 0xffffff) | (uint32_t)i << 24;
			if (ioctl(v->vcpu[i], KVM_SET_CPUID2, &cpuid) < 0)
				return -1;
		}
	}
	return 0;
}

static bool kvm_usable(void)
{
	struct test_vm v;

	if (vm_create(&v, false) < 0)
		return false;
	vm_destroy(&v);
	return true;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int set_msr(int fd, uint32_t index, uint64_t value)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = { .h.nmsrs = 1, .e = { .index = index, .data = value } };

	return ioctl(fd, KVM_SET_MSRS, &m) == 1 ? 0 : -1;
}

static uint64_t msr_value(const struct vcpu_state *s, uint32_t index, bool *found)
{
	for (uint32_t i = 0; i < s->nr_msrs; i++)
		if (s->msrs[i].index == index) {
			*found = true;
			return s->msrs[i].value;
		}
	*found = false;
	return 0;
}

#define CHECK_OK(expr)                                                       \
	do {                                                                 \
		err_clear(&err);                                             \
		int r_ = (expr);                                             \
		if (r_ != 0)                                                 \
			printf("  %s: %s\n", #expr, err.msg);                \
		CHECK_EQ(r_, 0);                                             \
	} while (0)

/* --- PIC, IOAPIC, PIT, VM clock --- */

static void kvm_irqchip_pit_and_clock_survive_restore(void)
{
	struct test_vm a, b;
	struct hyve_err err = { 0 };
	struct pic_state pic, pic2;
	struct ioapic_state io, io2;
	struct pit_state pit, pit2;
	struct kvmclock_state clk, clk2;

	if (vm_create(&a, true) < 0) {
		CHECK(!"creating VM A");
		return;
	}
	/* A programmed chipset, as a guest leaves it. */
	CHECK_OK(pic_read(a.vm, &pic, &err));
	pic.master.imr = 0xb8;
	pic.master.irq_base = 0x20;
	pic.master.elcr = 0x20 & pic.master.elcr_mask;
	pic.master.auto_eoi = true;
	pic.master.priority_add = 3;
	pic.slave.imr = 0x3f;
	pic.slave.irq_base = 0x28;
	pic.slave.elcr = 0x0e & pic.slave.elcr_mask;
	pic.slave.special_fully_nested_mode = true;
	CHECK_OK(pic_write(a.vm, &pic, &err));
	CHECK_OK(ioapic_read(a.vm, &io, &err));
	io.id = 0;
	io.ioregsel = 0x21;
	for (unsigned i = 0; i < IOAPIC_PINS; i++) {
		struct ioapic_redirection *r = &io.redirection[i];

		r->vector = (uint8_t)(0x30 + i);
		r->mask = i & 1;
		r->trigger_mode = i >= 16;
		r->polarity = i >= 16;
		r->dest_mode = i == 5;
		r->delivery_mode = i == 7 ? 1 : 0;
		r->destination = (uint8_t)(i % NR_VCPUS);
	}
	CHECK_OK(ioapic_write(a.vm, &io, &err));
	CHECK_OK(pit_read(a.vm, &pit, &err));
	pit.channels[0].mode = 2; /* rate generator at 100 Hz */
	pit.channels[0].count = 11932;
	pit.channels[0].rw_mode = PIT_RW_WORD0;
	pit.channels[0].read_state = PIT_RW_WORD0;
	pit.channels[0].write_state = PIT_RW_WORD0;
	pit.channels[2].mode = 3;
	pit.channels[2].count = 1193;
	pit.channels[2].gate = true; /* port 0x61 bit 0 */
	pit.channels[2].rw_mode = PIT_RW_WORD0;
	pit.speaker_data_on = true; /* port 0x61 bit 1 */
	CHECK_OK(pit_write(a.vm, &pit, &err));
	clk = (struct kvmclock_state){ .clock_ns = 1000000000000ull };
	CHECK_OK(kvmclock_write(a.vm, &clk, false, &err));

	/* Save A (clock first, as a snapshot would), restore into B. */
	CHECK_OK(kvmclock_read(a.vm, &clk, &err));
	CHECK_OK(pic_read(a.vm, &pic, &err));
	CHECK_OK(ioapic_read(a.vm, &io, &err));
	CHECK_OK(pit_read(a.vm, &pit, &err));
	CHECK_OK(pic_check(&pic, &err));
	CHECK_OK(ioapic_check(&io, &err));
	CHECK_OK(pit_check(&pit, &err));
	CHECK_OK(kvmclock_check(&clk, &err));
	CHECK(clk.clock_ns >= 1000000000000ull && clk.clock_ns < 1001000000000ull);
	if (!pit.speaker_data_on)
		printf("  note: this kernel does not keep KVM_PIT_FLAGS_SPEAKER_DATA_ON\n");

	if (vm_create(&b, false) < 0) {
		CHECK(!"second VM");
		vm_destroy(&a);
		return;
	}
	CHECK_OK(kvmclock_write(b.vm, &clk, false, &err));
	CHECK_OK(pic_write(b.vm, &pic, &err));
	CHECK_OK(ioapic_write(b.vm, &io, &err));
	CHECK_OK(pit_write(b.vm, &pit, &err));

	CHECK_OK(pic_read(b.vm, &pic2, &err));
	CHECK_OK(ioapic_read(b.vm, &io2, &err));
	CHECK_OK(pit_read(b.vm, &pit2, &err));
	CHECK_OK(kvmclock_read(b.vm, &clk2, &err));
	CHECK(memcmp(&pic, &pic2, sizeof(pic)) == 0);
	CHECK(memcmp(&io, &io2, sizeof(io)) == 0);
	for (int i = 0; i < PIT_CHANNELS; i++) {
		int64_t now = pit2.channels[i].count_load_vm_ns;

		if (i == 0) {
			/* Unused by KVM for channel 0 (its hrtimer counts):
			 * carried through, up to the rebase's jitter. */
			CHECK(now - pit.channels[0].count_load_vm_ns < 1000000 &&
			      pit.channels[0].count_load_vm_ns - now < 1000000);
		} else {
			/* KVM restamps channels 1 and 2 at load (see pit.c):
			 * the rebased stamp lies between the saved clock and
			 * the clock after the restore. */
			if (now < (int64_t)clk.clock_ns || now > (int64_t)clk2.clock_ns)
				printf("  pit channel %d: count_load_vm_ns %lld, saved clock %llu, clock now %llu\n",
				       i, (long long)now, (unsigned long long)clk.clock_ns,
				       (unsigned long long)clk2.clock_ns);
			CHECK(now >= (int64_t)clk.clock_ns && now <= (int64_t)clk2.clock_ns);
		}
		pit2.channels[i].count_load_vm_ns = pit.channels[i].count_load_vm_ns;
	}
	CHECK(memcmp(&pit, &pit2, sizeof(pit)) == 0);
	/* The VM clock continues from the saved time: no jump. */
	CHECK(clk2.clock_ns >= clk.clock_ns);
	CHECK(clk2.clock_ns - clk.clock_ns < 500000000ull);
	vm_destroy(&b);
	vm_destroy(&a);
}

/* The "advance" option moves the clock by the real time since the save. */
static void kvm_clock_advance_adds_elapsed_real_time(void)
{
	struct test_vm b;
	struct hyve_err err = { 0 };
	struct kvmclock_state saved = { .clock_ns = 50000000000ull }, now;
	struct timespec ts;

	if (vm_create(&b, false) < 0) {
		CHECK(!"creating VM B");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	/* Saved 5 s ago (by hyve's wall time; this host has no
	 * KVM_CLOCK_REALTIME pair). */
	saved.wall_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - 5000000000ull;
	CHECK_OK(kvmclock_write(b.vm, &saved, true, &err));
	CHECK_OK(kvmclock_read(b.vm, &now, &err));
	CHECK(now.clock_ns >= saved.clock_ns + 5000000000ull);
	CHECK(now.clock_ns < saved.clock_ns + 5500000000ull);
	CHECK_OK(kvmclock_write(b.vm, &saved, false, &err));
	CHECK_OK(kvmclock_read(b.vm, &now, &err));
	CHECK(now.clock_ns >= saved.clock_ns && now.clock_ns < saved.clock_ns + 500000000ull);
	vm_destroy(&b);
}

/* --- LAPIC --- */

static void kvm_lapic_survives_restore(void)
{
	struct test_vm a, b;
	struct hyve_err err = { 0 };

	if (vm_create(&a, true) < 0) {
		CHECK(!"creating VM A");
		return;
	}
	if (vm_create(&b, true) < 0) {
		vm_destroy(&a);
		CHECK(!"second VM");
		return;
	}
	for (int i = 0; i < NR_VCPUS; i++) {
		struct lapic_state s, back;

		CHECK_OK(lapic_read(a.vcpu[i], &s, &err));
		s.tpr = 0x30;
		s.svr = 0x1ff;
		s.ldr = 1u << (24 + i);
		s.lvt_lint0 = i == 0 ? 0x700 : 0x10700;
		s.lvt_lint1 = 0x400;
		s.lvt_error = 0xfe;
		s.lvt_timer = 0x10031;
		s.timer_divide = 0x3;
		CHECK_OK(lapic_write(a.vcpu[i], &s, &err));
		CHECK_OK(lapic_read(a.vcpu[i], &s, &err));
		CHECK_OK(lapic_check(&s, &err));
		CHECK_EQ(s.tpr, 0x30);
		CHECK_EQ(s.lvt_lint1, 0x400);
		CHECK_OK(lapic_write(b.vcpu[i], &s, &err));
		CHECK_OK(lapic_read(b.vcpu[i], &back, &err));
		CHECK(memcmp(&s, &back, sizeof(s)) == 0);
		if (memcmp(&s, &back, sizeof(s)) != 0)
			for (size_t w = 0; w < sizeof(s) / 4; w++)
				if (((uint32_t *)&s)[w] != ((uint32_t *)&back)[w])
					printf("  vcpu %d word %zu: 0x%x -> 0x%x\n", i, w,
					       ((uint32_t *)&s)[w], ((uint32_t *)&back)[w]);
	}
	vm_destroy(&b);
	vm_destroy(&a);
}

/* KVM_SET_LAPIC restarts the timer from the saved current count, so a
 * one-shot count continues instead of starting over. */
static void kvm_lapic_timer_continues_from_current_count(void)
{
	struct test_vm a, b;
	struct hyve_err err = { 0 };
	struct lapic_state s, saved, back;
	struct timespec pause = { 0, 100000000 };

	if (vm_create(&a, true) < 0) {
		CHECK(!"creating VM A");
		return;
	}
	CHECK_OK(lapic_read(a.vcpu[0], &s, &err));
	s.svr = 0x1ff;
	s.lvt_timer = 0x10040; /* one-shot, masked */
	s.timer_divide = 0xb;  /* divide by 1 */
	s.timer_initial_count = 0xffffffffu;
	/* KVM_SET_LAPIC starts the timer from the current count. */
	s.timer_current_count = 0xffffffffu;
	CHECK_OK(lapic_write(a.vcpu[0], &s, &err));
	nanosleep(&pause, NULL);
	CHECK_OK(lapic_read(a.vcpu[0], &saved, &err));
	CHECK(saved.timer_current_count < 0xffffffffu);
	CHECK(saved.timer_current_count > 0);
	if (vm_create(&b, true) < 0) {
		vm_destroy(&a);
		CHECK(!"second VM");
		return;
	}
	uint64_t t0 = mono_ns();

	nanosleep(&pause, NULL); /* time between save and restore */
	CHECK_OK(lapic_write(b.vcpu[0], &saved, &err));
	CHECK_OK(lapic_read(b.vcpu[0], &back, &err));
	uint64_t waited = mono_ns() - t0;

	/* Counts at the APIC bus rate KVM emulates (1 GHz): the time spent
	 * between save and restore is not counted, the rest continues. */
	printf("  saved current count %u, after restore %u (initial %u)\n",
	       saved.timer_current_count, back.timer_current_count,
	       saved.timer_initial_count);
	CHECK(back.timer_current_count <= saved.timer_current_count);
	CHECK((uint64_t)(saved.timer_current_count - back.timer_current_count) < waited);
	CHECK_EQ(back.timer_initial_count, saved.timer_initial_count);
	vm_destroy(&b);
	vm_destroy(&a);
}

/* --- whole vCPU --- */

static void compare_vcpu(int idx, const struct vcpu_state *x, const struct vcpu_state *y)
{
	struct kvm_regs r1, r2;
	struct kvm_sregs s1, s2;
	struct kvm_vcpu_events e1, e2;
	struct kvm_debugregs d1, d2;
	bool found;

	vcpu_regs_encode(&x->regs, &r1);
	vcpu_regs_encode(&y->regs, &r2);
	vcpu_sregs_encode(x, &s1);
	vcpu_sregs_encode(y, &s2);
	vcpu_events_encode(&x->events, &e1);
	vcpu_events_encode(&y->events, &e2);
	vcpu_debugregs_encode(&x->debug, &d1);
	vcpu_debugregs_encode(&y->debug, &d2);
#define SAME(cond, what)                                                     \
	do {                                                                 \
		if (!(cond))                                                 \
			printf("  vcpu %d: %s differs after restore\n", idx, what); \
		CHECK(cond);                                                 \
	} while (0)
	SAME(x->mp_state == y->mp_state, "mp_state");
	SAME(memcmp(&r1, &r2, sizeof(r1)) == 0, "regs");
	SAME(memcmp(&s1, &s2, sizeof(s1)) == 0, "sregs");
	SAME(memcmp(&e1, &e2, sizeof(e1)) == 0, "events");
	SAME(memcmp(&d1, &d2, sizeof(d1)) == 0, "debug registers");
	SAME(x->xsave_size == y->xsave_size, "xsave_size");
	SAME(memcmp(x->xsave, y->xsave, x->xsave_size) == 0, "xsave area");
	SAME(x->nr_xcrs == y->nr_xcrs, "nr_xcrs");
	for (uint32_t i = 0; i < x->nr_xcrs && i < y->nr_xcrs; i++)
		SAME(x->xcrs[i].index == y->xcrs[i].index && x->xcrs[i].value == y->xcrs[i].value,
		     "xcr");
	SAME(x->nr_cpuid == y->nr_cpuid, "nr_cpuid");
	SAME(memcmp(x->cpuid, y->cpuid, x->nr_cpuid * sizeof(x->cpuid[0])) == 0, "cpuid");
	SAME(x->nr_msrs == y->nr_msrs, "nr_msrs");
	for (uint32_t i = 0; i < x->nr_msrs; i++) {
		uint64_t v = msr_value(y, x->msrs[i].index, &found);

		if (x->msrs[i].index == MSR_TSC) {
			/* Restored, then ticking on. */
			SAME(found && v >= x->msrs[i].value &&
				     v - x->msrs[i].value < 20000000000ull,
			     "TSC");
			continue;
		}
		if (!found || v != x->msrs[i].value)
			printf("  vcpu %d: MSR 0x%x 0x%llx -> 0x%llx%s\n", idx, x->msrs[i].index,
			       (unsigned long long)x->msrs[i].value, (unsigned long long)v,
			       found ? "" : " (missing)");
		CHECK(found && v == x->msrs[i].value);
	}
#undef SAME
}

static void kvm_vcpu_state_survives_restore(void)
{
	static struct vcpu_state saved[NR_VCPUS], back[NR_VCPUS];
	struct lapic_state lapic[NR_VCPUS], lapic_back;
	struct test_vm a, b;
	struct hyve_err err = { 0 };
	const uint32_t *msrs;
	int n;

	if (vm_create(&a, true) < 0) {
		CHECK(!"creating VM A");
		return;
	}
	n = vcpu_state_msr_list(a.vcpu[0], &msrs, &err);
	CHECK(n > 0);
	printf("  %d MSRs readable:", n);
	for (int i = 0; i < n; i++)
		printf(" %x", msrs[i]);
	printf("\n");
	for (int i = 0; i < NR_VCPUS; i++) {
		int fd = a.vcpu[i];
		struct kvm_regs regs;
		struct kvm_sregs sregs;
		struct kvm_debugregs dbg = { .db = { 0x1000, 0x2000, 0x3000, 0x4000 },
					     .dr6 = 0xffff0ff0, .dr7 = 0x405 };
		struct kvm_xcrs xcrs = { .nr_xcrs = 1, .xcrs = { { .xcr = 0, .value = 3 } } };
		struct kvm_vcpu_events ev;
		struct kvm_mp_state mp = { .mp_state = i == 0 ? KVM_MP_STATE_HALTED
							    : KVM_MP_STATE_INIT_RECEIVED };
		struct lapic_state ls;

		memset(&regs, 0, sizeof(regs));
		for (int r = 0; r < 16; r++)
			((uint64_t *)&regs)[r] = rnd64();
		regs.rip = 0x1000 + (uint64_t)i;
		regs.rflags = 0x202;
		CHECK_EQ(ioctl(fd, KVM_SET_REGS, &regs), 0);
		CHECK_EQ(ioctl(fd, KVM_GET_SREGS, &sregs), 0);
		sregs.gdt.base = 0x5000;
		sregs.gdt.limit = 0x27;
		sregs.idt.base = 0x6000;
		sregs.idt.limit = 0x7ff;
		sregs.ds.selector = 0x123;
		sregs.ds.base = 0x1230;
		sregs.cr2 = 0xdead000;
		CHECK_EQ(ioctl(fd, KVM_SET_SREGS, &sregs), 0);
		CHECK_EQ(ioctl(fd, KVM_SET_XCRS, &xcrs), 0);
		CHECK_EQ(ioctl(fd, KVM_SET_DEBUGREGS, &dbg), 0);
		/* LAPIC timer in TSC-deadline mode, so the deadline MSR holds. */
		CHECK_OK(lapic_read(fd, &ls, &err));
		ls.svr = 0x1ff;
		ls.lvt_timer = 0x50033;
		CHECK_OK(lapic_write(fd, &ls, &err));
		CHECK_EQ(set_msr(fd, 0x174, 0x10), 0);       /* SYSENTER_CS */
		CHECK_EQ(set_msr(fd, 0x175, 0x8000), 0);     /* SYSENTER_ESP */
		CHECK_EQ(set_msr(fd, 0x176, 0x9000), 0);     /* SYSENTER_EIP */
		CHECK_EQ(set_msr(fd, 0xc0000081, 0x0023001000000000ull), 0); /* STAR */
		CHECK_EQ(set_msr(fd, 0xc0000082, 0xffffffff81000000ull), 0); /* LSTAR */
		CHECK_EQ(set_msr(fd, 0xc0000084, 0x47700), 0);               /* FMASK */
		CHECK_EQ(set_msr(fd, 0xc0000102, 0xffff888000000000ull + (uint64_t)i), 0);
		CHECK_EQ(set_msr(fd, 0x277, 0x0007010600070106ull), 0);      /* PAT */
		CHECK_EQ(set_msr(fd, 0x2ff, 0xc06), 0);                      /* MTRR default */
		CHECK_EQ(set_msr(fd, MSR_TSC, 1000000000000ull), 0);
		CHECK_EQ(set_msr(fd, MSR_TSC_DEADLINE, 900000000000000ull), 0);
		memset(&ev, 0, sizeof(ev));
		CHECK_EQ(ioctl(fd, KVM_GET_VCPU_EVENTS, &ev), 0);
		ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING;
		ev.nmi.pending = 1;
		ev.nmi.masked = 1;
		CHECK_EQ(ioctl(fd, KVM_SET_VCPU_EVENTS, &ev), 0);
		CHECK_EQ(ioctl(fd, KVM_SET_MP_STATE, &mp), 0);

		CHECK_OK(vcpu_state_save_with_lapic(fd, &saved[i], &lapic[i], &err));
		CHECK_OK(vcpu_state_check(&saved[i], &err));
		CHECK_OK(lapic_check(&lapic[i], &err));
		bool found;

		CHECK_EQ(msr_value(&saved[i], MSR_TSC_DEADLINE, &found), 900000000000000ull);
		CHECK(found);
		CHECK_EQ(msr_value(&saved[i], 0xc0000082, &found), 0xffffffff81000000ull);
		CHECK_EQ(saved[i].xcrs[0].value, 3);
		CHECK_EQ(saved[i].debug.dr7, 0x405);
		CHECK_EQ(saved[i].regs.rip, 0x1000 + (uint64_t)i);
		CHECK_EQ(saved[i].mp_state, mp.mp_state);
		CHECK_EQ(saved[i].events.nmi.pending, 1);
		CHECK(saved[i].nr_cpuid > 0);
		CHECK(saved[i].xsave_size >= VCPU_STATE_XSAVE_MIN);
	}

	/* Restore into a fresh VM whose vCPUs have no CPUID yet. */
	if (vm_create(&b, false) < 0) {
		vm_destroy(&a);
		CHECK(!"second VM");
		return;
	}
	for (int i = 0; i < NR_VCPUS; i++) {
		CHECK_OK(vcpu_state_load(b.vcpu[i], &saved[i], &lapic[i], &err));
		CHECK_OK(vcpu_state_save_with_lapic(b.vcpu[i], &back[i], &lapic_back, &err));
		compare_vcpu(i, &saved[i], &back[i]);
		CHECK(memcmp(&lapic[i], &lapic_back, sizeof(lapic_back)) == 0);
	}
	vm_destroy(&b);
	vm_destroy(&a);
}

int main(void)
{
	if (!kvm_usable()) {
		/* Loud, one line per case: these need a working /dev/kvm. */
		SKIP_TEST(kvm_irqchip_pit_and_clock_survive_restore, kvm_unusable);
		SKIP_TEST(kvm_clock_advance_adds_elapsed_real_time, kvm_unusable);
		SKIP_TEST(kvm_lapic_survives_restore, kvm_unusable);
		SKIP_TEST(kvm_lapic_timer_continues_from_current_count, kvm_unusable);
		SKIP_TEST(kvm_vcpu_state_survives_restore, kvm_unusable);
		return 0;
	}
	RUN_TEST(kvm_irqchip_pit_and_clock_survive_restore);
	RUN_TEST(kvm_clock_advance_adds_elapsed_real_time);
	RUN_TEST(kvm_lapic_survives_restore);
	RUN_TEST(kvm_lapic_timer_continues_from_current_count);
	RUN_TEST(kvm_vcpu_state_survives_restore);
	return CHECK_DONE();
}
