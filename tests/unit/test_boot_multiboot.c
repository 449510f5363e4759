/* Multiboot v1 loader: ELF32, ELF64 and a.out-kludge images built here in
 * memory; bytes land where they should, bss is zeroed, the info structure
 * is right; and every malformed image is refused with a clear message. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "hyve/boot.h"
#include "mb_image.h"

static void test_mb_elf32_segments_bss_and_info(void)
{
	const struct seg s[2] = {
	    {.paddr = 0x100000,
	     .vaddr = 0x100000,
	     .off = 0x1000,
	     .filesz = 0x300,
	     .memsz = 0x300},
	    {.paddr = 0x200000,
	     .vaddr = 0x200000,
	     .off = 0x2000,
	     .filesz = 0x80,
	     .memsz = 0x2000},
	};
	struct hyve_err err = {0};
	struct boot_entry e;
	uint8_t *info, *mmap;

	reset();
	elf_build(0, s, 2, 0x100010);
	CHECK_EQ(load(0x3000, &e, &err), 0);
	CHECK(seg_loaded(&s[0], 0));
	CHECK(seg_loaded(&s[1], 1));   /* includes the zeroed bss */
	CHECK_EQ(*at(0x202000), 0xAA); /* nothing past memsz */
	CHECK_EQ(e.mode, BOOT_PROTECTED32);
	CHECK_EQ(e.rip, 0x100010);
	CHECK_EQ(e.rax, 0x2BADB002);
	/* hyve's boot data goes in conventional memory, off the kernel. */
	CHECK(e.rbx >= BOOT_LOW_FLOOR && e.rbx + 116 <= BOOT_EBDA_START);
	CHECK(e.gdt_base >= BOOT_LOW_FLOOR && e.gdt_base < BOOT_EBDA_START);
	CHECK(e.rsp > BOOT_LOW_FLOOR && e.rsp <= BOOT_EBDA_START);
	info = at(e.rbx);
	CHECK_EQ(get32(info), 0x245);	/* mem, cmdline, mmap, loader name */
	CHECK_EQ(get32(info) & 0x8, 0); /* no modules */
	CHECK_EQ(get32(info + 4), 639);
	CHECK_EQ(get32(info + 8), (RAM >> 10) - 1024);
	CHECK(strcmp(info_str(16), cfg.kernel) != 0);
	CHECK(strncmp(info_str(16), cfg.kernel, strlen(cfg.kernel)) == 0);
	CHECK(strcmp(info_str(16) + strlen(cfg.kernel), " a=b c") == 0);
	CHECK(strcmp(info_str(64), "hyve") == 0);
	/* mmap: 3 entries (RAM, reserved, RAM), each size=20 first. */
	CHECK_EQ(get32(info + 44), 3 * 24);
	mmap = at(get32(info + 48));
	CHECK_EQ(get32(mmap), 20);
	CHECK_EQ(get64(mmap + 4), 0);
	CHECK_EQ(get64(mmap + 12), 0x9FC00);
	CHECK_EQ(get32(mmap + 20), 1);
	CHECK_EQ(get32(mmap + 24 + 20), 2);
	CHECK_EQ(get64(mmap + 48 + 4), 0x100000);
	CHECK_EQ(get64(mmap + 48 + 12), RAM - 0x100000);
	CHECK_EQ(get32(mmap + 48 + 20), 1);
}

static void test_mb_elf64_high_vaddr_entry_translated(void)
{
	const struct seg s = {.paddr = 0x180000,
			      .vaddr = 0xffffffff80180000ULL,
			      .off = 0x1000,
			      .filesz = 0x400,
			      .memsz = 0x1400};
	struct hyve_err err = {0};
	struct boot_entry e;

	reset();
	elf_build(1, &s, 1, 0xffffffff80180020ULL);
	CHECK_EQ(load(0x1400, &e, &err), 0);
	CHECK(seg_loaded(&s, 0));
	CHECK_EQ(e.rip, 0x180020);
}

