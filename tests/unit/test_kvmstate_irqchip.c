/* 8259 PICs and IOAPIC: KVM_GET_IRQCHIP structs <-> named fields, round
 * trips and checks, on the host only. */
#include "dev/ioapic.h"
#include "dev/pic.h"
#include "test_kvmstate.h"

static void random_kvm_pic(struct kvm_pic_state *k, bool valid)
{
	memset(k, 0, sizeof(*k));
	k->last_irr = rnd8();
	k->irr = rnd8();
	k->imr = rnd8();
	k->isr = rnd8();
	k->priority_add = valid ? rnd8() & 7 : rnd8();
	k->irq_base = valid ? rnd8() & 0xf8 : rnd8();
	k->read_reg_select = rndbit();
	k->poll = rndbit();
	k->special_mask = rndbit();
	k->init_state = valid ? rnd8() & 3 : rnd8();
	k->auto_eoi = rndbit();
	k->rotate_on_auto_eoi = rndbit();
	k->special_fully_nested_mode = rndbit();
	k->init4 = rndbit();
	k->elcr_mask = rndbit() ? 0xf8 : 0xde;
	k->elcr = valid ? rnd8() & k->elcr_mask : rnd8();
}

static void random_kvm_ioapic(struct kvm_ioapic_state *k)
{
	memset(k, 0, sizeof(*k));
	k->base_address = 0xfec00000ull + (rnd32() & 0xfc00);
	k->ioregsel = rnd8();
	k->id = rnd8() & 0xf;
	k->irr = rnd32() & 0xffffff;
	for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		k->redirtbl[i].bits = rnd64() & ~0x00fffffffffe0000ull;
}

static void pic_round_trip_is_identical(void)
{
	for (int n = 0; n < 2000; n++) {
		struct kvm_irqchip chip, back;
		struct pic_chip_state s;

		memset(&chip, 0, sizeof(chip));
		memset(&back, 0, sizeof(back));
		chip.chip_id = back.chip_id = n & 1;
		random_kvm_pic(&chip.chip.pic, n & 2);
		pic_decode(&chip.chip.pic, &s);
		pic_encode(&s, &back.chip.pic);
		CHECK(memcmp(&chip, &back, sizeof(chip)) == 0);
	}
}

static void ioapic_round_trip_is_identical(void)
{
	for (int n = 0; n < 2000; n++) {
		struct kvm_irqchip chip, back;
		struct ioapic_state s;

		memset(&chip, 0, sizeof(chip));
		memset(&back, 0, sizeof(back));
		chip.chip_id = back.chip_id = KVM_IRQCHIP_IOAPIC;
		random_kvm_ioapic(&chip.chip.ioapic);
		ioapic_decode(&chip.chip.ioapic, &s);
		ioapic_encode(&s, &back.chip.ioapic);
		CHECK(memcmp(&chip, &back, sizeof(chip)) == 0);
		CHECK_EQ(ioapic_check(&s, NULL), 0);
	}
}

/* The bit positions agree with KVM's own bit-field view of an entry. */
static void ioapic_redirection_fields_match_kvm_bitfields(void)
{
	for (int n = 0; n < 500; n++) {
		struct kvm_ioapic_state k;
		struct ioapic_state s;

		random_kvm_ioapic(&k);
		ioapic_decode(&k, &s);
		for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++) {
			const struct ioapic_redirection *r = &s.redirection[i];

			CHECK_EQ(r->vector, k.redirtbl[i].fields.vector);
			CHECK_EQ(r->delivery_mode, k.redirtbl[i].fields.delivery_mode);
			CHECK_EQ(r->dest_mode, k.redirtbl[i].fields.dest_mode);
			CHECK_EQ(r->delivery_status, k.redirtbl[i].fields.delivery_status);
			CHECK_EQ(r->polarity, k.redirtbl[i].fields.polarity);
			CHECK_EQ(r->remote_irr, k.redirtbl[i].fields.remote_irr);
			CHECK_EQ(r->trigger_mode, k.redirtbl[i].fields.trig_mode);
			CHECK_EQ(r->mask, k.redirtbl[i].fields.mask);
			CHECK_EQ(r->destination, k.redirtbl[i].fields.dest_id);
		}
	}
}

