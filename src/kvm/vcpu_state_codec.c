/* A vCPU's state: KVM's fixed-layout structs <-> named fields, the checks
 * a restored state must pass, and the "vcpu" state table. */
#include <string.h>

#include "hyve/vcpu_state.h"

/* --- conversions --- */

void vcpu_regs_decode(const struct kvm_regs *k, struct vcpu_regs *s)
{
	*s = (struct vcpu_regs){
		.rax = k->rax, .rbx = k->rbx, .rcx = k->rcx, .rdx = k->rdx,
		.rsi = k->rsi, .rdi = k->rdi, .rsp = k->rsp, .rbp = k->rbp,
		.r8 = k->r8, .r9 = k->r9, .r10 = k->r10, .r11 = k->r11,
		.r12 = k->r12, .r13 = k->r13, .r14 = k->r14, .r15 = k->r15,
		.rip = k->rip, .rflags = k->rflags,
	};
}

void vcpu_regs_encode(const struct vcpu_regs *s, struct kvm_regs *k)
{
	*k = (struct kvm_regs){
		.rax = s->rax, .rbx = s->rbx, .rcx = s->rcx, .rdx = s->rdx,
		.rsi = s->rsi, .rdi = s->rdi, .rsp = s->rsp, .rbp = s->rbp,
		.r8 = s->r8, .r9 = s->r9, .r10 = s->r10, .r11 = s->r11,
		.r12 = s->r12, .r13 = s->r13, .r14 = s->r14, .r15 = s->r15,
		.rip = s->rip, .rflags = s->rflags,
	};
}

static void vcpu_segment_decode(const struct kvm_segment *k, struct vcpu_segment *s)
{
	*s = (struct vcpu_segment){
		.base = k->base, .limit = k->limit, .selector = k->selector,
		.type = k->type, .present = k->present, .dpl = k->dpl,
		.db = k->db, .s = k->s, .l = k->l, .g = k->g, .avl = k->avl,
		.unusable = k->unusable,
	};
}

static void vcpu_segment_encode(const struct vcpu_segment *s, struct kvm_segment *k)
{
	*k = (struct kvm_segment){
		.base = s->base, .limit = s->limit, .selector = s->selector,
		.type = s->type, .present = s->present, .dpl = s->dpl,
		.db = s->db, .s = s->s, .l = s->l, .g = s->g, .avl = s->avl,
		.unusable = s->unusable,
	};
}

void vcpu_sregs_decode(const struct kvm_sregs *k, struct vcpu_state *s)
{
	vcpu_segment_decode(&k->cs, &s->cs);
	vcpu_segment_decode(&k->ds, &s->ds);
	vcpu_segment_decode(&k->es, &s->es);
	vcpu_segment_decode(&k->fs, &s->fs);
	vcpu_segment_decode(&k->gs, &s->gs);
	vcpu_segment_decode(&k->ss, &s->ss);
	vcpu_segment_decode(&k->tr, &s->tr);
	vcpu_segment_decode(&k->ldt, &s->ldt);
	s->gdt = (struct vcpu_dtable){ .base = k->gdt.base, .limit = k->gdt.limit };
	s->idt = (struct vcpu_dtable){ .base = k->idt.base, .limit = k->idt.limit };
	s->cr0 = k->cr0;
	s->cr2 = k->cr2;
	s->cr3 = k->cr3;
	s->cr4 = k->cr4;
	s->cr8 = k->cr8;
	s->efer = k->efer;
	s->apic_base = k->apic_base;
	memcpy(s->interrupt_bitmap, k->interrupt_bitmap, sizeof(s->interrupt_bitmap));
}

void vcpu_sregs_encode(const struct vcpu_state *s, struct kvm_sregs *k)
{
	memset(k, 0, sizeof(*k));
	vcpu_segment_encode(&s->cs, &k->cs);
	vcpu_segment_encode(&s->ds, &k->ds);
	vcpu_segment_encode(&s->es, &k->es);
	vcpu_segment_encode(&s->fs, &k->fs);
	vcpu_segment_encode(&s->gs, &k->gs);
	vcpu_segment_encode(&s->ss, &k->ss);
	vcpu_segment_encode(&s->tr, &k->tr);
	vcpu_segment_encode(&s->ldt, &k->ldt);
	k->gdt.base = s->gdt.base;
	k->gdt.limit = s->gdt.limit;
	k->idt.base = s->idt.base;
	k->idt.limit = s->idt.limit;
	k->cr0 = s->cr0;
	k->cr2 = s->cr2;
	k->cr3 = s->cr3;
	k->cr4 = s->cr4;
	k->cr8 = s->cr8;
	k->efer = s->efer;
	k->apic_base = s->apic_base;
	memcpy(k->interrupt_bitmap, s->interrupt_bitmap, sizeof(k->interrupt_bitmap));
}

