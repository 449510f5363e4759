/* vCPU state: KVM's regs, sregs, vcpu_events and debugregs <-> named
 * fields, the checks and the "vcpu" state table, on the host only. */
#include "hyve/vcpu_state.h"
#include "test_kvmstate.h"

static void random_segment(struct kvm_segment *s)
{
	s->base = rnd64();
	s->limit = rnd32();
	s->selector = (uint16_t)rnd32();
	s->type = rnd8() & 15;
	s->present = rndbit();
	s->dpl = rnd8() & 3;
	s->db = rndbit();
	s->s = rndbit();
	s->l = rndbit();
	s->g = rndbit();
	s->avl = rndbit();
	s->unusable = rndbit();
}

static void random_sregs(struct kvm_sregs *k)
{
	memset(k, 0, sizeof(*k));
	random_segment(&k->cs);
	random_segment(&k->ds);
	random_segment(&k->es);
	random_segment(&k->fs);
	random_segment(&k->gs);
	random_segment(&k->ss);
	random_segment(&k->tr);
	random_segment(&k->ldt);
	k->gdt.base = rnd64();
	k->gdt.limit = (uint16_t)rnd32();
	k->idt.base = rnd64();
	k->idt.limit = (uint16_t)rnd32();
	k->cr0 = rnd32();
	k->cr2 = rnd64();
	k->cr3 = rnd64();
	k->cr4 = rnd64();
	k->cr8 = rnd8() & 15;
	k->efer = rnd64();
	k->apic_base = rnd64();
	for (int i = 0; i < 4; i++)
		k->interrupt_bitmap[i] = rnd64();
}

static void random_events(struct kvm_vcpu_events *k)
{
	memset(k, 0, sizeof(*k));
	k->exception.injected = rndbit();
	k->exception.nr = rnd8() & 31;
	k->exception.has_error_code = rndbit();
	k->exception.pending = rndbit();
	k->exception.error_code = rnd32();
	k->interrupt.injected = rndbit();
	k->interrupt.nr = rnd8();
	k->interrupt.soft = rndbit();
	k->interrupt.shadow = rnd8() & 3;
	k->nmi.injected = rndbit();
	k->nmi.pending = rnd8() % 3;
	k->nmi.masked = rndbit();
	k->sipi_vector = rnd32();
	k->flags = rnd32() & 0x3f;
	k->smi.smm = rndbit();
	k->smi.pending = rndbit();
	k->smi.smm_inside_nmi = rndbit();
	k->smi.latched_init = rndbit();
	k->triple_fault.pending = rndbit();
	k->exception_has_payload = rndbit();
	k->exception_payload = rnd64();
}

static void vcpu_regs_round_trip_is_identical(void)
{
	for (int n = 0; n < 1000; n++) {
		struct kvm_regs k, back;
		struct vcpu_regs s;
		uint64_t *w = (uint64_t *)&k;

		for (size_t i = 0; i < sizeof(k) / 8; i++)
			w[i] = rnd64();
		vcpu_regs_decode(&k, &s);
		vcpu_regs_encode(&s, &back);
		CHECK(memcmp(&k, &back, sizeof(k)) == 0);
	}
}

static void vcpu_sregs_round_trip_is_identical(void)
{
	static struct vcpu_state s;

	for (int n = 0; n < 1000; n++) {
		struct kvm_sregs k, back;

		random_sregs(&k);
		vcpu_sregs_decode(&k, &s);
		vcpu_sregs_encode(&s, &back);
		CHECK(memcmp(&k, &back, sizeof(k)) == 0);
	}
}

static void vcpu_events_round_trip_is_identical(void)
{
	for (int n = 0; n < 1000; n++) {
		struct kvm_vcpu_events k, back;
		struct vcpu_events s;

		random_events(&k);
		vcpu_events_decode(&k, &s);
		vcpu_events_encode(&s, &back);
		CHECK(memcmp(&k, &back, sizeof(k)) == 0);
	}
}

static void vcpu_debugregs_round_trip_is_identical(void)
{
	for (int n = 0; n < 1000; n++) {
		struct kvm_debugregs k, back;
		struct vcpu_debugregs s;

		memset(&k, 0, sizeof(k));
		for (int i = 0; i < 4; i++)
			k.db[i] = rnd64();
		k.dr6 = rnd32();
		k.dr7 = rnd32();
		vcpu_debugregs_decode(&k, &s);
		vcpu_debugregs_encode(&s, &back);
		CHECK(memcmp(&k, &back, sizeof(k)) == 0);
	}
}

/* A plausible state: real-mode reset registers plus a few lists. */
static void valid_state(struct vcpu_state *s)
{
	struct kvm_sregs k;
	struct kvm_vcpu_events e;

	memset(s, 0, sizeof(*s));
	random_sregs(&k);
	vcpu_sregs_decode(&k, s);
	random_events(&e);
	vcpu_events_decode(&e, &s->events);
	s->regs.rip = 0xfff0;
	s->regs.rflags = 2;
	s->debug.dr6 = 0xffff0ff0;
	s->debug.dr7 = 0x400;
	s->xsave_size = 4096;
	s->xsave[0] = 0x7f;
	s->nr_xcrs = 1;
	s->xcrs[0] = (struct vcpu_xcr){ .index = 0, .value = 1 };
	s->nr_msrs = 3;
	s->msrs[0] = (struct vcpu_msr){ .index = 0x10, .value = 12345 };
	s->msrs[1] = (struct vcpu_msr){ .index = 0x1b, .value = 0xfee00900 };
	s->msrs[2] = (struct vcpu_msr){ .index = 0x6e0, .value = 0 };
	s->nr_cpuid = 2;
	s->cpuid[0] = (struct vcpu_cpuid){ .function = 0, .eax = 0xd };
	s->cpuid[1] = (struct vcpu_cpuid){ .function = 0xd, .index = 1, .flags = 1 };
}