/* Reserved bits 17-55 are not state: dropped on decode. */
static void ioapic_reserved_bits_are_dropped(void)
{
	struct kvm_ioapic_state k, back;
	struct ioapic_state s;

	random_kvm_ioapic(&k);
	k.redirtbl[5].bits |= 0x00fffffffffe0000ull;
	ioapic_decode(&k, &s);
	ioapic_encode(&s, &back);
	CHECK_EQ(back.redirtbl[5].bits & 0x00fffffffffe0000ull, 0);
	CHECK_EQ(back.redirtbl[5].bits, k.redirtbl[5].bits & ~0x00fffffffffe0000ull);
}

static void pic_check_accepts_and_rejects(void)
{
	struct kvm_pic_state k;
	struct pic_state good, s;
	struct hyve_err err = { 0 };

	for (int n = 0; n < 1000; n++) {
		random_kvm_pic(&k, true);
		pic_decode(&k, &good.master);
		random_kvm_pic(&k, true);
		pic_decode(&k, &good.slave);
		CHECK_EQ(pic_check(&good, NULL), 0);
	}
#define REJECT(stmt, word)                                                   \
	do {                                                                 \
		s = good;                                                    \
		stmt;                                                        \
		err_clear(&err);                                             \
		CHECK_EQ(pic_check(&s, &err), -EINVAL);                      \
		CHECK(strstr(err.msg, word) != NULL);                        \
	} while (0)
	REJECT(s.master.init_state = 4, "master init_state");
	REJECT(s.slave.priority_add = 8, "slave priority_add");
	REJECT(s.master.irq_base = 0x21, "irq_base");
	REJECT((s.slave.elcr_mask = 0xde, s.slave.elcr = 0x01), "elcr");
#undef REJECT
}

static void ioapic_check_rejects_impossible_values(void)
{
	struct kvm_ioapic_state k;
	struct ioapic_state good, s;
	struct hyve_err err = { 0 };

	random_kvm_ioapic(&k);
	ioapic_decode(&k, &good);
	CHECK_EQ(ioapic_check(&good, NULL), 0);
#define REJECT(stmt, word)                                                   \
	do {                                                                 \
		s = good;                                                    \
		stmt;                                                        \
		err_clear(&err);                                             \
		CHECK_EQ(ioapic_check(&s, &err), -EINVAL);                   \
		CHECK(strstr(err.msg, word) != NULL);                        \
	} while (0)
	REJECT(s.id = 16, "id 16");
	REJECT(s.ioregsel = 0x100, "ioregsel");
	REJECT(s.irr = 1u << 24, "irr");
	REJECT(s.base_address = 0xfec00010, "base_address");
	REJECT(s.base_address = 0x100000000ull, "base_address");
	REJECT(s.redirection[23].delivery_mode = 8, "redirection[23]");
	REJECT(s.redirection[0].mask = 2, "redirection[0]");
	REJECT(s.redirection[7].trigger_mode = 0xff, "redirection[7]");
#undef REJECT
}

static void pic_encode_cb(const void *state, void *out)
{
	const struct pic_state *s = state;
	struct kvm_pic_state *k = out;

	pic_encode(&s->master, &k[0]);
	pic_encode(&s->slave, &k[1]);
}

static void ioapic_encode_cb(const void *state, void *out)
{
	ioapic_encode(state, out);
}

static void irqchip_state_tables_cover_every_field(void)
{
	struct kvm_pic_state k;
	struct kvm_ioapic_state ki;
	struct pic_state p;
	struct ioapic_state io;

	random_kvm_pic(&k, true);
	pic_decode(&k, &p.master);
	random_kvm_pic(&k, true);
	pic_decode(&k, &p.slave);
	kvmstate_check_desc(&pic_state_desc, &p, pic_encode_cb, 2 * sizeof(struct kvm_pic_state));
	random_kvm_ioapic(&ki);
	ioapic_decode(&ki, &io);
	kvmstate_check_desc(&ioapic_state_desc, &io, ioapic_encode_cb,
			    sizeof(struct kvm_ioapic_state));
}

int main(void)
{
	RUN_TEST(pic_round_trip_is_identical);
	RUN_TEST(ioapic_round_trip_is_identical);
	RUN_TEST(ioapic_redirection_fields_match_kvm_bitfields);
	RUN_TEST(ioapic_reserved_bits_are_dropped);
	RUN_TEST(pic_check_accepts_and_rejects);
	RUN_TEST(ioapic_check_rejects_impossible_values);
	RUN_TEST(irqchip_state_tables_cover_every_field);
	return CHECK_DONE();
}