void vcpu_events_decode(const struct kvm_vcpu_events *k, struct vcpu_events *s)
{
	memset(s, 0, sizeof(*s));
	s->exception = (struct vcpu_exception){
		.injected = k->exception.injected, .nr = k->exception.nr,
		.has_error_code = k->exception.has_error_code,
		.pending = k->exception.pending,
		.error_code = k->exception.error_code,
		.has_payload = k->exception_has_payload,
		.payload = k->exception_payload,
	};
	s->interrupt = (struct vcpu_interrupt){
		.injected = k->interrupt.injected, .nr = k->interrupt.nr,
		.soft = k->interrupt.soft, .shadow = k->interrupt.shadow,
	};
	s->nmi = (struct vcpu_nmi){
		.injected = k->nmi.injected, .pending = k->nmi.pending,
		.masked = k->nmi.masked,
	};
	s->sipi_vector = k->sipi_vector;
	s->flags = k->flags;
	s->smi = (struct vcpu_smi){
		.smm = k->smi.smm, .pending = k->smi.pending,
		.smm_inside_nmi = k->smi.smm_inside_nmi,
		.latched_init = k->smi.latched_init,
	};
	s->triple_fault_pending = k->triple_fault.pending;
}

void vcpu_events_encode(const struct vcpu_events *s, struct kvm_vcpu_events *k)
{
	memset(k, 0, sizeof(*k));
	k->exception.injected = s->exception.injected;
	k->exception.nr = s->exception.nr;
	k->exception.has_error_code = s->exception.has_error_code;
	k->exception.pending = s->exception.pending;
	k->exception.error_code = s->exception.error_code;
	k->exception_has_payload = s->exception.has_payload;
	k->exception_payload = s->exception.payload;
	k->interrupt.injected = s->interrupt.injected;
	k->interrupt.nr = s->interrupt.nr;
	k->interrupt.soft = s->interrupt.soft;
	k->interrupt.shadow = s->interrupt.shadow;
	k->nmi.injected = s->nmi.injected;
	k->nmi.pending = s->nmi.pending;
	k->nmi.masked = s->nmi.masked;
	k->sipi_vector = s->sipi_vector;
	k->flags = s->flags;
	k->smi.smm = s->smi.smm;
	k->smi.pending = s->smi.pending;
	k->smi.smm_inside_nmi = s->smi.smm_inside_nmi;
	k->smi.latched_init = s->smi.latched_init;
	k->triple_fault.pending = s->triple_fault_pending;
}

void vcpu_debugregs_decode(const struct kvm_debugregs *k, struct vcpu_debugregs *s)
{
	memcpy(s->db, k->db, sizeof(s->db));
	s->dr6 = k->dr6;
	s->dr7 = k->dr7;
}

void vcpu_debugregs_encode(const struct vcpu_debugregs *s, struct kvm_debugregs *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->db, s->db, sizeof(k->db));
	k->dr6 = s->dr6;
	k->dr7 = s->dr7;
}

/* --- checks --- */

#define VCPU_EVENT_FLAGS_KNOWN 0x3fu /* KVM_VCPUEVENT_VALID_NMI_PENDING..TRIPLE_FAULT */

static int vcpu_check_segment(const char *name, const struct vcpu_segment *seg,
			      struct hyve_err *err)
{
	if (seg->type > 15 || seg->dpl > 3)
		return err_set(err, EINVAL, "vcpu: segment %s type %u dpl %u out of range", name,
			       seg->type, seg->dpl);
	return 0;
}

static int vcpu_check_events(const struct vcpu_events *e, struct hyve_err *err)
{
	if (e->flags & ~VCPU_EVENT_FLAGS_KNOWN)
		return err_set(err, EINVAL, "vcpu: events.flags 0x%x has unknown bits", e->flags);
	if (e->exception.nr > 31)
		return err_set(err, EINVAL, "vcpu: events.exception.nr %u is not an exception vector",
			       e->exception.nr);
	if (e->interrupt.shadow & ~3u)
		return err_set(err, EINVAL, "vcpu: events.interrupt.shadow 0x%x has unknown bits",
			       e->interrupt.shadow);
	return 0;
}

