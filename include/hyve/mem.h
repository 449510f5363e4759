/* Guest physical memory: one memfd, mapped once in hyve, split into PC-style
 * ranges: low RAM below the 32-bit MMIO hole (3 GiB .. 4 GiB) and the rest
 * above 4 GiB. */
#ifndef HYVE_MEM_H
#define HYVE_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "hyve/err.h"

#define GUEST_PAGE_SIZE 4096ULL
#define GUEST_MMIO_HOLE_START 0xC0000000ULL /* 3 GiB */
#define GUEST_HIGH_RAM_START 0x100000000ULL /* 4 GiB */
#define GUEST_MEM_MIN (16ULL << 20)
#define GUEST_MEM_MAX (64ULL << 30)
#define GUEST_MAX_RANGES 2

struct mem_range {
	uint64_t gpa;    /* guest physical start */
	uint64_t size;   /* bytes */
	uint64_t offset; /* offset in the memfd and in `host` */
};

struct guest_mem {
	int fd;            /* memfd backing all RAM; -1 for a test buffer, and
	                    * after a restore mapped a RAM file privately in
	                    * its place (so nobody takes the memfd's holes for
	                    * the guest's zero pages) */
	uint8_t *host;     /* host mapping of the whole memfd */
	uint64_t size;     /* total RAM bytes */
	unsigned nr_ranges;
	struct mem_range ranges[GUEST_MAX_RANGES];
};

/* Splits `size` bytes of RAM into ranges (no allocation). */
int guest_mem_layout(struct guest_mem *gm, uint64_t size, struct hyve_err *err);
/* Layout + memfd + mmap. */
int guest_mem_create(struct guest_mem *gm, uint64_t size, struct hyve_err *err);
void guest_mem_destroy(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) when it lies wholly inside one RAM range,
 * else NULL.  Overflow-safe: every guest-supplied address goes through this
 * (or guest_mem_read/write) before hyve touches guest memory. */
void *guest_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
int guest_mem_read(const struct guest_mem *gm, uint64_t gpa, void *buf, uint64_t len);
int guest_mem_write(const struct guest_mem *gm, uint64_t gpa, const void *buf, uint64_t len);

/* Parses "512M", "4G", "65536K", "1073741824" (bytes). */
int parse_size(const char *s, uint64_t *out, struct hyve_err *err);

#endif
