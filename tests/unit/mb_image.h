/* Multiboot kernel images built in memory for the loader tests
 * (test_boot_multiboot.c, test_boot_mb_placement.c), a guest RAM buffer
 * to load them into, and the loader call.  Header-only, static: each test
 * binary gets its own copy. */
#ifndef HYVE_TEST_MB_IMAGE_H
#define HYVE_TEST_MB_IMAGE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "hyve/boot.h"

#define RAM	 (32ULL << 20)
#define MB_MAGIC 0x1BADB002U
#define MB_FLAGS 0x00000003U /* page-align modules, memory info */
#define KLUDGE	 (1U << 16)

static struct guest_mem gm;
static struct vm_config cfg;
static char tmpdir[] = "/tmp/hyve-mb-XXXXXX";
static uint8_t img[0x8000];

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}
static inline void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}
static inline uint8_t *at(uint64_t gpa)
{
	return gm.host + gpa;
}

static inline void reset(void)
{
	memset(gm.host, 0xAA, RAM); /* bss must be zeroed over this */
	memset(img, 0, sizeof(img));
	vm_config_defaults(&cfg);
	snprintf(cfg.kernel, sizeof(cfg.kernel), "%s/kernel.elf", tmpdir);
	strcpy(cfg.cmdline, "a=b c");
	cfg.cmdline_set = true;
}

static inline void mb_header(uint8_t *p, uint32_t flags)
{
	put32(p, MB_MAGIC);
	put32(p + 4, flags);
	put32(p + 8, (uint32_t) - (MB_MAGIC + flags));
}

struct seg {
	uint64_t paddr, vaddr, off, filesz, memsz;
};

/* ELF with the Multiboot header at 0x200 and segment data where `segs`
 * say.  Segment contents: byte i of segment k is (k * 16 + i) & 0xff. */
static inline void elf_build(int is64, const struct seg *segs, unsigned n,
		      uint64_t entry)
{
	unsigned ehsize = is64 ? 64 : 52, phsize = is64 ? 56 : 32;

	memcpy(img, "\177ELF", 4);
	img[4] = is64 ? 2 : 1;
	img[5] = 1;
	img[6] = 1;
	put16(img + 16, 2); /* ET_EXEC */
	put16(img + 18, is64 ? 62 : 3);
	if (is64) {
		put64(img + 24, entry);
		put64(img + 32, ehsize);
		put16(img + 52, (uint16_t)ehsize);
		put16(img + 54, (uint16_t)phsize);
		put16(img + 56, (uint16_t)n);
	} else {
		put32(img + 24, (uint32_t)entry);
		put32(img + 28, ehsize);
		put16(img + 40, (uint16_t)ehsize);
		put16(img + 42, (uint16_t)phsize);
		put16(img + 44, (uint16_t)n);
	}
	for (unsigned k = 0; k < n; k++) {
		uint8_t *ph = img + ehsize + k * phsize;

		put32(ph, 1); /* PT_LOAD */
		if (is64) {
			put64(ph + 8, segs[k].off);
			put64(ph + 16, segs[k].vaddr);
			put64(ph + 24, segs[k].paddr);
			put64(ph + 32, segs[k].filesz);
			put64(ph + 40, segs[k].memsz);
		} else {
			put32(ph + 4, (uint32_t)segs[k].off);
			put32(ph + 8, (uint32_t)segs[k].vaddr);
			put32(ph + 12, (uint32_t)segs[k].paddr);
			put32(ph + 16, (uint32_t)segs[k].filesz);
			put32(ph + 20, (uint32_t)segs[k].memsz);
		}
		for (uint64_t i = 0;
		     i < segs[k].filesz && segs[k].off + i < sizeof(img); i++)
			img[segs[k].off + i] = (uint8_t)(k * 16 + i);
	}
	mb_header(img + 0x200, MB_FLAGS);
}

static inline int seg_loaded(const struct seg *s, unsigned k)
{
	for (uint64_t i = 0; i < s->memsz; i++) {
		uint8_t want = i < s->filesz ? (uint8_t)(k * 16 + i) : 0;

		if (*at(s->paddr + i) != want)
			return 0;
	}
	return 1;
}

/* Where the last successful load put the information structure. */
static uint64_t info_gpa;

static inline int load(size_t len, struct boot_entry *e, struct hyve_err *err)
{
	int ret;

	err_clear(err);
	ret = multiboot_load(&gm, &cfg, img, len, e, err);
	if (ret == 0)
		info_gpa = e->rbx;
	return ret;
}

static inline const char *info_str(unsigned field_off)
{
	return (const char *)at(get32(at(info_gpa) + field_off));
}

static inline void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(write(fd, data, len), len);
	close(fd);
}

/* The guest RAM buffer and a scratch directory: a test's main starts with
 * this (0), and ends with mb_image_teardown. */
static inline int mb_image_setup(void)
{
	struct hyve_err err = {0};

	if (!mkdtemp(tmpdir) || guest_mem_layout(&gm, RAM, &err) != 0) {
		printf("FAIL: setup: %s\n", err.msg);
		return -1;
	}
	gm.host = malloc(RAM);
	return gm.host ? 0 : -1;
}

static inline void mb_image_teardown(void)
{
	free(gm.host);
	rmdir(tmpdir);
}

#endif