int vcpu_state_check(const struct vcpu_state *s, struct hyve_err *err)
{
	const struct {
		const char *name;
		const struct vcpu_segment *seg;
	} segs[] = {
		{ "cs", &s->cs }, { "ds", &s->ds }, { "es", &s->es }, { "fs", &s->fs },
		{ "gs", &s->gs }, { "ss", &s->ss }, { "tr", &s->tr }, { "ldt", &s->ldt },
	};
	int r;

	switch (s->mp_state) {
	case KVM_MP_STATE_RUNNABLE:
	case KVM_MP_STATE_UNINITIALIZED: /* an AP before its first INIT */
	case KVM_MP_STATE_INIT_RECEIVED:
	case KVM_MP_STATE_HALTED:
	case KVM_MP_STATE_SIPI_RECEIVED:
	case KVM_MP_STATE_AP_RESET_HOLD:
	case KVM_MP_STATE_SUSPENDED:
		break;
	default:
		return err_set(err, EINVAL, "vcpu: mp_state %u is not an x86 MP state", s->mp_state);
	}
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		r = vcpu_check_segment(segs[i].name, segs[i].seg, err);
		if (r < 0)
			return r;
	}
	/* RFLAGS bits 22-63, CR0 bits 32-63, DR6/DR7 bits 32-63 are reserved
	 * (SDM vol. 3 §2.3, §2.5, §17.2); CR8 holds a 4-bit priority. */
	if (s->regs.rflags >> 22)
		return err_set(err, EINVAL, "vcpu: rflags 0x%llx sets reserved bits",
			       (unsigned long long)s->regs.rflags);
	if (s->cr0 >> 32)
		return err_set(err, EINVAL, "vcpu: cr0 0x%llx sets reserved bits",
			       (unsigned long long)s->cr0);
	if (s->cr8 > 15)
		return err_set(err, EINVAL, "vcpu: cr8 %llu is not 0-15", (unsigned long long)s->cr8);
	if ((s->debug.dr6 >> 32) || (s->debug.dr7 >> 32))
		return err_set(err, EINVAL, "vcpu: dr6/dr7 0x%llx/0x%llx set reserved bits",
			       (unsigned long long)s->debug.dr6, (unsigned long long)s->debug.dr7);
	if (s->xsave_size < VCPU_STATE_XSAVE_MIN || s->xsave_size > VCPU_STATE_XSAVE_MAX)
		return err_set(err, EINVAL, "vcpu: xsave_size %u is not %d-%d", s->xsave_size,
			       VCPU_STATE_XSAVE_MIN, VCPU_STATE_XSAVE_MAX);
	if (s->nr_xcrs > VCPU_STATE_MAX_XCRS)
		return err_set(err, EINVAL, "vcpu: %u XCRs, at most %d", s->nr_xcrs,
			       VCPU_STATE_MAX_XCRS);
	if (s->nr_msrs > VCPU_STATE_MAX_MSRS)
		return err_set(err, EINVAL, "vcpu: %u MSRs, at most %d", s->nr_msrs,
			       VCPU_STATE_MAX_MSRS);
	if (s->nr_cpuid > VCPU_STATE_MAX_CPUID)
		return err_set(err, EINVAL, "vcpu: %u CPUID leaves, at most %d", s->nr_cpuid,
			       VCPU_STATE_MAX_CPUID);
	for (uint32_t i = 0; i < s->nr_msrs; i++)
		for (uint32_t j = i + 1; j < s->nr_msrs; j++)
			if (s->msrs[i].index == s->msrs[j].index)
				return err_set(err, EINVAL, "vcpu: MSR 0x%x appears twice",
					       s->msrs[i].index);
	for (uint32_t i = 0; i < s->nr_cpuid; i++)
		if (s->cpuid[i].flags & ~7u)
			return err_set(err, EINVAL, "vcpu: CPUID 0x%x.%u flags 0x%x has unknown bits",
				       s->cpuid[i].function, s->cpuid[i].index, s->cpuid[i].flags);
	return vcpu_check_events(&s->events, err);
}

/* --- state table --- */

