/* LAPIC register page <-> named registers: round trips and checks, on the
 * host only (no /dev/kvm needed). */
#include "dev/lapic.h"
#include "test_kvmstate.h"

static const unsigned named_regs[] = {
	LAPIC_REG_ID, LAPIC_REG_VERSION, LAPIC_REG_TPR, LAPIC_REG_APR,
	LAPIC_REG_PPR, LAPIC_REG_LDR, LAPIC_REG_DFR, LAPIC_REG_SVR,
	LAPIC_REG_ESR, LAPIC_REG_LVT_CMCI, LAPIC_REG_ICR_LOW, LAPIC_REG_ICR_HIGH,
	LAPIC_REG_LVT_TIMER, LAPIC_REG_LVT_THERMAL, LAPIC_REG_LVT_PERF,
	LAPIC_REG_LVT_LINT0, LAPIC_REG_LVT_LINT1, LAPIC_REG_LVT_ERROR,
	LAPIC_REG_TIMER_INITIAL, LAPIC_REG_TIMER_CURRENT, LAPIC_REG_TIMER_DIVIDE,
};

static void put(struct kvm_lapic_state *p, unsigned off, uint32_t v)
{
	memcpy(p->regs + off, &v, 4);
}

static uint32_t get(const struct kvm_lapic_state *p, unsigned off)
{
	uint32_t v;

	memcpy(&v, p->regs + off, 4);
	return v;
}

/* A page with every named register random and everything else zero. */
static void random_page(struct kvm_lapic_state *p)
{
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < sizeof(named_regs) / sizeof(named_regs[0]); i++)
		put(p, named_regs[i], rnd32());
	for (unsigned i = 0; i < 8; i++) {
		put(p, LAPIC_REG_ISR + 16 * i, rnd32());
		put(p, LAPIC_REG_TMR + 16 * i, rnd32());
		put(p, LAPIC_REG_IRR + 16 * i, rnd32());
	}
}

/* A state a real APIC can hold (what KVM_GET_LAPIC gives after reset,
 * with random values in the writable fields). */
static void random_valid(struct lapic_state *s)
{
	struct kvm_lapic_state p;

	random_page(&p);
	lapic_decode(&p, s);
	s->tpr &= 0xff;
	s->svr &= 0x13ff;
	s->dfr = rndbit() ? 0xffffffffu : 0x0fffffffu;
	s->esr &= 0xff;
	s->timer_divide &= 0xb;
	s->lvt_timer &= 0x000310ffu; /* modes 0 and 1 only */
	s->lvt_thermal &= 0x000117ffu;
	s->lvt_perf &= 0x000117ffu;
	s->lvt_lint0 &= 0x0001f7ffu;
	s->lvt_lint1 &= 0x0001f7ffu;
	s->lvt_error &= 0x000110ffu;
	s->lvt_cmci &= 0x000117ffu;
}

static void lapic_page_round_trip_is_identical(void)
{
	for (int n = 0; n < 2000; n++) {
		struct kvm_lapic_state page, back;
		struct lapic_state s;

		random_page(&page);
		lapic_decode(&page, &s);
		lapic_encode(&s, &back);
		CHECK(memcmp(&page, &back, sizeof(page)) == 0);
	}
}

static void lapic_decode_names_registers_by_offset(void)
{
	struct kvm_lapic_state page;
	struct lapic_state s;

	memset(&page, 0, sizeof(page));
	put(&page, 0x020, 0x03000000);  /* ID 3 */
	put(&page, 0x080, 0x20);        /* TPR */
	put(&page, 0x0f0, 0x1ff);       /* SVR: enabled, vector 0xff */
	put(&page, 0x100 + 16 * 1, 1u << 3);   /* ISR vector 35 */
	put(&page, 0x200 + 16 * 7, 1u << 31);  /* IRR vector 255 */
	put(&page, 0x320, 0x20030);     /* LVT timer periodic, vector 0x30 */
	put(&page, 0x380, 1000000);
	put(&page, 0x390, 123456);
	put(&page, 0x3e0, 0xb);
	lapic_decode(&page, &s);
	CHECK_EQ(s.id, 0x03000000);
	CHECK_EQ(s.tpr, 0x20);
	CHECK_EQ(s.svr, 0x1ff);
	CHECK_EQ(s.isr[1], 1u << 3);
	CHECK_EQ(s.irr[7], 1u << 31);
	CHECK_EQ(s.lvt_timer, 0x20030);
	CHECK_EQ(s.timer_initial_count, 1000000);
	CHECK_EQ(s.timer_current_count, 123456);
	CHECK_EQ(s.timer_divide, 0xb);
	CHECK_EQ(s.version, 0);
}

