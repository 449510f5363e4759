/* Linux bzImage loader against a synthesized bzImage (setup header only,
 * facts from boot.rst): placement, zero page, command line, initrd, page
 * tables, and the refusals (old protocol, initrd too big, cmdline too long). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "hyve/boot.h"

#define RAM	    (64ULL << 20)
#define IMG_LEN	    0x3000
#define SETUP_SECTS 3 /* protected-mode code at (3 + 1) * 512 = 0x800 */
#define PM_OFF	    0x800
#define PREF	    0x1000000ULL
#define INIT_SIZE   0x800000U

static struct guest_mem gm;
static struct vm_config cfg;
static char tmpdir[] = "/tmp/hyve-linux-XXXXXX";
static uint8_t img[IMG_LEN];

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}
static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}
static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}
static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t *at(uint64_t gpa)
{
	return guest_ptr(&gm, gpa, 1);
}

static void mem_setup(uint64_t size)
{
	struct hyve_err err = {0};

	if (gm.host)
		munmap(gm.host, gm.size);
	if (guest_mem_layout(&gm, size, &err) != 0) {
		printf("FAIL: setup: %s\n", err.msg);
		exit(1);
	}
	/* Lazily backed, so a 64 GiB guest costs only the pages touched. */
	gm.host = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (gm.host == MAP_FAILED) {
		printf("FAIL: setup: mmap %llu bytes\n",
		       (unsigned long long)size);
		exit(1);
	}
}

/* A 2.15 bzImage header: relocatable, 64-bit, pref_address 16 MiB. */
static void reset(void)
{
	memset(gm.host, 0xAA, 40ULL << 20 < gm.size ? 40ULL << 20 : gm.size);
	memset(img, 0, sizeof(img));
	img[0x1f1] = SETUP_SECTS;
	put16(img + 0x1fe, 0xAA55);
	img[0x200] = 0xeb;
	img[0x201] = 0x6a; /* header ends at 0x202 + 0x6a = 0x26c */
	memcpy(img + 0x202, "HdrS", 4);
	put16(img + 0x206, 0x020f);
	img[0x211] = 0x01; /* LOADED_HIGH */
	put32(img + 0x214, 0x100000);
	put32(img + 0x22c, 0x7fffffff); /* initrd_addr_max */
	put32(img + 0x230, 0x200000);	/* kernel_alignment */
	img[0x234] = 1;			/* relocatable */
	put16(img + 0x236, 0x3);  /* XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	put32(img + 0x238, 2047); /* cmdline_size */
	put64(img + 0x258, PREF);
	put32(img + 0x260, INIT_SIZE);
	for (unsigned i = PM_OFF; i < IMG_LEN; i++)
		img[i] = (uint8_t)(i * 3);
	vm_config_defaults(&cfg);
	snprintf(cfg.kernel, sizeof(cfg.kernel), "%s/bzImage", tmpdir);
	strcpy(cfg.cmdline, "console=ttyS0 quiet");
	cfg.cmdline_set = true;
}

static int load(struct boot_entry *e, struct hyve_err *err)
{
	err_clear(err);
	return linux_load(&gm, &cfg, img, IMG_LEN, e, err);
}

static void make_file(const char *path, uint64_t size, int pattern)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	if (pattern) {
		static uint8_t buf[4096];

		for (uint64_t off = 0; off < size; off += sizeof(buf)) {
			size_t n = size - off < sizeof(buf)
				       ? (size_t)(size - off)
				       : sizeof(buf);

			for (size_t i = 0; i < n; i++)
				buf[i] = (uint8_t)((off + i) * 13 + 1);
			CHECK_EQ(write(fd, buf, n), n);
		}
	} else {
		CHECK_EQ(ftruncate(fd, (off_t)size), 0); /* sparse */
	}
	close(fd);
}

