/* Reset paths (src/dev/reset.c: port 0xCF9; src/dev/i8042.c: the 8042) and the
 * debug-exit port (src/dev/debug_exit.c), without KVM. */
#include <stdio.h>

#include "check.h"
#include "dev_fake.h"

static struct machine m;

static void reset_setup(bool debug_exit)
{
	fake_machine_init(&m, 64 << 20);
	m.cfg.debug_exit = debug_exit;
	CHECK(fake_add(&m, "reset-control", 0) != NULL);
	CHECK(fake_add(&m, "i8042", 0) != NULL);
	if (debug_exit)
		CHECK(fake_add(&m, "debug-exit", 0) != NULL);
}

static void test_cf9_reset(void)
{
	reset_setup(false);
	pio_write(&m, 0xcf9, 0x02, 1);
	CHECK_EQ(fake.exits, 0);
	CHECK_EQ(pio_read(&m, 0xcf9, 1), 0x02);
	pio_write(&m, 0xcf9, 0x06, 1);
	CHECK_EQ(fake.exits, 1);
	CHECK_EQ(fake.exit_status, HYVE_EXIT_REBOOT);
	pio_write(&m, 0xcf9, 0x0e, 1);
	CHECK_EQ(fake.exits, 2);
	fake_machine_destroy(&m);
}

static void test_i8042_probe_answers(void)
{
	reset_setup(false);
	CHECK_EQ(pio_read(&m, 0x64, 1), 0x14); /* empty buffers, system flag */
	pio_write(&m, 0x64, 0xaa, 1);
	CHECK_EQ(pio_read(&m, 0x64, 1) & 0x01, 0x01);
	CHECK_EQ(pio_read(&m, 0x60, 1), 0x55);
	CHECK_EQ(pio_read(&m, 0x64, 1) & 0x01, 0x00);
	pio_write(&m, 0x64, 0x20, 1);
	CHECK_EQ(pio_read(&m, 0x60, 1), 0x45);
	pio_write(&m, 0x64, 0x60, 1);
	pio_write(&m, 0x60, 0x47, 1);
	pio_write(&m, 0x64, 0x20, 1);
	CHECK_EQ(pio_read(&m, 0x60, 1), 0x47);
	pio_write(&m, 0x64, 0xab, 1);
	CHECK_EQ(pio_read(&m, 0x60, 1), 0x00);
	/* Aux loopback: comes back as mouse data with AUX_OBF, on IRQ 12. */
	pio_write(&m, 0x64, 0xd3, 1);
	pio_write(&m, 0x60, 0x5a, 1);
	CHECK_EQ(pio_read(&m, 0x64, 1) & 0x21, 0x21);
	CHECK_EQ(fake.irq[12], 1);
	CHECK_EQ(pio_read(&m, 0x60, 1), 0x5a);
	CHECK_EQ(fake.irq[12], 0);
	pio_write(&m, 0x64, 0xa7, 1);
	pio_write(&m, 0x64, 0x20, 1);
	CHECK_EQ(pio_read(&m, 0x60, 1) & 0x20, 0x20);
	/* No keyboard: a command to it times out with 0xFE, on IRQ 1. */
	pio_write(&m, 0x60, 0xf2, 1);
	CHECK_EQ(pio_read(&m, 0x64, 1) & 0x41, 0x41);
	CHECK_EQ(fake.irq[1], 1);
	CHECK_EQ(pio_read(&m, 0x60, 1), 0xfe);
	CHECK_EQ(fake.irq[1], 0);
	CHECK_EQ(fake.exits, 0);
	fake_machine_destroy(&m);
}

static void test_i8042_pulse_reset_and_output_port(void)
{
	reset_setup(false);
	pio_write(&m, 0x64, 0xd0, 1);
	CHECK_EQ(pio_read(&m, 0x60, 1), 0x03);
	pio_write(&m, 0x64, 0xd1, 1);
	pio_write(&m, 0x60, 0xdf, 1); /* A20 on, reset high: fine */
	CHECK_EQ(fake.exits, 0);
	pio_write(&m, 0x64, 0xff, 1); /* pulse nothing */
	CHECK_EQ(fake.exits, 0);
	pio_write(&m, 0x64, 0xfe, 1);
	CHECK_EQ(fake.exits, 1);
	CHECK_EQ(fake.exit_status, HYVE_EXIT_REBOOT);
	pio_write(&m, 0x64, 0xd1, 1);
	pio_write(&m, 0x60, 0xde, 1); /* reset line driven low */
	CHECK_EQ(fake.exits, 2);
	fake_machine_destroy(&m);
}

