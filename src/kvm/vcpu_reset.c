/* A vCPU reset for an ACPI S3 wake.  In S3 the processors lose all their
 * context; firmware brings them back from a reset and jumps to the waking
 * vector the OS left in the FACS (ACPI 6.4, 16.3.3; 5.2.10 table 5.14).
 *
 * What the reset state is (Intel SDM vol. 3, 9.1.1 "Processor State After
 * Reset", table 9-1; AMD APM vol. 2, 14.1.3):
 *   - real mode, every segment with limit 0xFFFF, IDTR base 0 limit 0xFFFF;
 *     CR0 = ET: caches on, as firmware leaves them before it calls the OS
 *     (a reset proper has CD and NW set); CR2-CR4, EFER, DR0-DR3 zero,
 *     DR6 = 0xFFFF0FF0, DR7 = 0x400, RFLAGS = 2;
 *   - the local APIC enabled in xAPIC mode at 0xFEE00000 (BSP flag on
 *     vCPU 0), its registers as after RESET: every LVT masked, SVR 0xFF,
 *     DFR all ones; the BSP's LINT0 in ExtINT mode as KVM and PC firmware
 *     leave it (virtual wire, so the 8259 reaches the BSP);
 *   - x87, SSE, AVX and the rest in their initial configuration (XSAVE
 *     header XSTATE_BV = 0), XCR0 = 1;
 *   - the MSRs with an architectural reset value at it (SYSENTER, SYSCALL,
 *     KERNEL_GS_BASE, TSC_AUX, PAT, MCG_STATUS, TSC deadline) and KVM's
 *     paravirtual features off (kvmclock, steal time, PV EOI, async PF:
 *     the OS registers them again as on a fresh CPU);
 *   - no pending exception, interrupt or NMI.
 * Left alone, as firmware and the chipset keep or restore them across S3:
 * the TSC (keeps counting: the guest's clocks do not jump back), the MTRRs
 * and MISC_ENABLE (firmware restores them before calling the OS; the OS's
 * trampoline restores MISC_ENABLE too), and CPUID.
 *
 * Then the BSP gets the waking vector: real mode with CS = vector >> 4,
 * IP = vector & 0xF (A20 is always on), or the flat protected-mode or
 * long-mode environment of X_Firmware_Waking_Vector (through the same code
 * as a boot entry, vcpu_setup_boot).  An AP waits for INIT-SIPI, as after
 * a reset: the OS starts it again. */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "hyve/machine.h"
#include "hyve/vcpu.h"
#include "hyve/vcpu_state.h"

#define X86_CR0_ET	      (1u << 4)
#define APIC_BASE_ADDR	      0xFEE00000ULL
#define APIC_BASE_ENABLE      (1ULL << 11)
#define APIC_BASE_BSP	      (1ULL << 8)
#define LAPIC_ID	      0x020
#define LAPIC_DFR	      0x0e0
#define LAPIC_SVR	      0x0f0
#define LAPIC_LVT_FIRST	      0x2f0 /* CMCI, then 0x320..0x370 */
#define LAPIC_LVT_LINT0	      0x350
#define LAPIC_LVT_MASKED      0x10000u
#define LAPIC_DELIVERY_EXTINT 0x700u
#define XSAVE_MXCSR	      24
#define MXCSR_RESET	      0x1f80u

/* MSRs with a reset value the OS may rely on after a wake (values from
 * the SDM's table of MSRs and Documentation/virt/kvm/x86/msr.rst).  The
 * KVM wall-clock MSRs are not here: writing them makes KVM write the
 * wall clock into guest memory at the address written. */
static const struct {
	uint32_t index;
	uint64_t value;
} vcpu_reset_msrs[] = {
	{0x00000174, 0},		     /* IA32_SYSENTER_CS */
	{0x00000175, 0},		     /* IA32_SYSENTER_ESP */
	{0x00000176, 0},		     /* IA32_SYSENTER_EIP */
	{0x0000017a, 0},		     /* IA32_MCG_STATUS */
	{0x00000277, 0x0007040600070406ULL}, /* IA32_PAT */
	{0xc0000081, 0},		     /* STAR */
	{0xc0000082, 0},		     /* LSTAR */
	{0xc0000083, 0},		     /* CSTAR */
	{0xc0000084, 0},		     /* SFMASK */
	{0xc0000102, 0},		     /* KERNEL_GS_BASE */
	{0xc0000103, 0},		     /* TSC_AUX */
	{0x00000012, 0},		     /* MSR_KVM_SYSTEM_TIME */
	{0x4b564d01, 0},		     /* MSR_KVM_SYSTEM_TIME_NEW */
	{0x4b564d02, 0},		     /* MSR_KVM_ASYNC_PF_EN */
	{0x4b564d03, 0},		     /* MSR_KVM_STEAL_TIME */
	{0x4b564d04, 0},		     /* MSR_KVM_PV_EOI_EN */
	{0x4b564d05, 1},		     /* MSR_KVM_POLL_CONTROL */
	{0x4b564d06, 0},		     /* MSR_KVM_ASYNC_PF_INT */
	{0x000006e0, 0},		     /* IA32_TSC_DEADLINE */
};