/* EOI, RRD and self-IPI are not state: encode leaves them zero. */
static void lapic_encode_zeroes_unnamed_offsets(void)
{
	struct kvm_lapic_state page, back;
	struct lapic_state s;

	random_page(&page);
	put(&page, 0x0b0, 0xdeadbeef); /* EOI */
	put(&page, 0x0c0, 0x12345678); /* RRD */
	put(&page, 0x3f0, 0x42);       /* self IPI */
	page.regs[0x024] = 0x7f;       /* inside ID's 16-byte slot */
	lapic_decode(&page, &s);
	lapic_encode(&s, &back);
	CHECK_EQ(get(&back, 0x0b0), 0);
	CHECK_EQ(get(&back, 0x0c0), 0);
	CHECK_EQ(get(&back, 0x3f0), 0);
	CHECK_EQ(back.regs[0x024], 0);
	CHECK_EQ(get(&back, 0x020), get(&page, 0x020));
}

static void lapic_check_accepts_valid_states(void)
{
	struct lapic_state s;
	struct hyve_err err = { 0 };
	int bad = 0;

	for (int n = 0; n < 2000; n++) {
		random_valid(&s);
		err_clear(&err);
		if (lapic_check(&s, &err) != 0) {
			if (!bad++)
				printf("  rejected: %s\n", err.msg);
		}
	}
	CHECK_EQ(bad, 0);
	/* The page KVM gives a new vCPU (seen on this host). */
	struct kvm_lapic_state page;

	memset(&page, 0, sizeof(page));
	put(&page, 0x030, 0x00050014);
	put(&page, 0x0e0, 0xffffffff);
	put(&page, 0x0f0, 0xff);
	put(&page, 0x320, 0x10000);
	put(&page, 0x330, 0x10000);
	put(&page, 0x340, 0x10000);
	put(&page, 0x350, 0x700);
	put(&page, 0x360, 0x10000);
	put(&page, 0x370, 0x10000);
	lapic_decode(&page, &s);
	CHECK_EQ(lapic_check(&s, NULL), 0);
	s.lvt_timer = 0x40000 | 0xef; /* TSC-deadline mode */
	CHECK_EQ(lapic_check(&s, NULL), 0);
}

static void lapic_check_rejects_impossible_values(void)
{
	struct lapic_state good, s;
	struct hyve_err err = { 0 };

	random_valid(&good);
	CHECK_EQ(lapic_check(&good, NULL), 0);

#define REJECT(stmt, word)                                                   \
	do {                                                                 \
		s = good;                                                    \
		stmt;                                                        \
		err_clear(&err);                                             \
		CHECK_EQ(lapic_check(&s, &err), -EINVAL);                    \
		CHECK(strstr(err.msg, word) != NULL);                        \
	} while (0)
	REJECT(s.lvt_timer |= 0x00060000, "timer mode 3");
	REJECT(s.lvt_timer |= 1u << 20, "lvt_timer");
	REJECT(s.lvt_error |= 0x700, "lvt_error");  /* no delivery mode */
	REJECT(s.lvt_thermal |= 0x8000, "lvt_thermal"); /* no trigger bit */
	REJECT(s.lvt_lint0 |= 1u << 17, "lvt_lint0");
	REJECT(s.lvt_cmci |= 1u << 31, "lvt_cmci");
	REJECT(s.tpr = 0x100, "tpr");
	REJECT(s.svr |= 1u << 10, "svr");
	REJECT(s.dfr = 0x5fffffff, "dfr");
	REJECT(s.dfr = 0xf0000000, "dfr");
	REJECT(s.timer_divide = 0x4, "timer_divide");
	REJECT(s.esr = 0x100, "esr");
#undef REJECT
}

static void lapic_encode_cb(const void *state, void *out)
{
	lapic_encode(state, out);
}

static void lapic_state_table_covers_every_register(void)
{
	struct lapic_state s;

	random_valid(&s);
	kvmstate_check_desc(&lapic_state_desc, &s, lapic_encode_cb,
			    sizeof(struct kvm_lapic_state));
	CHECK_EQ(lapic_state_desc.size, sizeof(struct lapic_state));
	CHECK(strcmp(lapic_state_desc.name, "lapic") == 0);
}

int main(void)
{
	RUN_TEST(lapic_page_round_trip_is_identical);
	RUN_TEST(lapic_decode_names_registers_by_offset);
	RUN_TEST(lapic_encode_zeroes_unnamed_offsets);
	RUN_TEST(lapic_check_accepts_valid_states);
	RUN_TEST(lapic_check_rejects_impossible_values);
	RUN_TEST(lapic_state_table_covers_every_register);
	return CHECK_DONE();
}