static void vcpu_check_accepts_and_rejects(void)
{
	static struct vcpu_state good, s;
	struct hyve_err err = { 0 };

	valid_state(&good);
	err_clear(&err);
	CHECK_EQ(vcpu_state_check(&good, &err), 0);
	if (err.code)
		printf("  rejected: %s\n", err.msg);
	for (uint32_t mp = 0; mp <= 10; mp++) {
		good.mp_state = mp;
		int ok = mp <= 4 || mp == 9 || mp == 10; /* x86 states only */

		CHECK_EQ(vcpu_state_check(&good, NULL), ok ? 0 : -EINVAL);
	}
	good.mp_state = KVM_MP_STATE_HALTED;
#define REJECT(stmt, word)                                                   \
	do {                                                                 \
		s = good;                                                    \
		stmt;                                                        \
		err_clear(&err);                                             \
		CHECK_EQ(vcpu_state_check(&s, &err), -EINVAL);               \
		CHECK(strstr(err.msg, word) != NULL);                        \
	} while (0)
	REJECT(s.mp_state = 11, "mp_state");
	REJECT(s.cs.type = 16, "segment cs");
	REJECT(s.tr.dpl = 4, "segment tr");
	REJECT(s.regs.rflags = 1ull << 22, "rflags");
	REJECT(s.cr0 = 1ull << 32, "cr0");
	REJECT(s.cr8 = 16, "cr8");
	REJECT(s.debug.dr7 = 1ull << 40, "dr6/dr7");
	REJECT(s.xsave_size = VCPU_STATE_XSAVE_MAX + 1, "xsave_size");
	REJECT(s.xsave_size = 512, "xsave_size");
	REJECT(s.nr_xcrs = VCPU_STATE_MAX_XCRS + 1, "XCRs");
	REJECT(s.nr_msrs = VCPU_STATE_MAX_MSRS + 1, "MSRs");
	REJECT(s.nr_cpuid = VCPU_STATE_MAX_CPUID + 1, "CPUID");
	REJECT(s.msrs[2].index = 0x10, "MSR 0x10 appears twice");
	REJECT(s.cpuid[1].flags = 8, "CPUID 0xd.1");
	REJECT(s.events.flags = 0x40, "events.flags");
	REJECT(s.events.exception.nr = 32, "exception.nr");
	REJECT(s.events.interrupt.shadow = 4, "shadow");
#undef REJECT
}

/* Everything vcpu_state_load hands to KVM, in one buffer. */
struct vcpu_encoded {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debug;
	uint32_t mp_state, xsave_size, nr_xcrs, nr_msrs, nr_cpuid;
};

static void vcpu_encode_cb(const void *state, void *out)
{
	const struct vcpu_state *s = state;
	struct vcpu_encoded *e = out;

	vcpu_regs_encode(&s->regs, &e->regs);
	vcpu_sregs_encode(s, &e->sregs);
	vcpu_events_encode(&s->events, &e->events);
	vcpu_debugregs_encode(&s->debug, &e->debug);
	e->mp_state = s->mp_state;
	e->xsave_size = s->xsave_size;
	e->nr_xcrs = s->nr_xcrs;
	e->nr_msrs = s->nr_msrs;
	e->nr_cpuid = s->nr_cpuid;
}

static void vcpu_state_table_covers_every_field(void)
{
	static struct vcpu_state s;
	const struct state_field *f;
	const char *want[] = { "mp_state", "regs", "cs", "ldt", "gdt", "idt", "cr0", "cr8",
			       "efer", "apic_base", "interrupt_bitmap", "xsave_size", "xsave",
			       "xcrs", "msrs", "events", "debug", "cpuid" };

	valid_state(&s);
	kvmstate_check_desc(&vcpu_state_desc, &s, vcpu_encode_cb, sizeof(struct vcpu_encoded));
	CHECK(strcmp(vcpu_state_desc.name, "vcpu") == 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		for (f = vcpu_state_desc.fields; f->name; f++)
			if (strcmp(f->name, want[i]) == 0)
				break;
		CHECK(f->name != NULL);
	}
	/* The lists are variable-length, bounded by their capacity. */
	for (f = vcpu_state_desc.fields; f->name; f++) {
		if (strcmp(f->name, "msrs") == 0)
			CHECK(f->flags & FF_VARCOUNT && f->count == VCPU_STATE_MAX_MSRS);
		if (strcmp(f->name, "xsave") == 0)
			CHECK(f->type == FT_BYTES && f->size == VCPU_STATE_XSAVE_MAX);
	}
}

int main(void)
{
	RUN_TEST(vcpu_regs_round_trip_is_identical);
	RUN_TEST(vcpu_sregs_round_trip_is_identical);
	RUN_TEST(vcpu_events_round_trip_is_identical);
	RUN_TEST(vcpu_debugregs_round_trip_is_identical);
	RUN_TEST(vcpu_check_accepts_and_rejects);
	RUN_TEST(vcpu_state_table_covers_every_field);
	return CHECK_DONE();
}
