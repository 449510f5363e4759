/* PCI configuration space (src/dev/pci*.c) and the virtio transport's
 * registers (src/dev/virtio_pci.c) on a fake machine, without KVM:
 * mechanism #1 at every width and offset, ECAM, BAR sizing and decode,
 * 0xCF9 still reaching the reset register, MSI-X table masking, INTx, the
 * virtio status/feature handshake, and the saved state by name. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "dev_fake.h"
#include "hyve/pci.h"
#include "hyve/virtio.h"

#define CFG(slot, fn, reg) (0x80000000u | (slot) << 11 | (fn) << 8 | (reg))
#define ECAM(slot, fn, reg) (PCI_ECAM_BASE + ((uint64_t)(slot) << 15) + ((fn) << 12) + (reg))

static struct machine m;
static uint8_t ram[64 << 20] __attribute__((aligned(4096)));

static struct device *add(const char *type, unsigned instance, const char *conf)
{
	struct hyve_err err = { 0 };
	struct device *dev = NULL;

	if (machine_add_device(&m, type, instance, conf, &dev, &err) < 0) {
		printf("  creating %s: %s\n", type, err.msg);
		return NULL;
	}
	return dev;
}

static void setup(void)
{
	fake_machine_init(&m, sizeof(ram));
	m.mem.host = ram;
	CHECK(fake_add(&m, "reset-control", 0) != NULL);
	CHECK(add("pci-host", 0, NULL) != NULL);
	CHECK(add("virtio-rng", 3 * 8, "3:0,virtio-rng") != NULL);
}

static uint32_t cfg_read(unsigned slot, unsigned fn, unsigned reg, unsigned len)
{
	pio_write(&m, 0xcf8, CFG(slot, fn, reg & 0xfc), 4);
	return (uint32_t)pio_read(&m, 0xcfc + (reg & 3), len);
}

static void cfg_write(unsigned slot, unsigned fn, unsigned reg, uint32_t v, unsigned len)
{
	pio_write(&m, 0xcf8, CFG(slot, fn, reg & 0xfc), 4);
	pio_write(&m, 0xcfc + (reg & 3), v, len);
}

static void test_pci_mechanism1_all_widths(void)
{
	setup();
	CHECK_EQ(cfg_read(0, 0, 0, 4), 0x29c08086);
	CHECK_EQ(cfg_read(0, 0, 0, 2), 0x8086);
	CHECK_EQ(cfg_read(0, 0, 2, 2), 0x29c0);
	CHECK_EQ(cfg_read(0, 0, 1, 1), 0x80);
	CHECK_EQ(cfg_read(0, 0, 3, 1), 0x29);
	CHECK_EQ(cfg_read(0, 0, 0x0a, 2), 0x0600); /* host bridge class */
	CHECK_EQ(cfg_read(3, 0, 0, 4), 0x10441af4);
	CHECK_EQ(cfg_read(3, 0, 0x0b, 1), 0x00);
	CHECK_EQ(cfg_read(3, 0, 0x3d, 1), 1); /* INTA# */
	CHECK_EQ(cfg_read(3, 0, 0x3c, 1), pci_intx_gsi(3, 0));
	/* Absent functions and a disabled address read all ones. */
	CHECK_EQ(cfg_read(5, 0, 0, 4), 0xffffffff);
	CHECK_EQ(cfg_read(3, 1, 0, 4), 0xffffffff);
	pio_write(&m, 0xcf8, CFG(0, 0, 0) | (1u << 16), 4); /* bus 1 */
	CHECK_EQ(pio_read(&m, 0xcfc, 4), 0xffffffff);
	pio_write(&m, 0xcf8, 0x00000000, 4);
	CHECK_EQ(pio_read(&m, 0xcfc, 4), 0xffffffff);
	/* The latch keeps only enable/bus/dev/fn/register (bits 1:0 zero). */
	pio_write(&m, 0xcf8, 0xffffffff, 4);
	CHECK_EQ(pio_read(&m, 0xcf8, 4), 0x80fffffc);
	/* Byte accesses at 0xCF8-0xCFB are not the address register; 0xCF9
	 * is still the reset control register. */
	pio_write(&m, 0xcf9, 0x02, 1);
	CHECK_EQ(pio_read(&m, 0xcf9, 1), 0x02);
	CHECK_EQ(pio_read(&m, 0xcf8, 4), 0x80fffffc);
	CHECK_EQ(fake.exits, 0);
	pio_write(&m, 0xcf9, 0x06, 1);
	CHECK_EQ(fake.exits, 1);
	fake_machine_destroy(&m);
}