static void test_mb_cmdline_is_path_alone_without_args(void)
{
	const struct seg s = {.paddr = 0x100000,
			      .vaddr = 0x100000,
			      .off = 0x1000,
			      .filesz = 16,
			      .memsz = 16};
	struct hyve_err err = {0};
	struct boot_entry e;

	reset();
	cfg.cmdline[0] = 0;
	cfg.cmdline_set = false;
	elf_build(0, &s, 1, 0x100000);
	CHECK_EQ(load(0x1010, &e, &err), 0);
	CHECK(strcmp(info_str(16), cfg.kernel) == 0);
}

/* a.out kludge: header at file offset 0x40 describes where the file goes. */
static void kludge_build(uint32_t load_addr, uint32_t load_end,
			 uint32_t bss_end, uint32_t entry)
{
	mb_header(img + 0x40, MB_FLAGS | KLUDGE);
	put32(img + 0x40 + 12, load_addr + 0x40); /* header_addr */
	put32(img + 0x40 + 16, load_addr);
	put32(img + 0x40 + 20, load_end);
	put32(img + 0x40 + 24, bss_end);
	put32(img + 0x40 + 28, entry);
	for (unsigned i = 0x60; i < 0x1000; i++)
		img[i] = (uint8_t)i;
}

static void test_mb_aout_kludge_loads_and_zeroes_bss(void)
{
	struct hyve_err err = {0};
	struct boot_entry e;

	reset();
	kludge_build(0x100000, 0x100800, 0x103000, 0x100060);
	CHECK_EQ(load(0x1000, &e, &err), 0);
	CHECK(memcmp(at(0x100000), img, 0x800) == 0);
	for (unsigned i = 0x800; i < 0x3000; i++)
		if (*at(0x100000 + i) != 0) {
			CHECK(!"bss not zeroed");
			break;
		}
	CHECK_EQ(*at(0x103000), 0xAA);
	CHECK_EQ(e.rip, 0x100060);

	/* load_end_addr 0: the whole file; bss_end_addr 0: no bss. */
	reset();
	kludge_build(0x100000, 0, 0, 0x100060);
	CHECK_EQ(load(0x1000, &e, &err), 0);
	CHECK(memcmp(at(0x100000), img, 0x1000) == 0);
	CHECK_EQ(*at(0x101000), 0xAA);
}

static void test_mb_modules_page_aligned_after_kernel(void)
{
	const struct seg s = {.paddr = 0x100000,
			      .vaddr = 0x100000,
			      .off = 0x1000,
			      .filesz = 0x10,
			      .memsz = 0x1801};
	struct hyve_err err = {0};
	struct boot_entry e;
	uint8_t *info, *mods;
	char m1[256], m2[256];
	uint8_t data[5000];

	reset();
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	snprintf(m1, sizeof(m1), "%s/mod1", tmpdir);
	snprintf(m2, sizeof(m2), "%s/mod2", tmpdir);
	write_file(m1, data, sizeof(data));
	write_file(m2, "hello", 5);
	strcpy(cfg.modules[0].path, m1);
	strcpy(cfg.modules[0].args, "x=1 y");
	strcpy(cfg.modules[1].path, m2);
	cfg.nr_modules = 2;
	elf_build(0, &s, 1, 0x100000);
	CHECK_EQ(load(0x1010, &e, &err), 0);
	info = at(info_gpa);
	CHECK(get32(info) & 0x8);
	CHECK_EQ(get32(info + 20), 2);
	mods = at(get32(info + 24));
	CHECK_EQ(get32(mods), 0x102000); /* first page after 0x101801 */
	CHECK_EQ(get32(mods + 4), 0x102000 + sizeof(data));
	CHECK(memcmp(at(0x102000), data, sizeof(data)) == 0);
	CHECK_EQ(get32(mods + 16), 0x104000); /* 0x103388 rounded up */
	CHECK_EQ(get32(mods + 20), 0x104005);
	CHECK(memcmp(at(0x104000), "hello", 5) == 0);
	CHECK(strncmp((char *)at(get32(mods + 8)), m1, strlen(m1)) == 0);
	CHECK(strcmp((char *)at(get32(mods + 8)) + strlen(m1), " x=1 y") == 0);
	CHECK(strcmp((char *)at(get32(mods + 24)), m2) == 0);
	unlink(m1);
	unlink(m2);
}

