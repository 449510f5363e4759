/* The architectural state of one vCPU as KVM holds it, in named fields:
 * what a snapshot saves per vCPU (section "vcpu", instance = vCPU index).
 * The local APIC is a device of its own (src/dev/lapic.h) but is read and
 * written here too, because KVM's ordering rules interleave it with the
 * registers and MSRs (see vcpu_state_load).
 *
 * MSRs, XSAVE and CPUID, whose formats the architecture defines, are kept
 * as an indexed list, a named byte area and a list of leaves. */
#ifndef HYVE_VCPU_STATE_H
#define HYVE_VCPU_STATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "hyve/err.h"
#include "hyve/state.h"

struct lapic_state; /* src/dev/lapic.h */

#define VCPU_STATE_MAX_MSRS 256
#define VCPU_STATE_MAX_CPUID 256 /* as SNAP_MAX_CPUID */
#define VCPU_STATE_MAX_XCRS 16   /* KVM_MAX_XCRS */
#define VCPU_STATE_XSAVE_MAX 16384
#define VCPU_STATE_XSAVE_MIN 4096 /* sizeof(struct kvm_xsave) */

struct vcpu_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
};

/* A segment register with its hidden descriptor cache. */
struct vcpu_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint8_t type; /* 4 bits */
	bool present;
	uint8_t dpl;  /* 2 bits */
	bool db, s, l, g, avl;
	bool unusable;
};

struct vcpu_dtable {
	uint64_t base;
	uint16_t limit;
};

struct vcpu_msr {
	uint32_t index;
	uint64_t value;
};

struct vcpu_xcr {
	uint32_t index; /* XCR number: 0 = XCR0 */
	uint64_t value;
};

struct vcpu_cpuid {
	uint32_t function, index, flags;
	uint32_t eax, ebx, ecx, edx;
};

/* struct kvm_vcpu_events, field by field. */
struct vcpu_exception {
	bool injected;
	uint8_t nr;
	bool has_error_code;
	bool pending;
	uint32_t error_code;
	bool has_payload;
	uint64_t payload;
};

struct vcpu_interrupt {
	bool injected;
	uint8_t nr;
	bool soft;
	uint8_t shadow; /* KVM_X86_SHADOW_INT_MOV_SS | _STI */
};

struct vcpu_nmi {
	bool injected;
	uint8_t pending; /* a count: KVM can hold two */
	bool masked;
};

struct vcpu_smi {
	bool smm;
	bool pending;
	bool smm_inside_nmi;
	bool latched_init;
};

struct vcpu_events {
	struct vcpu_exception exception;
	struct vcpu_interrupt interrupt;
	struct vcpu_nmi nmi;
	uint32_t sipi_vector;
	uint32_t flags; /* KVM_VCPUEVENT_VALID_*: which fields KVM reported */
	struct vcpu_smi smi;
	bool triple_fault_pending;
};

struct vcpu_debugregs {
	uint64_t db[4];
	uint64_t dr6, dr7;
};

struct vcpu_state {
	uint32_t mp_state; /* KVM_MP_STATE_* */
	struct vcpu_regs regs;

	struct vcpu_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct vcpu_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t efer;
	uint64_t apic_base;
	uint64_t interrupt_bitmap[4]; /* an injected external interrupt */

	uint32_t xsave_size; /* bytes of xsave that are valid */
	uint8_t xsave[VCPU_STATE_XSAVE_MAX];
	uint32_t nr_xcrs;
	struct vcpu_xcr xcrs[VCPU_STATE_MAX_XCRS];

	uint32_t nr_msrs;
	struct vcpu_msr msrs[VCPU_STATE_MAX_MSRS];

	struct vcpu_events events;
	struct vcpu_debugregs debug;

	uint32_t nr_cpuid;
	struct vcpu_cpuid cpuid[VCPU_STATE_MAX_CPUID];
};

extern const struct state_desc vcpu_state_desc; /* section "vcpu" */

/* Reads the vCPU's state (~30 KiB: allocate it) in the order KVM requires:
 * MP state first, then registers, XSAVE, XCRs, MSRs, events, debug
 * registers and CPUID.  The vCPU must be out of KVM_RUN. */
int vcpu_state_save(int vcpu_fd, struct vcpu_state *s, struct hyve_err *err);
/* The same plus the local APIC, read after the MP state (reading the MP
 * state lets KVM act on a pending INIT, which resets the APIC). */
int vcpu_state_save_with_lapic(int vcpu_fd, struct vcpu_state *s,
			       struct lapic_state *lapic, struct hyve_err *err);
/* Writes a checked state into a vCPU that has not run since being created
 * (KVM refuses CPUID changes after KVM_RUN).  lapic may be NULL to leave
 * the LAPIC alone; a caller that loads it separately must do so BEFORE
 * this call (see the order in vcpu_state.c). */
int vcpu_state_load(int vcpu_fd, const struct vcpu_state *s,
		    const struct lapic_state *lapic, struct hyve_err *err);
/* Refuses impossible values (counts over capacity, reserved bits, ...). */
int vcpu_state_check(const struct vcpu_state *s, struct hyve_err *err);

/* Pure conversions of the fixed-layout parts (tests use them too). */
void vcpu_regs_decode(const struct kvm_regs *k, struct vcpu_regs *s);
void vcpu_regs_encode(const struct vcpu_regs *s, struct kvm_regs *k);
void vcpu_sregs_decode(const struct kvm_sregs *k, struct vcpu_state *s);
void vcpu_sregs_encode(const struct vcpu_state *s, struct kvm_sregs *k);
void vcpu_events_decode(const struct kvm_vcpu_events *k, struct vcpu_events *s);
void vcpu_events_encode(const struct vcpu_events *s, struct kvm_vcpu_events *k);
void vcpu_debugregs_decode(const struct kvm_debugregs *k, struct vcpu_debugregs *s);
void vcpu_debugregs_encode(const struct vcpu_debugregs *s, struct kvm_debugregs *k);

/* The MSRs saved: KVM_GET_MSR_INDEX_LIST plus the MSRs KVM can read but
 * does not list (MTRRs, APIC base, ...), kept to those this vCPU's
 * KVM_GET_MSRS actually reads.  Probed one by one on first use and cached
 * for the process (one machine per hyve process).  Returns the count. */
int vcpu_state_msr_list(int vcpu_fd, const uint32_t **indices,
			struct hyve_err *err);

#endif