static void test_linux_loads_at_pref_address_and_fills_zero_page(void)
{
	struct hyve_err err = {0};
	struct boot_entry e;
	struct e820_entry map[BOOT_E820_MAX];
	unsigned n = boot_e820(&gm, map, BOOT_E820_MAX);
	uint8_t *bp;

	reset();
	CHECK_EQ(load(&e, &err), 0);
	CHECK(memcmp(at(PREF), img + PM_OFF, IMG_LEN - PM_OFF) == 0);
	CHECK_EQ(e.mode, BOOT_LONG64);
	CHECK_EQ(e.rip, PREF + 0x200);
	/* Boot data in conventional memory, apart from each other. */
	CHECK(e.rsi >= BOOT_LOW_FLOOR && e.rsi + 4096 <= BOOT_EBDA_START);
	CHECK(e.cr3 >= BOOT_LOW_FLOOR && e.cr3 + 6 * 4096 <= BOOT_EBDA_START);
	CHECK_EQ(e.rsi % 4096, 0);
	CHECK_EQ(e.cr3 % 4096, 0);
	CHECK(e.cr3 >= e.rsi + 4096 || e.cr3 + 6 * 4096 <= e.rsi);
	CHECK(e.gdt_base >= BOOT_LOW_FLOOR && e.gdt_base < BOOT_EBDA_START);
	CHECK(e.rsp > BOOT_LOW_FLOOR && e.rsp <= BOOT_EBDA_START);
	CHECK(e.gdt_base + 32 <= e.rsi || e.gdt_base >= e.rsi + 4096);
	CHECK(e.rsp <= e.rsi || e.rsp - BOOT_STACK_SIZE >= e.rsi + 4096);
	CHECK_EQ(get64(at(e.gdt_base + BOOT_SEL_CODE64)),
		 BOOT_GDT_DESC_CODE64);
	bp = at(e.rsi);
	CHECK(memcmp(bp + 0x202, "HdrS", 4) == 0);
	CHECK_EQ(get16(bp + 0x206), 0x020f);
	CHECK_EQ(bp[0x1ef], 0);		     /* sentinel */
	CHECK_EQ(bp[0x210], 0xff);	     /* type_of_loader */
	CHECK_EQ(bp[0x211], 0x81);	     /* LOADED_HIGH | CAN_USE_HEAP */
	CHECK_EQ(get16(bp + 0x224), 0xfe00); /* heap_end_ptr */
	CHECK_EQ(get16(bp + 0x1fa), 0xffff); /* vid_mode normal */
	CHECK_EQ(get32(bp + 0x214), PREF);   /* code32_start */
	CHECK(get32(bp + 0x228) >= BOOT_LOW_FLOOR &&
	      get32(bp + 0x228) < BOOT_EBDA_START);
	CHECK(get32(bp + 0x228) >= e.rsi + 4096 ||
	      get32(bp + 0x228) + 20 <= e.rsi);
	CHECK(strcmp((char *)at(get32(bp + 0x228)), "console=ttyS0 quiet") ==
	      0);
	CHECK_EQ(get64(bp + 0x070), BOOT_ACPI_RSDP_ADDR);
	CHECK_EQ(get32(bp + 0x218), 0); /* no initrd */
	CHECK_EQ(get32(bp + 0x21c), 0);
	CHECK_EQ(bp[0x1e8], n);
	CHECK_EQ(n, 3);
	CHECK(memcmp(bp + 0x2d0, map, n * 20) == 0);
	CHECK_EQ(get64(bp + 0x2d0 + 2 * 20 + 8), RAM - 0x100000);
	CHECK_EQ(get32(bp + 0x2d0 + 1 * 20 + 16), E820_RESERVED);
	CHECK_EQ(get64(bp + 0x290), 0); /* nothing past the header */
}

static void test_linux_non_relocatable_loads_at_1mib(void)
{
	struct hyve_err err = {0};
	struct boot_entry e;

	reset();
	img[0x234] = 0;
	CHECK_EQ(load(&e, &err), 0);
	CHECK(memcmp(at(0x100000), img + PM_OFF, IMG_LEN - PM_OFF) == 0);
	CHECK_EQ(e.rip, 0x100200);
	CHECK_EQ(get32(at(e.rsi) + 0x214), 0x100000);
}

