/* Every KVM-held state survives the snapshot codec (src/snap/fields.c):
 * random states -> CBOR field map -> decoded staging copy -> identical,
 * and each variable list keeps exactly its used length. */
#include "dev/ioapic.h"
#include "dev/kvmclock.h"
#include "dev/lapic.h"
#include "dev/pic.h"
#include "dev/pit.h"
#include "hyve/snapshot.h"
#include "hyve/vcpu_state.h"
#include "test_kvmstate.h"

/* Encodes with the state table, decodes into a zeroed copy, compares.
 * States are filled through the KVM-side decoders so bools are 0/1. */
static void round_trip(const struct state_desc *d, const void *state)
{
	struct snap_buf b = { 0 };
	struct hyve_err err = { 0 };
	void *back = calloc(1, d->size);

	CHECK(back != NULL);
	CHECK_EQ(snap_fields_encode(&b, d, state, &err), 0);
	CHECK_EQ(snap_fields_decode(b.data, b.len, d, d->version, back, &err), 0);
	if (err.code)
		printf("  %s: %s\n", d->name, err.msg);
	CHECK(back && memcmp(state, back, d->size) == 0);
	free(back);
	snap_buf_free(&b);
}

static void device_states_survive_the_codec(void)
{
	for (int n = 0; n < 50; n++) {
		struct kvm_lapic_state page;
		struct kvm_ioapic_state kio;
		struct kvm_pic_state kp;
		struct kvm_pit_state2 kpit;
		struct kvm_clock_data kc = { .clock = rnd64() >> 1, .flags = KVM_CLOCK_REALTIME,
					     .realtime = rnd64() };
		struct lapic_state l;
		struct ioapic_state io;
		struct pic_state p;
		struct pit_state t;
		struct kvmclock_state c;

		for (size_t i = 0; i < sizeof(page.regs); i++)
			page.regs[i] = (char)rnd8();
		lapic_decode(&page, &l);
		round_trip(&lapic_state_desc, &l);
		for (size_t i = 0; i < sizeof(kio); i++)
			((uint8_t *)&kio)[i] = rnd8();
		memset(&io, 0, sizeof(io));
		ioapic_decode(&kio, &io);
		round_trip(&ioapic_state_desc, &io);
		memset(&p, 0, sizeof(p));
		for (size_t i = 0; i < sizeof(kp); i++)
			((uint8_t *)&kp)[i] = rnd8();
		pic_decode(&kp, &p.master);
		pic_decode(&kp, &p.slave);
		round_trip(&pic_state_desc, &p);
		for (size_t i = 0; i < sizeof(kpit); i++)
			((uint8_t *)&kpit)[i] = rnd8();
		pit_decode(&kpit, &t, (int64_t)rnd64());
		round_trip(&pit_state_desc, &t);
		kvmclock_decode(&kc, &c);
		c.wall_ns = rnd64();
		round_trip(&kvmclock_state_desc, &c);
	}
}

static void vcpu_state_survives_the_codec(void)
{
	static struct vcpu_state s;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events ev;

	memset(&s, 0, sizeof(s));
	for (size_t i = 0; i < sizeof(sregs); i++)
		((uint8_t *)&sregs)[i] = rnd8() & 1; /* bools must stay 0/1 */
	vcpu_sregs_decode(&sregs, &s);
	for (size_t i = 0; i < sizeof(ev); i++)
		((uint8_t *)&ev)[i] = rnd8() & 1;
	vcpu_events_decode(&ev, &s.events);
	s.mp_state = KVM_MP_STATE_HALTED;
	s.regs.rip = rnd64();
	s.xsave_size = 4096;
	for (int i = 0; i < 4096; i++)
		s.xsave[i] = rnd8();
	s.nr_xcrs = 1;
	s.xcrs[0] = (struct vcpu_xcr){ .index = 0, .value = 7 };
	s.nr_msrs = 70;
	for (uint32_t i = 0; i < s.nr_msrs; i++)
		s.msrs[i] = (struct vcpu_msr){ .index = 0x100 + i, .value = rnd64() };
	s.nr_cpuid = 56;
	for (uint32_t i = 0; i < s.nr_cpuid; i++)
		s.cpuid[i] = (struct vcpu_cpuid){ .function = i, .eax = rnd32(), .edx = rnd32() };
	round_trip(&vcpu_state_desc, &s);
}

int main(void)
{
	RUN_TEST(device_states_survive_the_codec);
	RUN_TEST(vcpu_state_survives_the_codec);
	return CHECK_DONE();
}