static void test_mb_bad_module_path_and_module_too_big(void)
{
	const struct seg s = {.paddr = 0x100000,
			      .vaddr = 0x100000,
			      .off = 0x1000,
			      .filesz = 0x10,
			      .memsz = 0x10};
	struct hyve_err err = {0};
	struct boot_entry e;
	char big[256];
	int fd;

	reset();
	elf_build(0, &s, 1, 0x100000);
	snprintf(cfg.modules[0].path, sizeof(cfg.modules[0].path),
		 "%s/no-such-module", tmpdir);
	cfg.nr_modules = 1;
	CHECK(load(0x1010, &e, &err) < 0);
	CHECK(strstr(err.msg, "no-such-module") != NULL);
	CHECK(strstr(err.msg, "No such file or directory") != NULL);

	snprintf(big, sizeof(big), "%s/big-module", tmpdir);
	fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)RAM) == 0); /* sparse */
	close(fd);
	strcpy(cfg.modules[0].path, big);
	CHECK(load(0x1010, &e, &err) < 0);
	CHECK(strstr(err.msg, "do not fit in guest RAM") != NULL);
	unlink(big);
}

/* One malformed ELF32 segment: the message must contain `want`. */
static void expect_seg_error(const struct seg *s, size_t len, uint64_t entry,
			     const char *want)
{
	struct hyve_err err = {0};
	struct boot_entry e;

	reset();
	elf_build(0, s, 1, entry);
	CHECK(load(len, &e, &err) < 0);
	CHECK(strstr(err.msg, want) != NULL);
	CHECK(strstr(err.msg, cfg.kernel) != NULL);
	if (!strstr(err.msg, want))
		printf("  got: %s\n", err.msg);
}

static void test_mb_rejects_bad_segments(void)
{
	struct seg s = {.paddr = 0x100000,
			.vaddr = 0x100000,
			.off = 0x1000,
			.filesz = 0x100,
			.memsz = 0x100};

	/* past the end of RAM (RAM is 32 MiB): both ranges named */
	s.paddr = s.vaddr = 0x1fff000;
	s.memsz = 0x2000;
	expect_seg_error(&s, 0x1100, 0x1fff000,
			 "segment 0 at 0x1fff000-0x2000fff extends past the "
			 "end of guest RAM, which ends at 0x2000000");
	/* in the MMIO hole, far past RAM */
	s.paddr = s.vaddr = 0xfee00000;
	expect_seg_error(&s, 0x1100, 0xfee00000, "past the end of guest RAM");
	/* paddr + memsz wraps around 4 GiB in 32-bit arithmetic */
	s.paddr = s.vaddr = 0xfffff000;
	s.memsz = 0x2000;
	expect_seg_error(&s, 0x1100, 0xfffff000, "past the end of guest RAM");
	/* file data beyond the end of the file */
	s = (struct seg){.paddr = 0x100000,
			 .vaddr = 0x100000,
			 .off = 0x1000,
			 .filesz = 0x200,
			 .memsz = 0x200};
	expect_seg_error(&s, 0x1100, 0x100000,
			 "extends beyond the end of the file");
	/* offset + filesz overflows 32 bits */
	s.off = 0xffffff00;
	expect_seg_error(&s, 0x1100, 0x100000,
			 "extends beyond the end of the file");
	/* filesz > memsz */
	s = (struct seg){.paddr = 0x100000,
			 .vaddr = 0x100000,
			 .off = 0x1000,
			 .filesz = 0x100,
			 .memsz = 0x80};
	expect_seg_error(&s, 0x1100, 0x100000, "larger than its memory size");
	/* over the BIOS area holding the ACPI tables: both ranges named */
	s = (struct seg){.paddr = 0xE0000,
			 .vaddr = 0xE0000,
			 .off = 0x1000,
			 .filesz = 0x100,
			 .memsz = 0x100};
	expect_seg_error(&s, 0x1100, 0xE0000,
			 "segment 0 at 0xe0000-0xe00ff overlaps the BIOS area "
			 "0x9fc00-0xfffff");
	/* from conventional memory into the EBDA */
	s.paddr = s.vaddr = 0x9f000;
	s.memsz = 0x1000;
	expect_seg_error(&s, 0x1100, 0x9f000,
			 "segment 0 at 0x9f000-0x9ffff overlaps the BIOS area "
			 "0x9fc00-0xfffff");
	/* entry outside every segment */
	s.paddr = s.vaddr = 0x100000;
	expect_seg_error(
	    &s, 0x1100, 0x500000,
	    "entry point 0x500000 is not inside any loaded segment");
}