static void test_linux_initrd_high_and_page_aligned(void)
{
	struct hyve_err err = {0};
	struct boot_entry e;
	uint64_t size = (1 << 20) + 5, addr;
	uint8_t *bp;
	int ok = 1;

	reset();
	snprintf(cfg.initrd, sizeof(cfg.initrd), "%s/initrd", tmpdir);
	make_file(cfg.initrd, size, 1);
	CHECK_EQ(load(&e, &err), 0);
	bp = at(e.rsi);
	addr = get32(bp + 0x218);
	CHECK_EQ(get32(bp + 0x21c), size);
	CHECK_EQ(addr,
		 (RAM - size) & ~0xfffULL); /* as high as low RAM allows */
	CHECK(addr >= PREF + INIT_SIZE);
	for (uint64_t i = 0; i < size && ok; i++)
		ok = *at(addr + i) == (uint8_t)(i * 13 + 1);
	CHECK(ok);

	/* initrd_addr_max is the last byte the initrd may occupy. */
	reset();
	put32(img + 0x22c, 0x01ffffff);
	snprintf(cfg.initrd, sizeof(cfg.initrd), "%s/initrd", tmpdir);
	CHECK_EQ(load(&e, &err), 0);
	addr = get32(at(e.rsi) + 0x218);
	CHECK_EQ(addr, (0x2000000 - size) & ~0xfffULL);
	CHECK(addr + size <= 0x2000000);
	unlink(cfg.initrd);
}

static void test_linux_rejects_initrd_too_large(void)
{
	struct hyve_err err = {0};
	struct boot_entry e;

	reset();
	put32(img + 0x22c, 0x01ffffff); /* room: 24 MiB .. 32 MiB */
	snprintf(cfg.initrd, sizeof(cfg.initrd), "%s/initrd-big", tmpdir);
	make_file(cfg.initrd, 8ULL << 20, 0);
	CHECK_EQ(load(&e, &err), 0); /* exactly fits */
	make_file(cfg.initrd, (8ULL << 20) + 1, 0);
	CHECK(load(&e, &err) < 0);
	CHECK(strstr(err.msg, "initrd") && strstr(err.msg, "do not fit"));
	CHECK(strstr(err.msg, cfg.initrd) != NULL);
	unlink(cfg.initrd);

	err_clear(&err);
	snprintf(cfg.initrd, sizeof(cfg.initrd), "%s/no-such-initrd", tmpdir);
	CHECK(load(&e, &err) < 0);
	CHECK(strstr(err.msg, "no-such-initrd") &&
	      strstr(err.msg, "No such file"));
}

static void test_linux_rejects_cmdline_too_long(void)
{
	struct hyve_err err = {0};
	struct boot_entry e;

	reset();
	put32(img + 0x238, 16);
	strcpy(cfg.cmdline, "0123456789abcdef"); /* 16: allowed */
	CHECK_EQ(load(&e, &err), 0);
	strcpy(cfg.cmdline, "0123456789abcdefg"); /* 17 */
	CHECK(load(&e, &err) < 0);
	CHECK(strstr(err.msg, "command line is 17 bytes, longer than the "
			      "kernel's limit of 16") != NULL);
}

static void test_linux_rejects_old_protocol_and_missing_features(void)
{
	struct hyve_err err = {0};
	struct boot_entry e;

	reset();
	put16(img + 0x206, 0x0209);
	CHECK(load(&e, &err) < 0);
	CHECK(strstr(err.msg, "boot protocol 2.09 is too old") != NULL);

	reset();
	img[0x211] = 0;
	CHECK(load(&e, &err) < 0);
	CHECK(strstr(err.msg, "LOADED_HIGH") != NULL);

	reset();
	put16(img + 0x236, 0);
	CHECK(load(&e, &err) < 0);
	CHECK(strstr(err.msg, "XLF_KERNEL_64") != NULL);

	reset();
	img[0x201] = 0x20; /* header too short for 2.10 */
	CHECK(load(&e, &err) < 0);
	CHECK(strstr(err.msg, "setup header") != NULL);

	reset();
	img[0x1f1] = 0xff; /* setup code larger than the file */
	CHECK(load(&e, &err) < 0);
	CHECK(strstr(err.msg, "setup code") != NULL);

	reset();
	put32(img + 0x260, 0x7f000000); /* init_size beyond RAM */
	CHECK(load(&e, &err) < 0);
	CHECK(strstr(err.msg, "init_size") != NULL);

	reset();
	put64(img + 0x258, 0xfffffffffff00000ULL); /* absurd pref_address */
	CHECK(load(&e, &err) < 0);
	CHECK(strstr(err.msg, "low RAM ends") != NULL);
}