#define T struct vcpu_regs
static const struct state_field vcpu_regs_fields[] = {
	FIELD_U64(T, rax, 1), FIELD_U64(T, rbx, 1), FIELD_U64(T, rcx, 1),
	FIELD_U64(T, rdx, 1), FIELD_U64(T, rsi, 1), FIELD_U64(T, rdi, 1),
	FIELD_U64(T, rsp, 1), FIELD_U64(T, rbp, 1), FIELD_U64(T, r8, 1),
	FIELD_U64(T, r9, 1),  FIELD_U64(T, r10, 1), FIELD_U64(T, r11, 1),
	FIELD_U64(T, r12, 1), FIELD_U64(T, r13, 1), FIELD_U64(T, r14, 1),
	FIELD_U64(T, r15, 1), FIELD_U64(T, rip, 1), FIELD_U64(T, rflags, 1),
	FIELD_END
};
#undef T
static const struct state_desc vcpu_regs_desc =
	STATE_DESC("vcpu_regs", struct vcpu_regs, 1, vcpu_regs_fields);

#define T struct vcpu_segment
static const struct state_field vcpu_segment_fields[] = {
	FIELD_U64(T, base, 1),	  FIELD_U32(T, limit, 1), FIELD_U16(T, selector, 1),
	FIELD_U8(T, type, 1),	  FIELD_BOOL(T, present, 1), FIELD_U8(T, dpl, 1),
	FIELD_BOOL(T, db, 1),	  FIELD_BOOL(T, s, 1),	  FIELD_BOOL(T, l, 1),
	FIELD_BOOL(T, g, 1),	  FIELD_BOOL(T, avl, 1),  FIELD_BOOL(T, unusable, 1),
	FIELD_END
};
#undef T
static const struct state_desc vcpu_segment_desc =
	STATE_DESC("vcpu_segment", struct vcpu_segment, 1, vcpu_segment_fields);

static const struct state_field vcpu_dtable_fields[] = {
	FIELD_U64(struct vcpu_dtable, base, 1),
	FIELD_U16(struct vcpu_dtable, limit, 1),
	FIELD_END
};
static const struct state_desc vcpu_dtable_desc =
	STATE_DESC("vcpu_dtable", struct vcpu_dtable, 1, vcpu_dtable_fields);

static const struct state_field vcpu_msr_fields[] = {
	FIELD_U32(struct vcpu_msr, index, 1),
	FIELD_U64(struct vcpu_msr, value, 1),
	FIELD_END
};
static const struct state_desc vcpu_msr_desc = STATE_DESC("vcpu_msr", struct vcpu_msr, 1, vcpu_msr_fields);

static const struct state_field vcpu_xcr_fields[] = {
	FIELD_U32(struct vcpu_xcr, index, 1),
	FIELD_U64(struct vcpu_xcr, value, 1),
	FIELD_END
};
static const struct state_desc vcpu_xcr_desc = STATE_DESC("vcpu_xcr", struct vcpu_xcr, 1, vcpu_xcr_fields);

#define T struct vcpu_cpuid
static const struct state_field vcpu_cpuid_fields[] = {
	FIELD_U32(T, function, 1), FIELD_U32(T, index, 1), FIELD_U32(T, flags, 1),
	FIELD_U32(T, eax, 1),	   FIELD_U32(T, ebx, 1),   FIELD_U32(T, ecx, 1),
	FIELD_U32(T, edx, 1),	   FIELD_END
};
#undef T
static const struct state_desc vcpu_cpuid_desc =
	STATE_DESC("vcpu_cpuid", struct vcpu_cpuid, 1, vcpu_cpuid_fields);

#define T struct vcpu_exception
static const struct state_field vcpu_exception_fields[] = {
	FIELD_BOOL(T, injected, 1), FIELD_U8(T, nr, 1),	  FIELD_BOOL(T, has_error_code, 1),
	FIELD_BOOL(T, pending, 1),  FIELD_U32(T, error_code, 1), FIELD_BOOL(T, has_payload, 1),
	FIELD_U64(T, payload, 1),   FIELD_END
};
#undef T
static const struct state_desc vcpu_exception_desc =
	STATE_DESC("vcpu_exception", struct vcpu_exception, 1, vcpu_exception_fields);

static const struct state_field vcpu_interrupt_fields[] = {
	FIELD_BOOL(struct vcpu_interrupt, injected, 1),
	FIELD_U8(struct vcpu_interrupt, nr, 1),
	FIELD_BOOL(struct vcpu_interrupt, soft, 1),
	FIELD_U8(struct vcpu_interrupt, shadow, 1),
	FIELD_END
};
static const struct state_desc vcpu_interrupt_desc =
	STATE_DESC("vcpu_interrupt", struct vcpu_interrupt, 1, vcpu_interrupt_fields);