static void test_debug_exit_any_width(void)
{
	/* Not created unless asked for. */
	fake_machine_init(&m, 64 << 20);
	{
		const struct device_type *t = device_type_find("debug-exit");

		CHECK(t != NULL);
		CHECK_EQ(t->builtin_count(&m), 0);
		m.cfg.debug_exit = true;
		CHECK_EQ(t->builtin_count(&m), 1);
	}
	fake_machine_destroy(&m);
	reset_setup(true);
	pio_write(&m, 0xf4, 0, 1);
	CHECK_EQ(fake.exit_status, 1);
	pio_write(&m, 0xf4, 0x21, 2);
	CHECK_EQ(fake.exit_status, 0x43);
	pio_write(&m, 0xf4, 0x7f, 4);
	CHECK_EQ(fake.exit_status, 0xff);
	CHECK_EQ(fake.exits, 3);
	pio_write(&m, 0xf5, 0x7f, 1); /* not the port itself */
	pio_read(&m, 0xf4, 4);
	CHECK_EQ(fake.exits, 3);
	fake_machine_destroy(&m);
}

static void test_reset_state_round_trip(void)
{
	struct device *k, *r;
	void *ks = NULL, *rs = NULL;

	reset_setup(false);
	k = machine_find_device(&m, "i8042", 0);
	r = machine_find_device(&m, "reset-control", 0);
	pio_write(&m, 0x64, 0x60, 1);
	pio_write(&m, 0x60, 0x03, 1);
	pio_write(&m, 0x64, 0xd2, 1);
	pio_write(&m, 0x60, 0x1c, 1);
	pio_write(&m, 0xcf9, 0x0a, 1);
	CHECK(fake_save_check(k, &ks) == 0);
	CHECK(fake_save_check(r, &rs) == 0);
	CHECK(fake_wire_roundtrip(k->type->state, ks));
	CHECK(fake_wire_roundtrip(r->type->state, rs));
	k->type->reset(k);
	r->type->reset(r);
	CHECK_EQ(fake.irq[1], 0);
	CHECK(fake_load(k, ks) == 0);
	CHECK(fake_load(r, rs) == 0);
	CHECK_EQ(fake.irq[1], 1);
	CHECK_EQ(pio_read(&m, 0xcf9, 1), 0x0a);
	CHECK_EQ(pio_read(&m, 0x60, 1), 0x1c);
	pio_write(&m, 0x64, 0x20, 1);
	CHECK_EQ(pio_read(&m, 0x60, 1), 0x03);
	free(ks);
	free(rs);
	fake_machine_destroy(&m);
}

static void test_reset_random_writes_keep_state_valid(void)
{
	struct device *k, *r;

	reset_setup(true);
	k = machine_find_device(&m, "i8042", 0);
	r = machine_find_device(&m, "reset-control", 0);
	for (unsigned i = 0; i < 100000; i++) {
		static const uint16_t ports[] = {0x60, 0x64, 0xcf9, 0xf4,
						 0x5f, 0x63, 0xcf8};
		uint64_t v = fake_rand();
		uint64_t port = ports[v % 7];
		unsigned len = 1u << ((v >> 8) % 3);

		if ((v >> 10) & 1)
			pio_write(&m, port, fake_rand(), len);
		else
			pio_read(&m, port, len);
		if (i % 1000 == 0) {
			CHECK(fake_save_check(k, NULL) == 0);
			CHECK(fake_save_check(r, NULL) == 0);
		}
	}
	CHECK(fake.exits >
	      0); /* resets and debug exits were recorded, no crash */
	fake_machine_destroy(&m);
}

int main(void)
{
	RUN_TEST(test_cf9_reset);
	RUN_TEST(test_i8042_probe_answers);
	RUN_TEST(test_i8042_pulse_reset_and_output_port);
	RUN_TEST(test_debug_exit_any_width);
	RUN_TEST(test_reset_state_round_trip);
	RUN_TEST(test_reset_random_writes_keep_state_valid);
	return CHECK_DONE();
}