/* Checks the 2 MiB identity map at cr3 covers [0, top) and nothing more,
 * its page directories following the PML4 and the PDPT. */
static void check_identity_map(uint64_t cr3, uint64_t top)
{
	uint8_t *pml4 = at(cr3);
	uint64_t pdpt_gpa = get64(pml4) & ~0xfffULL, gib = top >> 30;
	uint8_t *pdpt;

	CHECK_EQ(get64(pml4) & 3, 3);
	CHECK_EQ(get64(pml4 + 8), 0);
	pdpt = at(pdpt_gpa);
	CHECK(pdpt != NULL);
	if (!pdpt)
		return;
	for (uint64_t g = 0; g < gib; g++) {
		uint64_t pde = get64(pdpt + 8 * g);
		uint8_t *pd = at(pde & ~0xfffULL);

		CHECK_EQ(pde & 3, 3);
		CHECK(pd != NULL && (pde & ~0xfffULL) == cr3 + (2 + g) * 4096);
		if (!pd)
			return;
		CHECK_EQ(get64(pd), (g << 30) | 0x83);
		CHECK_EQ(get64(pd + 8 * 511),
			 (g << 30) + (511ULL << 21) + 0x83);
	}
	CHECK_EQ(get64(pdpt + 8 * gib), 0);
}

static void test_linux_page_tables_cover_4g_and_all_ram(void)
{
	struct hyve_err err = {0};
	struct boot_entry e;

	reset();
	CHECK_EQ(load(&e, &err), 0);
	check_identity_map(e.cr3, 4ULL << 30);

	mem_setup(5ULL << 30); /* 3 GiB low + 2 GiB above 4 GiB */
	reset();
	CHECK_EQ(load(&e, &err), 0);
	check_identity_map(e.cr3, 6ULL << 30);
	CHECK_EQ(at(e.rsi)[0x1e8], 4);

	mem_setup(GUEST_MEM_MAX);
	reset();
	CHECK_EQ(load(&e, &err), 0);
	check_identity_map(e.cr3, GUEST_MEM_MAX + (1ULL << 30));
	mem_setup(RAM);
}

static void test_linux_dispatch_from_file(void)
{
	struct hyve_err err = {0};
	struct boot_entry e;
	int fd;

	reset();
	fd = open(cfg.kernel, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, img, IMG_LEN) == IMG_LEN);
	close(fd);
	CHECK(linux_probe(img, IMG_LEN));
	CHECK(!linux_probe(img, 0x205));
	CHECK_EQ(boot_load_kernel(&gm, &cfg, &e, &err), 0);
	CHECK_EQ(e.mode, BOOT_LONG64);
	CHECK(memcmp(at(PREF), img + PM_OFF, IMG_LEN - PM_OFF) == 0);

	put16(img + 0x206, 0x0200);
	fd = open(cfg.kernel, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, img, IMG_LEN) == IMG_LEN);
	close(fd);
	err_clear(&err);
	CHECK(boot_load_kernel(&gm, &cfg, &e, &err) < 0);
	CHECK(strstr(err.msg, "too old") && strstr(err.msg, cfg.kernel));
	unlink(cfg.kernel);
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		return 1;
	mem_setup(RAM);
	RUN_TEST(test_linux_loads_at_pref_address_and_fills_zero_page);
	RUN_TEST(test_linux_non_relocatable_loads_at_1mib);
	RUN_TEST(test_linux_initrd_high_and_page_aligned);
	RUN_TEST(test_linux_rejects_initrd_too_large);
	RUN_TEST(test_linux_rejects_cmdline_too_long);
	RUN_TEST(test_linux_rejects_old_protocol_and_missing_features);
	RUN_TEST(test_linux_page_tables_cover_4g_and_all_ram);
	RUN_TEST(test_linux_dispatch_from_file);
	munmap(gm.host, gm.size);
	rmdir(tmpdir);
	return CHECK_DONE();
}