static void test_pci_ecam_matches_mechanism1(void)
{
	setup();
	CHECK_EQ(mmio_read(&m, ECAM(3, 0, 0), 4), 0x10441af4);
	CHECK_EQ(mmio_read(&m, ECAM(3, 0, 2), 2), 0x1044);
	CHECK_EQ(mmio_read(&m, ECAM(3, 0, 0x100), 4), 0); /* no extended caps */
	CHECK_EQ(mmio_read(&m, ECAM(4, 0, 0), 4), 0xffffffff);
	CHECK_EQ(mmio_read(&m, PCI_ECAM_BASE + (1u << 20), 4), 0xffffffff); /* bus 1 */
	mmio_write(&m, ECAM(3, 0, 0x3c), 0x0b, 1);
	CHECK_EQ(cfg_read(3, 0, 0x3c, 1), 0x0b);
	fake_machine_destroy(&m);
}

static void test_pci_bar_sizing_and_decode(void)
{
	uint32_t bar0, bar1;

	setup();
	bar0 = cfg_read(3, 0, 0x10, 4);
	bar1 = cfg_read(3, 0, 0x14, 4);
	CHECK(bar0 >= PCI_MMIO_BASE && bar0 < PCI_MMIO_BASE + PCI_MMIO_SIZE);
	CHECK_EQ(bar0 & 0x3fff, 0);
	CHECK_EQ(bar1 & 0xfff, 0);
	CHECK(bar1 != bar0);
	CHECK_EQ(cfg_read(3, 0, 4, 2) & 3, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	/* Common config: num_queues = 1 at offset 0x12. */
	CHECK_EQ(mmio_read(&m, bar0 + 0x12, 2), 1);
	cfg_write(3, 0, 0x10, 0xffffffff, 4);
	CHECK_EQ(cfg_read(3, 0, 0x10, 4), 0xffffc000);
	cfg_write(3, 0, 0x10, bar0 + 0x100000, 4); /* move it */
	CHECK_EQ(mmio_read(&m, bar0 + 0x100000 + 0x12, 2), 1);
	CHECK_EQ(mmio_read(&m, bar0 + 0x12, 2), 0xffff);
	cfg_write(3, 0, 4, 0, 2); /* decode off */
	CHECK_EQ(mmio_read(&m, bar0 + 0x100000 + 0x12, 2), 0xffff);
	/* Read-only registers ignore writes. */
	cfg_write(3, 0, 0, 0x12345678, 4);
	CHECK_EQ(cfg_read(3, 0, 0, 4), 0x10441af4);
	fake_machine_destroy(&m);
}

static void test_pci_msix_capability_and_masking(void)
{
	unsigned cap;
	uint32_t table;

	setup();
	cap = cfg_read(3, 0, 0x34, 1);
	CHECK_EQ(cfg_read(3, 0, cap, 1), PCI_CAP_ID_MSIX);
	CHECK_EQ(cfg_read(3, 0, cap + 2, 2), 1); /* 2 vectors, disabled */
	table = (cfg_read(3, 0, 0x10 + 4 * (cfg_read(3, 0, cap + 4, 4) & 7), 4) & ~0xfu) +
		(cfg_read(3, 0, cap + 4, 4) & ~7u);
	CHECK_EQ(mmio_read(&m, table + 12, 4), 1); /* masked after reset */
	mmio_write(&m, table + 12, 0xfffffffe, 4); /* reserved bits stay 0 */
	CHECK_EQ(mmio_read(&m, table + 12, 4), 0);
	mmio_write(&m, table, 0xfee00000, 4);
	mmio_write(&m, table + 8, 0x41, 4);
	CHECK_EQ(mmio_read(&m, table, 8), 0xfee00000);
	cfg_write(3, 0, cap + 2, 0xc000, 2); /* enable + function mask */
	CHECK_EQ(cfg_read(3, 0, cap + 2, 2), 0xc001);
	cfg_write(3, 0, cap + 2, 0x3ffe, 2); /* table size is read-only */
	CHECK_EQ(cfg_read(3, 0, cap + 2, 2), 0x0001);
	fake_machine_destroy(&m);
}

static void test_virtio_feature_handshake_and_reset(void)
{
	uint64_t c;

	setup();
	c = cfg_read(3, 0, 0x10, 4) & ~0xfu;
	mmio_write(&m, c + 0x00, 1, 4);
	CHECK_EQ(mmio_read(&m, c + 0x04, 4), 1); /* VERSION_1 */
	mmio_write(&m, c + 0x14, 3, 1);
	/* Without VERSION_1, FEATURES_OK does not stick (3.1.1). */
	mmio_write(&m, c + 0x14, 0xb, 1);
	CHECK_EQ(mmio_read(&m, c + 0x14, 1), 3);
	mmio_write(&m, c + 0x08, 1, 4);
	mmio_write(&m, c + 0x0c, 1, 4);
	mmio_write(&m, c + 0x14, 0xb, 1);
	CHECK_EQ(mmio_read(&m, c + 0x14, 1), 0xb);
	/* Queue size: powers of two up to the maximum only. */
	CHECK_EQ(mmio_read(&m, c + 0x18, 2), 256);
	mmio_write(&m, c + 0x18, 100, 2);
	CHECK_EQ(mmio_read(&m, c + 0x18, 2), 256);
	mmio_write(&m, c + 0x18, 64, 2);
	CHECK_EQ(mmio_read(&m, c + 0x18, 2), 64);
	/* Enabling a queue whose rings are outside RAM: NEEDS_RESET. */
	mmio_write(&m, c + 0x20, 0xfffff000, 4);
	mmio_write(&m, c + 0x24, 0xffff, 4);
	mmio_write(&m, c + 0x1c, 1, 2);
	CHECK_EQ(mmio_read(&m, c + 0x1c, 2), 0);
	CHECK(mmio_read(&m, c + 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	/* The ISR says "configuration changed" and INTx is raised. */
	CHECK_EQ(fake.irq[pci_intx_gsi(3, 0)], 1);
	CHECK_EQ(mmio_read(&m, c + 0x1000, 1), 2);
	CHECK_EQ(fake.irq[pci_intx_gsi(3, 0)], 0);
	CHECK_EQ(mmio_read(&m, c + 0x1000, 1), 0);
	mmio_write(&m, c + 0x14, 0, 1);
	CHECK_EQ(mmio_read(&m, c + 0x14, 1), 0);
	CHECK_EQ(mmio_read(&m, c + 0x20, 8), 0);
	CHECK_EQ(mmio_read(&m, c + 0x18, 2), 256);
	fake_machine_destroy(&m);
}

static void test_pci_virtio_state_round_trip_and_refusals(void)
{
	struct device *dev;
	struct virtio_pci_state s, t;
	struct hyve_err err = { 0 };
	uint64_t c;

	setup();
	dev = machine_find_device(&m, "virtio-rng", 24);
	c = cfg_read(3, 0, 0x10, 4) & ~0xfu;
	cfg_write(3, 0, 0x3c, 0x0a, 1);
	mmio_write(&m, c + 0x14, 3, 1);
	mmio_write(&m, c + 0x18, 32, 2);
	mmio_write(&m, c + 0x20, 0x1000, 4);
	memset(&s, 0, sizeof(s));
	CHECK_EQ(dev->type->save(dev, &s, &err), 0);
	CHECK_EQ(dev->type->check(&s, &err), 0);
	CHECK_EQ(s.pci.interrupt_line, 0x0a);
	CHECK_EQ(s.virtio.queues[0].size, 32);
	dev->type->reset(dev);
	CHECK_EQ(cfg_read(3, 0, 0x3c, 1), pci_intx_gsi(3, 0));
	CHECK_EQ(dev->type->load(dev, &s, &err), 0);
	CHECK_EQ(cfg_read(3, 0, 0x3c, 1), 0x0a);
	CHECK_EQ(mmio_read(&m, c + 0x14, 1), 3);
	CHECK_EQ(mmio_read(&m, c + 0x18, 2), 32);
	CHECK_EQ(mmio_read(&m, c + 0x20, 8), 0x1000);
	/* Impossible states are refused by check() before anything changes. */
	t = s;
	t.virtio.queues[0].size = 48;
	CHECK(dev->type->check(&t, &err) < 0);
	t = s;
	t.pci.device_id = 0x1042; /* a disk is not an entropy source */
	CHECK(dev->type->check(&t, &err) < 0);
	t = s;
	t.virtio.nr_queues = 2;
	CHECK(dev->type->check(&t, &err) < 0);
	t = s;
	t.virtio.queues[0].last_avail_idx = 100; /* 100 in flight in a queue of 32 */
	CHECK(dev->type->check(&t, &err) < 0);
	/* A capability layout that is not this device's: load refuses. */
	t = s;
	t.pci.caps[0] ^= 0xff;
	err_clear(&err);
	CHECK(dev->type->load(dev, &t, &err) < 0);
	CHECK(strstr(err.msg, "config byte 0x40") != NULL);
	fake_machine_destroy(&m);
}

static void test_pci_slot_conflicts_and_bad_conf(void)
{
	struct hyve_err err = { 0 };

	setup();
	CHECK(machine_add_device(&m, "virtio-rng", 3 * 8, "3:0,virtio-rng", NULL, &err) < 0);
	err_clear(&err);
	{
		char disk[] = "/tmp/hyve-pci-test-XXXXXX", conf[64];
		int fd = mkstemp(disk);

		CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
		snprintf(conf, sizeof(conf), "3:0,virtio-blk,%s", disk);
		CHECK(machine_add_device(&m, "virtio-blk", 3 * 8, conf, NULL, &err) < 0);
		CHECK(strstr(err.msg, "slot 3:0 is taken by virtio-rng 3:0") != NULL);
		err_clear(&err);
		CHECK(machine_add_device(&m, "virtio-blk", 3 * 8 + 1, conf, NULL, &err) < 0);
		CHECK(strstr(err.msg, "instance 25 is not slot 3:0") != NULL);
		close(fd);
		unlink(disk);
	}
	err_clear(&err);
	CHECK(machine_add_device(&m, "virtio-rng", 40, "5,virtio-blk", NULL, &err) < 0);
	err_clear(&err);
	CHECK(machine_add_device(&m, "virtio-rng", 40, "99,virtio-rng", NULL, &err) < 0);
	err_clear(&err);
	CHECK(machine_add_device(&m, "virtio-rng", 40, NULL, NULL, &err) < 0);
	/* A second function in slot 3 makes function 0 multi-function. */
	CHECK_EQ(cfg_read(3, 0, 0x0e, 1), 0x00);
	CHECK(add("virtio-rng", 3 * 8 + 2, "3:2,virtio-rng") != NULL);
	CHECK_EQ(cfg_read(3, 0, 0x0e, 1), 0x80);
	CHECK_EQ(cfg_read(3, 2, 0, 4), 0x10441af4);
	fake_machine_destroy(&m);
}

static void test_virtio_pci_cfg_capability_window(void)
{
	unsigned cap = 0;
	uint64_t c;

	setup();
	c = cfg_read(3, 0, 0x10, 4) & ~0xfu;
	for (unsigned p = cfg_read(3, 0, 0x34, 1); p; p = cfg_read(3, 0, p + 1, 1))
		if (cfg_read(3, 0, p, 1) == PCI_CAP_ID_VNDR && cfg_read(3, 0, p + 3, 1) == 5)
			cap = p;
	CHECK(cap != 0);
	/* num_queues (common config 0x12, 2 bytes) through the window. */
	cfg_write(3, 0, cap + 4, 0, 1);
	cfg_write(3, 0, cap + 8, 0x12, 4);
	cfg_write(3, 0, cap + 12, 2, 4);
	CHECK_EQ(cfg_read(3, 0, cap + 16, 4), 1);
	/* device_status written through it is what MMIO reads. */
	cfg_write(3, 0, cap + 8, 0x14, 4);
	cfg_write(3, 0, cap + 12, 1, 4);
	cfg_write(3, 0, cap + 16, 3, 1);
	CHECK_EQ(mmio_read(&m, c + 0x14, 1), 3);
	/* A window outside BAR 0 or misaligned reads zero and writes nothing. */
	cfg_write(3, 0, cap + 8, 0x13, 4);
	cfg_write(3, 0, cap + 12, 2, 4);
	CHECK_EQ(cfg_read(3, 0, cap + 16, 4), 0);
	cfg_write(3, 0, cap + 4, 5, 1);
	cfg_write(3, 0, cap + 8, 0x14, 4);
	cfg_write(3, 0, cap + 12, 1, 4);
	cfg_write(3, 0, cap + 16, 0, 1);
	CHECK_EQ(mmio_read(&m, c + 0x14, 1), 3);
	fake_machine_destroy(&m);
}

int main(void)
{
	RUN_TEST(test_pci_mechanism1_all_widths);
	RUN_TEST(test_pci_ecam_matches_mechanism1);
	RUN_TEST(test_pci_bar_sizing_and_decode);
	RUN_TEST(test_pci_msix_capability_and_masking);
	RUN_TEST(test_virtio_feature_handshake_and_reset);
	RUN_TEST(test_pci_virtio_state_round_trip_and_refusals);
	RUN_TEST(test_pci_slot_conflicts_and_bad_conf);
	RUN_TEST(test_virtio_pci_cfg_capability_window);
	return CHECK_DONE();
}