#define VCPU_RESET_NR_MSRS (sizeof(vcpu_reset_msrs) / sizeof(vcpu_reset_msrs[0]))

static int vcpu_reset_ioctl(struct vcpu *v, unsigned long req, void *arg,
			    const char *name, struct hyve_err *err)
{
	if (ioctl(v->fd, req, arg) < 0)
		return err_set(err, errno, "wake: vcpu %u: %s: %s", v->index,
			       name, strerror(errno));
	return 0;
}

static void vcpu_reset_segment(struct kvm_segment *s, uint16_t selector,
			       uint8_t type)
{
	*s = (struct kvm_segment){.base = (uint64_t)selector << 4,
				  .limit = 0xffff,
				  .selector = selector,
				  .type = type,
				  .present = 1,
				  .s = 1};
}

static int vcpu_reset_sregs(struct vcpu *v, uint64_t real_vector,
			    struct hyve_err *err)
{
	struct kvm_sregs sregs;

	memset(&sregs, 0, sizeof(sregs));
	/* CS:IP = vector >> 4 : vector & 0xF.  The hidden base is what the
	 * CPU uses: a vector above 1 MiB still starts at its address. */
	vcpu_reset_segment(&sregs.cs, (uint16_t)(real_vector >> 4), 0xb);
	sregs.cs.base = real_vector & ~0xfULL;
	vcpu_reset_segment(&sregs.ds, 0, 0x3);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	vcpu_reset_segment(&sregs.tr, 0, 0xb);
	sregs.tr.s = 0;
	vcpu_reset_segment(&sregs.ldt, 0, 0x2);
	sregs.ldt.s = 0;
	sregs.gdt.limit = 0xffff;
	sregs.idt.limit = 0xffff;
	sregs.cr0 = X86_CR0_ET;
	sregs.apic_base = APIC_BASE_ADDR | APIC_BASE_ENABLE |
			  (v->index == 0 ? APIC_BASE_BSP : 0);
	return vcpu_reset_ioctl(v, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS", err);
}

static int vcpu_reset_lapic(struct vcpu *v, struct hyve_err *err)
{
	struct kvm_lapic_state page;
	uint32_t r;

	memset(&page, 0, sizeof(page));
	r = v->index << 24; /* xAPIC ID: the vCPU index (hyve/vcpu.h) */
	memcpy(page.regs + LAPIC_ID, &r, 4);
	r = 0xffffffffu;
	memcpy(page.regs + LAPIC_DFR, &r, 4);
	r = 0xff; /* software disabled, spurious vector 0xFF */
	memcpy(page.regs + LAPIC_SVR, &r, 4);
	for (unsigned off = LAPIC_LVT_FIRST; off <= 0x370; off += 0x10) {
		if (off > LAPIC_LVT_FIRST && off < 0x320)
			continue; /* ICR, not an LVT */
		r = off == LAPIC_LVT_LINT0 && v->index == 0
			? LAPIC_DELIVERY_EXTINT
			: LAPIC_LVT_MASKED;
		memcpy(page.regs + off, &r, 4);
	}
	return vcpu_reset_ioctl(v, KVM_SET_LAPIC, &page, "KVM_SET_LAPIC", err);
}

/* x87/SSE/AVX... in their initial configuration: an XSAVE area whose
 * header says every component is in its init state.  KVM reads as many
 * bytes as its XSAVE area has, up to VCPU_STATE_XSAVE_MAX. */
static int vcpu_reset_fpu(struct vcpu *v, struct hyve_err *err)
{
	struct kvm_xcrs xcrs = {.nr_xcrs = 1, .xcrs = {{.xcr = 0, .value = 1}}};
	uint8_t *area = calloc(1, VCPU_STATE_XSAVE_MAX);
	uint32_t mxcsr = MXCSR_RESET;
	struct kvm_fpu fpu;
	int ret;

	if (!area)
		return err_set(err, ENOMEM, "wake: out of memory");
	memcpy(area + XSAVE_MXCSR, &mxcsr, 4);
	ret = ioctl(v->fd, KVM_SET_XSAVE, area);
	free(area);
	if (ret == 0)
		return vcpu_reset_ioctl(v, KVM_SET_XCRS, &xcrs, "KVM_SET_XCRS",
					err);
	/* A host without XSAVE: the legacy FPU state is all there is. */
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = MXCSR_RESET;
	return vcpu_reset_ioctl(v, KVM_SET_FPU, &fpu, "KVM_SET_FPU", err);
}

static int vcpu_reset_msr_values(struct vcpu *v, struct hyve_err *err)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[VCPU_RESET_NR_MSRS];
	} msrs;
	const uint32_t *known;
	int n = vcpu_state_msr_list(v->fd, &known, err);
	uint32_t count = 0;

	if (n < 0)
		return n;
	memset(&msrs, 0, sizeof(msrs));
	/* Only the MSRs this vCPU has (KVM refuses the others), in table
	 * order: the TSC deadline last, after the LAPIC reset. */
	for (size_t i = 0; i < VCPU_RESET_NR_MSRS; i++)
		for (int k = 0; k < n; k++)
			if (known[k] == vcpu_reset_msrs[i].index) {
				msrs.e[count].index = vcpu_reset_msrs[i].index;
				msrs.e[count].data = vcpu_reset_msrs[i].value;
				count++;
				break;
			}
	msrs.hdr.nmsrs = count;
	n = ioctl(v->fd, KVM_SET_MSRS, &msrs);
	if (n < 0)
		return err_set(err, errno, "wake: vcpu %u: KVM_SET_MSRS: %s",
			       v->index, strerror(errno));
	if ((uint32_t)n < count)
		return err_set(err, EINVAL,
			       "wake: vcpu %u: KVM refused MSR 0x%x = 0x%llx",
			       v->index, msrs.e[n].index,
			       (unsigned long long)msrs.e[n].data);
	return 0;
}

