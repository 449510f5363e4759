/* vCPU creation and its state at power-on: CPUID with this vCPU's APIC ID
 * and the machine's topology, and the registers a boot protocol asks for. */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hyve/machine.h"
#include "hyve/vcpu.h"

#define CPUID_MAX_ENTRIES 256
#define X86_CR0_PE (1u << 0)
#define X86_CR0_ET (1u << 4)
#define X86_CR0_NE (1u << 5)
#define X86_CR0_PG (1u << 31)
#define X86_CR4_PAE (1u << 5)
#define X86_EFER_LME (1u << 8)
#define X86_EFER_LMA (1u << 10)

int vcpu_create(struct machine *m, unsigned index, struct hyve_err *err)
{
	struct vcpu *v = &m->vcpus[index];

	v->machine = m;
	v->index = index;
	v->fd = ioctl(m->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0)
		return err_set(err, errno, "KVM_CREATE_VCPU %u: %s", index, strerror(errno));
	v->run = mmap(NULL, (size_t)m->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return err_set(err, errno, "mapping vcpu %u: %s", index, strerror(errno));
	}
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, (size_t)v->machine->vcpu_mmap_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}

static unsigned vcpu_bits_for(unsigned n)
{
	unsigned bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

/* One package of nr_vcpus cores, one thread per core; APIC ID = index. */
static void vcpu_cpuid_topology(struct kvm_cpuid_entry2 *e, unsigned apic_id, unsigned nr)
{
	unsigned core_bits = vcpu_bits_for(nr);

	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0x0000ffffu) | (apic_id << 24) | ((nr & 0xffu) << 16);
		if (nr > 1)
			e->edx |= 1u << 28; /* HTT: EBX[23:16] is valid */
		e->ecx |= 1u << 31;         /* running under a hypervisor */
		break;
	case 4:
		/* Deterministic cache parameters: cores per package. */
		if (e->eax & 0x1f)
			e->eax = (e->eax & 0x03ffffffu) | ((nr - 1u) << 26);
		break;
	case 0xb:
	case 0x1f:
		/* Extended topology: level 0 SMT (1 thread), level 1 core. */
		if (e->index == 0) {
			e->eax = 0;
			e->ebx = 1;
			e->ecx = (1u << 8) | 0;
		} else if (e->index == 1) {
			e->eax = core_bits;
			e->ebx = nr;
			e->ecx = (2u << 8) | 1;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
		e->edx = apic_id;
		break;
	case 0x80000008:
		e->ecx = (e->ecx & ~0xf0ffu) | (core_bits << 12) | ((nr - 1u) & 0xffu);
		break;
	}
}

int vcpu_setup_cpuid(struct vcpu *v, struct hyve_err *err)
{
	struct kvm_cpuid2 *cpuid;
	int ret = 0;

	cpuid = calloc(1, sizeof(*cpuid) + CPUID_MAX_ENTRIES * sizeof(cpuid->entries[0]));
	if (!cpuid)
		return err_set(err, ENOMEM, "cpuid: out of memory");
	cpuid->nent = CPUID_MAX_ENTRIES;
	if (ioctl(v->machine->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		ret = err_set(err, errno, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		goto out;
	}
	for (unsigned i = 0; i < cpuid->nent; i++)
		vcpu_cpuid_topology(&cpuid->entries[i], v->index, v->machine->nr_vcpus);
	if (ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0)
		ret = err_set(err, errno, "KVM_SET_CPUID2 vcpu %u: %s", v->index, strerror(errno));
out:
	free(cpuid);
	return ret;
}

static void vcpu_flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type, bool long_code)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = long_code ? 0 : 1, .s = 1,
		.l = long_code ? 1 : 0, .g = 1,
	};
}

int vcpu_setup_boot(struct vcpu *v, const struct boot_entry *entry, struct hyve_err *err)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	bool long_mode = entry->mode == BOOT_LONG64;

	if (v->index != 0) {
		/* Application processors wait for INIT/SIPI from the guest;
		 * the in-kernel LAPIC runs that protocol. */
		mp.mp_state = KVM_MP_STATE_UNINITIALIZED;
		if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
			return err_set(err, errno, "KVM_SET_MP_STATE vcpu %u: %s", v->index, strerror(errno));
		return 0;
	}
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return err_set(err, errno, "KVM_GET_SREGS: %s", strerror(errno));
	vcpu_flat_segment(&sregs.cs, long_mode ? BOOT_SEL_CODE64 : BOOT_SEL_CODE32, 0xb, long_mode);
	vcpu_flat_segment(&sregs.ds, BOOT_SEL_DATA, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	sregs.ldt = (struct kvm_segment){ .limit = 0xffff, .type = 0x2, .present = 1 };
	sregs.gdt.base = entry->gdt_base;
	sregs.gdt.limit = BOOT_GDT_LIMIT;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (long_mode) {
		sregs.cr0 |= X86_CR0_PG;
		sregs.cr3 = entry->cr3;
		sregs.cr4 = X86_CR4_PAE;
		sregs.efer = X86_EFER_LME | X86_EFER_LMA;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
		return err_set(err, errno, "KVM_SET_SREGS: %s", strerror(errno));

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2; /* bit 1 is always set; interrupts off */
	regs.rip = entry->rip;
	regs.rsp = entry->rsp;
	regs.rax = entry->rax;
	regs.rbx = entry->rbx;
	regs.rsi = entry->rsi;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return err_set(err, errno, "KVM_SET_REGS: %s", strerror(errno));

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;   /* FNINIT state */
	fpu.mxcsr = 0x1f80; /* all SSE exceptions masked */
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return err_set(err, errno, "KVM_SET_FPU: %s", strerror(errno));
	return 0;
}
