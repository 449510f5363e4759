/* The local APIC of each vCPU, kept by KVM (KVM_GET_LAPIC / KVM_SET_LAPIC),
 * as named registers.  See src/dev/lapic.c. */
#ifndef HYVE_DEV_LAPIC_H
#define HYVE_DEV_LAPIC_H

#include <linux/kvm.h>
#include <stdint.h>

#include "hyve/err.h"
#include "hyve/state.h"

#define LAPIC_VECTOR_WORDS 8 /* 256-bit ISR/TMR/IRR as 8 x 32 bits */

/* Offsets in the 1 KiB register page (Intel SDM vol. 3, table 11-1);
 * every register is 32 bits at a 16-byte stride. */
enum lapic_reg {
	LAPIC_REG_ID = 0x020,
	LAPIC_REG_VERSION = 0x030,
	LAPIC_REG_TPR = 0x080,
	LAPIC_REG_APR = 0x090,
	LAPIC_REG_PPR = 0x0a0,
	LAPIC_REG_LDR = 0x0d0,
	LAPIC_REG_DFR = 0x0e0,
	LAPIC_REG_SVR = 0x0f0,
	LAPIC_REG_ISR = 0x100,
	LAPIC_REG_TMR = 0x180,
	LAPIC_REG_IRR = 0x200,
	LAPIC_REG_ESR = 0x280,
	LAPIC_REG_LVT_CMCI = 0x2f0,
	LAPIC_REG_ICR_LOW = 0x300,
	LAPIC_REG_ICR_HIGH = 0x310,
	LAPIC_REG_LVT_TIMER = 0x320,
	LAPIC_REG_LVT_THERMAL = 0x330,
	LAPIC_REG_LVT_PERF = 0x340,
	LAPIC_REG_LVT_LINT0 = 0x350,
	LAPIC_REG_LVT_LINT1 = 0x360,
	LAPIC_REG_LVT_ERROR = 0x370,
	LAPIC_REG_TIMER_INITIAL = 0x380,
	LAPIC_REG_TIMER_CURRENT = 0x390,
	LAPIC_REG_TIMER_DIVIDE = 0x3e0,
};

/* LVT timer mode, bits 17-18. */
#define LAPIC_TIMER_MODE_SHIFT 17
#define LAPIC_TIMER_ONESHOT 0u
#define LAPIC_TIMER_PERIODIC 1u
#define LAPIC_TIMER_TSC_DEADLINE 2u

/* Registers that software cannot write and that KVM recomputes when the
 * page is loaded: version (from the vCPU's CPUID), APR (KVM keeps 0) and
 * PPR (from TPR and ISR).  They are saved for inspection and so that the
 * page round-trips, but a restore does not depend on them.  The timer's
 * current count is read-only too, but KVM_SET_LAPIC restarts the timer
 * from it, so a running one-shot or periodic count continues where it
 * stopped. */
struct lapic_state {
	uint32_t id;
	uint32_t version; /* read-only */
	uint32_t tpr;
	uint32_t apr; /* read-only */
	uint32_t ppr; /* read-only, derived */
	uint32_t ldr;
	uint32_t dfr;
	uint32_t svr;
	uint32_t isr[LAPIC_VECTOR_WORDS];
	uint32_t tmr[LAPIC_VECTOR_WORDS];
	uint32_t irr[LAPIC_VECTOR_WORDS];
	uint32_t esr;
	uint32_t icr_low;
	uint32_t icr_high;
	uint32_t lvt_timer;
	uint32_t lvt_thermal;
	uint32_t lvt_perf;
	uint32_t lvt_lint0;
	uint32_t lvt_lint1;
	uint32_t lvt_error;
	uint32_t lvt_cmci;
	uint32_t timer_initial_count;
	uint32_t timer_current_count; /* read-only; see above */
	uint32_t timer_divide;
};

extern const struct state_desc lapic_state_desc;

/* Pure conversions.  Encode zeroes the page first, so the page holds the
 * named registers and nothing else (EOI, RRD and self-IPI are write-only
 * or unused and read as zero in KVM's page). */
void lapic_decode(const struct kvm_lapic_state *page, struct lapic_state *s);
void lapic_encode(const struct lapic_state *s, struct kvm_lapic_state *page);
int lapic_check(const struct lapic_state *s, struct hyve_err *err);

/* KVM_GET_LAPIC + decode, encode + KVM_SET_LAPIC on a vCPU fd.  The order
 * of lapic_write among the other vCPU setters matters: see
 * vcpu_state_load() in include/hyve/vcpu_state.h. */
int lapic_read(int vcpu_fd, struct lapic_state *s, struct hyve_err *err);
int lapic_write(int vcpu_fd, const struct lapic_state *s,
		struct hyve_err *err);

#endif
