/* PIT (kvm_pit_state2) and VM clock (kvm_clock_data) <-> named fields:
 * round trips, the host-time rebase, and checks, on the host only. */
#include "dev/kvmclock.h"
#include "dev/pit.h"
#include "test_kvmstate.h"

static void random_kvm_pit(struct kvm_pit_state2 *k)
{
	memset(k, 0, sizeof(*k));
	for (int i = 0; i < 3; i++) {
		struct kvm_pit_channel_state *c = &k->channels[i];
		uint8_t m = rnd8() % 7;

		c->count = 1 + rnd32() % 0x10000;
		c->latched_count = (uint16_t)rnd32();
		c->count_latched = rnd8() & 3;
		c->status_latched = rndbit();
		c->status = rnd8();
		c->read_state = rnd8() % 5;
		c->write_state = rnd8() % 5;
		c->write_latch = rnd8();
		c->rw_mode = rnd8() & 3;
		c->mode = m == 6 ? PIT_MODE_UNPROGRAMMED : m;
		c->bcd = rndbit();
		c->gate = rndbit();
		c->count_load_time = (int64_t)rnd64();
	}
	k->flags = rnd32() & (KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON);
}

static void pit_round_trip_is_identical(void)
{
	for (int n = 0; n < 2000; n++) {
		struct kvm_pit_state2 k, back;
		struct pit_state s;
		int64_t offset = (int64_t)rnd64();

		random_kvm_pit(&k);
		pit_decode(&k, &s, offset);
		pit_encode(&s, &back, offset);
		CHECK(memcmp(&k, &back, sizeof(k)) == 0);
		CHECK_EQ(pit_check(&s, NULL), 0);
	}
}

/* count_load_time is a host time: saved as VM clock time, moved to the new
 * host's time base on load. */
static void pit_count_load_time_is_rebased(void)
{
	struct kvm_pit_state2 k, back;
	struct pit_state s;

	random_kvm_pit(&k);
	k.channels[1].count_load_time = 5000000000;     /* host t = 5 s */
	pit_decode(&k, &s, 2000000000 - 5000000000);    /* VM clock 2 s then */
	CHECK_EQ(s.channels[1].count_load_vm_ns, 2000000000);
	/* On a host where VM clock 2 s is host time 100 s: */
	pit_encode(&s, &back, 2000000000 - 100000000000);
	CHECK_EQ(back.channels[1].count_load_time, 100000000000);
}

static void pit_speaker_and_hpet_flags_are_named(void)
{
	struct kvm_pit_state2 k;
	struct pit_state s;

	random_kvm_pit(&k);
	k.flags = KVM_PIT_FLAGS_SPEAKER_DATA_ON;
	k.channels[2].gate = 1;
	pit_decode(&k, &s, 0);
	CHECK(s.speaker_data_on);
	CHECK(!s.hpet_legacy);
	CHECK(s.channels[2].gate);
	k.flags = KVM_PIT_FLAGS_HPET_LEGACY;
	pit_decode(&k, &s, 0);
	CHECK(!s.speaker_data_on);
	CHECK(s.hpet_legacy);
}

static void pit_check_rejects_impossible_values(void)
{
	struct kvm_pit_state2 k;
	struct pit_state good, s;
	struct hyve_err err = { 0 };

	random_kvm_pit(&k);
	pit_decode(&k, &good, 0);
	CHECK_EQ(pit_check(&good, NULL), 0);
	good.channels[0].mode = PIT_MODE_UNPROGRAMMED;
	CHECK_EQ(pit_check(&good, NULL), 0);
#define REJECT(stmt, word)                                                   \
	do {                                                                 \
		s = good;                                                    \
		stmt;                                                        \
		err_clear(&err);                                             \
		CHECK_EQ(pit_check(&s, &err), -EINVAL);                      \
		CHECK(strstr(err.msg, word) != NULL);                        \
	} while (0)
	REJECT(s.channels[0].mode = 6, "channel 0 mode 6");
	REJECT(s.channels[1].mode = 0xfe, "channel 1 mode");
	REJECT(s.channels[2].count = 0, "channel 2 count 0");
	REJECT(s.channels[2].count = 0x10001, "count 65537");
	REJECT(s.channels[0].rw_mode = 4, "rw_mode");
	REJECT(s.channels[1].read_state = 5, "read/write state");
	REJECT(s.channels[1].write_state = 9, "read/write state");
	REJECT(s.channels[0].count_latched = 4, "count_latched");
#undef REJECT
}

static void kvmclock_round_trip_is_identical(void)
{
	for (int n = 0; n < 2000; n++) {
		struct kvm_clock_data k, back;
		struct kvmclock_state s;

		memset(&k, 0, sizeof(k));
		k.clock = rnd64() >> 1;
		k.flags = rnd32() & (KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC);
		if (k.flags & KVM_CLOCK_REALTIME)
			k.realtime = rnd64();
		if (k.flags & KVM_CLOCK_HOST_TSC)
			k.host_tsc = rnd64();
		kvmclock_decode(&k, &s);
		kvmclock_encode(&s, &back);
		CHECK(memcmp(&k, &back, sizeof(k)) == 0);
		CHECK_EQ(kvmclock_check(&s, NULL), 0);
	}
}

static void kvmclock_check_rejects_impossible_values(void)
{
	struct kvmclock_state s = { .clock_ns = 1000 };
	struct hyve_err err = { 0 };

	CHECK_EQ(kvmclock_check(&s, NULL), 0);
	s.clock_ns = 1ull << 63;
	CHECK_EQ(kvmclock_check(&s, &err), -EINVAL);
	CHECK(strstr(err.msg, "clock_ns") != NULL);
	s = (struct kvmclock_state){ .clock_ns = 1, .realtime_ns = 5 };
	CHECK_EQ(kvmclock_check(&s, NULL), -EINVAL);
	s = (struct kvmclock_state){ .clock_ns = 1, .host_tsc = 5 };
	CHECK_EQ(kvmclock_check(&s, NULL), -EINVAL);
}

static void pit_encode_cb(const void *state, void *out)
{
	pit_encode(state, out, 12345);
}

static void kvmclock_encode_cb(const void *state, void *out)
{
	kvmclock_encode(state, out);
}

static void timer_state_tables_cover_every_field(void)
{
	struct kvm_pit_state2 k;
	struct kvm_clock_data c = { .clock = 77, .flags = KVM_CLOCK_REALTIME, .realtime = 9 };
	struct pit_state s;
	struct kvmclock_state cs;

	random_kvm_pit(&k);
	pit_decode(&k, &s, 12345);
	kvmstate_check_desc(&pit_state_desc, &s, pit_encode_cb, sizeof(k));
	kvmclock_decode(&c, &cs);
	kvmstate_check_desc(&kvmclock_state_desc, &cs, kvmclock_encode_cb, sizeof(c));
}

int main(void)
{
	RUN_TEST(pit_round_trip_is_identical);
	RUN_TEST(pit_count_load_time_is_rebased);
	RUN_TEST(pit_speaker_and_hpet_flags_are_named);
	RUN_TEST(pit_check_rejects_impossible_values);
	RUN_TEST(kvmclock_round_trip_is_identical);
	RUN_TEST(kvmclock_check_rejects_impossible_values);
	RUN_TEST(timer_state_tables_cover_every_field);
	return CHECK_DONE();
}