static void test_mb_rejects_bad_elf64_overflow(void)
{
	struct seg s = {.paddr = 0xfffffffffffff000ULL,
			.vaddr = 0x100000,
			.off = 0x1000,
			.filesz = 0x100,
			.memsz = 0x2000};
	struct hyve_err err = {0};
	struct boot_entry e;

	reset();
	elf_build(1, &s, 1, 0x100000);
	CHECK(load(0x1100, &e, &err) < 0);
	CHECK(strstr(err.msg, "wraps around the address space") != NULL);

	s = (struct seg){.paddr = 0x100000,
			 .vaddr = 0x100000,
			 .off = 0xffffffffffffff00ULL,
			 .filesz = 0x200,
			 .memsz = 0x200};
	reset();
	elf_build(1, &s, 1, 0x100000);
	CHECK(load(0x1100, &e, &err) < 0);
	CHECK(strstr(err.msg, "beyond the end of the file") != NULL);

	/* program header table itself beyond the file */
	reset();
	s = (struct seg){.paddr = 0x100000,
			 .vaddr = 0x100000,
			 .off = 0x1000,
			 .filesz = 0x10,
			 .memsz = 0x10};
	elf_build(1, &s, 1, 0x100000);
	put64(img + 32, 0x7ffffffffffffff0ULL);
	CHECK(load(0x1100, &e, &err) < 0);
	CHECK(strstr(err.msg, "program headers") != NULL);
}

static void test_mb_rejects_bad_kludge_and_flags(void)
{
	struct hyve_err err = {0};
	struct boot_entry e;

	reset();
	kludge_build(0x100000, 0x100800, 0x103000, 0x100060);
	put32(img + 0x40 + 12,
	      0x100000 + 0x80); /* header_addr: load before file start */
	CHECK(load(0x1000, &e, &err) < 0);
	CHECK(strstr(err.msg, "before the beginning of the file") != NULL);

	reset();
	kludge_build(0x100000, 0x100800, 0x100400,
		     0x100060); /* bss_end < load_end */
	CHECK(load(0x1000, &e, &err) < 0);
	CHECK(strstr(err.msg, "bss_end_addr") != NULL);

	reset();
	kludge_build(0x100000, 0x102000, 0,
		     0x100060); /* load_end past the file */
	CHECK(load(0x1000, &e, &err) < 0);
	CHECK(strstr(err.msg, "beyond the end of the file") != NULL);

	reset();
	kludge_build(0x100000, 0x0fff00, 0,
		     0x100060); /* load_end < load_addr */
	CHECK(load(0x1000, &e, &err) < 0);
	CHECK(strstr(err.msg, "load_end_addr") != NULL);

	reset();
	kludge_build(0x100000, 0x100800, 0, 0x200000); /* entry outside */
	CHECK(load(0x1000, &e, &err) < 0);
	CHECK(strstr(err.msg, "entry_addr") != NULL);

	reset();
	kludge_build(0x100000, 0, 0, 0x100060);
	mb_header(img + 0x40, MB_FLAGS | KLUDGE | 4); /* wants a video mode */
	CHECK(load(0x1000, &e, &err) < 0);
	CHECK(strstr(err.msg, "video") != NULL);

	reset();
	kludge_build(0x100000, 0, 0, 0x100060);
	mb_header(img + 0x40,
		  MB_FLAGS | KLUDGE | 0x100); /* unknown requirement */
	CHECK(load(0x1000, &e, &err) < 0);
	CHECK(strstr(err.msg, "unknown") != NULL);
}