int vcpu_reset_to_wake(struct vcpu *v, const struct acpi_wake_vector *w,
		       uint64_t cr3, struct hyve_err *err)
{
	bool bsp = v->index == 0;
	uint64_t real_vector = bsp && w->mode == ACPI_WAKE_REAL ? w->addr : 0;
	struct kvm_mp_state mp = {.mp_state = bsp ? KVM_MP_STATE_RUNNABLE
						  : KVM_MP_STATE_UNINITIALIZED};
	struct kvm_vcpu_events events;
	struct kvm_debugregs debug;
	struct kvm_regs regs;
	int ret;

	/* KVM's order (see vcpu_state.c): the APIC base (in the special
	 * registers) before the LAPIC page, the LAPIC before the TSC
	 * deadline MSR, the events after the registers, MP state last. */
	ret = vcpu_reset_sregs(v, real_vector, err);
	if (!ret)
		ret = vcpu_reset_lapic(v, err);
	if (ret)
		return ret;
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = real_vector & 0xf;
	ret = vcpu_reset_ioctl(v, KVM_SET_REGS, &regs, "KVM_SET_REGS", err);
	if (!ret)
		ret = vcpu_reset_fpu(v, err);
	if (!ret)
		ret = vcpu_reset_msr_values(v, err);
	if (ret)
		return ret;
	memset(&events, 0, sizeof(events));
	events.flags = KVM_VCPUEVENT_VALID_NMI_PENDING |
		       KVM_VCPUEVENT_VALID_SHADOW;
	ret = vcpu_reset_ioctl(v, KVM_SET_VCPU_EVENTS, &events,
			       "KVM_SET_VCPU_EVENTS", err);
	if (ret)
		return ret;
	memset(&debug, 0, sizeof(debug));
	debug.dr6 = 0xffff0ff0;
	debug.dr7 = 0x400;
	ret = vcpu_reset_ioctl(v, KVM_SET_DEBUGREGS, &debug,
			       "KVM_SET_DEBUGREGS", err);
	if (!ret)
		ret = vcpu_reset_ioctl(v, KVM_SET_MP_STATE, &mp,
				       "KVM_SET_MP_STATE", err);
	if (ret || !bsp || w->mode == ACPI_WAKE_REAL)
		return ret;
	/* X_Firmware_Waking_Vector: flat 32-bit protected mode, or long
	 * mode on the firmware's identity map; interrupts off either way. */
	return vcpu_setup_boot(v,
			       &(struct boot_entry){
				   .mode = w->mode == ACPI_WAKE_LONG64
					       ? BOOT_LONG64
					       : BOOT_PROTECTED32,
				   .rip = w->addr,
				   .cr3 = cr3,
				   .gdt_base = BOOT_WAKE_AREA,
			       },
			       err);
}