static const struct state_field vcpu_nmi_fields[] = {
	FIELD_BOOL(struct vcpu_nmi, injected, 1),
	FIELD_U8(struct vcpu_nmi, pending, 1),
	FIELD_BOOL(struct vcpu_nmi, masked, 1),
	FIELD_END
};
static const struct state_desc vcpu_nmi_desc = STATE_DESC("vcpu_nmi", struct vcpu_nmi, 1, vcpu_nmi_fields);

static const struct state_field vcpu_smi_fields[] = {
	FIELD_BOOL(struct vcpu_smi, smm, 1),
	FIELD_BOOL(struct vcpu_smi, pending, 1),
	FIELD_BOOL(struct vcpu_smi, smm_inside_nmi, 1),
	FIELD_BOOL(struct vcpu_smi, latched_init, 1),
	FIELD_END
};
static const struct state_desc vcpu_smi_desc = STATE_DESC("vcpu_smi", struct vcpu_smi, 1, vcpu_smi_fields);

#define T struct vcpu_events
static const struct state_field vcpu_events_fields[] = {
	FIELD_STRUCT(T, exception, struct vcpu_exception, vcpu_exception_desc, 1),
	FIELD_STRUCT(T, interrupt, struct vcpu_interrupt, vcpu_interrupt_desc, 1),
	FIELD_STRUCT(T, nmi, struct vcpu_nmi, vcpu_nmi_desc, 1),
	FIELD_U32(T, sipi_vector, 1),
	FIELD_U32(T, flags, 1),
	FIELD_STRUCT(T, smi, struct vcpu_smi, vcpu_smi_desc, 1),
	FIELD_BOOL(T, triple_fault_pending, 1),
	FIELD_END
};
#undef T
static const struct state_desc vcpu_events_desc =
	STATE_DESC("vcpu_events", struct vcpu_events, 1, vcpu_events_fields);

static const struct state_field vcpu_debugregs_fields[] = {
	FIELD_ARRAY_U64(struct vcpu_debugregs, db, 1),
	FIELD_U64(struct vcpu_debugregs, dr6, 1),
	FIELD_U64(struct vcpu_debugregs, dr7, 1),
	FIELD_END
};
static const struct state_desc vcpu_debugregs_desc =
	STATE_DESC("vcpu_debugregs", struct vcpu_debugregs, 1, vcpu_debugregs_fields);

/* The nr_* counts are not fields of their own: each is the element count
 * of its FIELD_STRUCT_VARRAY (FF_VARCOUNT), set by the codec on load. */
#define T struct vcpu_state
#define SEG(name) FIELD_STRUCT(T, name, struct vcpu_segment, vcpu_segment_desc, 1)
static const struct state_field vcpu_state_fields[] = {
	FIELD_U32(T, mp_state, 1),
	FIELD_STRUCT(T, regs, struct vcpu_regs, vcpu_regs_desc, 1),
	SEG(cs), SEG(ds), SEG(es), SEG(fs), SEG(gs), SEG(ss), SEG(tr), SEG(ldt),
	FIELD_STRUCT(T, gdt, struct vcpu_dtable, vcpu_dtable_desc, 1),
	FIELD_STRUCT(T, idt, struct vcpu_dtable, vcpu_dtable_desc, 1),
	FIELD_U64(T, cr0, 1),
	FIELD_U64(T, cr2, 1),
	FIELD_U64(T, cr3, 1),
	FIELD_U64(T, cr4, 1),
	FIELD_U64(T, cr8, 1),
	FIELD_U64(T, efer, 1),
	FIELD_U64(T, apic_base, 1),
	FIELD_ARRAY_U64(T, interrupt_bitmap, 1),
	FIELD_U32(T, xsave_size, 1),
	FIELD_BYTES(T, xsave, 1),
	FIELD_STRUCT_VARRAY(T, xcrs, struct vcpu_xcr, vcpu_xcr_desc, nr_xcrs, 1),
	FIELD_STRUCT_VARRAY(T, msrs, struct vcpu_msr, vcpu_msr_desc, nr_msrs, 1),
	FIELD_STRUCT(T, events, struct vcpu_events, vcpu_events_desc, 1),
	FIELD_STRUCT(T, debug, struct vcpu_debugregs, vcpu_debugregs_desc, 1),
	FIELD_STRUCT_VARRAY(T, cpuid, struct vcpu_cpuid, vcpu_cpuid_desc, nr_cpuid, 1),
	FIELD_END
};
#undef SEG
#undef T

const struct state_desc vcpu_state_desc = STATE_DESC("vcpu", struct vcpu_state, 1, vcpu_state_fields);