static void test_mb_probe_window_and_checksum(void)
{
	static uint8_t big[0x3000];

	memset(big, 0, sizeof(big));
	mb_header(big + 0x1ff4, MB_FLAGS); /* last slot inside 8 KiB */
	CHECK(multiboot_probe(big, sizeof(big)));
	memset(big, 0, sizeof(big));
	mb_header(big + 0x2000, MB_FLAGS); /* just outside */
	CHECK(!multiboot_probe(big, sizeof(big)));
	memset(big, 0, sizeof(big));
	mb_header(big + 0x100, MB_FLAGS);
	big[0x108] ^= 1; /* checksum off by one */
	CHECK(!multiboot_probe(big, sizeof(big)));
	mb_header(big + 0x102, MB_FLAGS); /* not 4-byte aligned */
	CHECK(!multiboot_probe(big, sizeof(big)));
	CHECK(!multiboot_probe(big, 5));
}

static void test_mb_boot_load_kernel_from_file(void)
{
	const struct seg s = {.paddr = 0x100000,
			      .vaddr = 0x100000,
			      .off = 0x1000,
			      .filesz = 0x100,
			      .memsz = 0x100};
	struct hyve_err err = {0};
	struct boot_entry e;
	uint8_t *gdt;

	reset();
	elf_build(0, &s, 1, 0x100004);
	write_file(cfg.kernel, img, 0x1100);
	CHECK_EQ(boot_load_kernel(&gm, &cfg, &e, &err), 0);
	CHECK_EQ(e.rip, 0x100004);
	CHECK(seg_loaded(&s, 0));
	gdt = at(e.gdt_base); /* the loader writes the GDT too */
	CHECK_EQ(get64(gdt + BOOT_SEL_CODE32), BOOT_GDT_DESC_CODE32);

	/* neither Multiboot nor bzImage */
	memset(img, 0x90, 0x1100);
	write_file(cfg.kernel, img, 0x1100);
	err_clear(&err);
	CHECK(boot_load_kernel(&gm, &cfg, &e, &err) < 0);
	CHECK(strstr(err.msg, "not a Multiboot or Linux bzImage file") != NULL);
	CHECK(strstr(err.msg, cfg.kernel) != NULL);
	unlink(cfg.kernel);

	/* missing */
	err_clear(&err);
	CHECK(boot_load_kernel(&gm, &cfg, &e, &err) < 0);
	CHECK(strstr(err.msg, cfg.kernel) != NULL);
	CHECK(strstr(err.msg, "No such file or directory") != NULL);

	/* a directory is not a kernel */
	strcpy(cfg.kernel, tmpdir);
	err_clear(&err);
	CHECK(boot_load_kernel(&gm, &cfg, &e, &err) < 0);
	CHECK(strstr(err.msg, "not a regular file") != NULL);
}

int main(void)
{
	if (mb_image_setup())
		return 1;
	RUN_TEST(test_mb_elf32_segments_bss_and_info);
	RUN_TEST(test_mb_elf64_high_vaddr_entry_translated);
	RUN_TEST(test_mb_cmdline_is_path_alone_without_args);
	RUN_TEST(test_mb_aout_kludge_loads_and_zeroes_bss);
	RUN_TEST(test_mb_modules_page_aligned_after_kernel);
	RUN_TEST(test_mb_bad_module_path_and_module_too_big);
	RUN_TEST(test_mb_rejects_bad_segments);
	RUN_TEST(test_mb_rejects_bad_elf64_overflow);
	RUN_TEST(test_mb_rejects_bad_kludge_and_flags);
	RUN_TEST(test_mb_probe_window_and_checksum);
	RUN_TEST(test_mb_boot_load_kernel_from_file);
	mb_image_teardown();
	return CHECK_DONE();
}
