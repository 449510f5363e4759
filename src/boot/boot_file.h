/* Helpers shared by the loaders in src/boot (not a public interface). */
#ifndef HYVE_BOOT_FILE_H
#define HYVE_BOOT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "hyve/err.h"
#include "hyve/mem.h"

/* Opens `path` for reading and returns its size; refuses anything that is
 * not a regular file or is larger than `max`.  `what` names the file in
 * messages ("kernel", "initrd", "module"). */
int boot_file_open(const char *path, const char *what, uint64_t max,
		   int *fd_out, uint64_t *size_out, struct hyve_err *err);
/* Reads exactly `size` bytes of `fd` into `dst` (a short read is an error:
 * the file changed under us). */
int boot_file_read(int fd, void *dst, uint64_t size, const char *what,
		   const char *path, struct hyve_err *err);
/* Reads a whole file of at most `max` bytes into a malloc'ed buffer. */
int boot_file_load(const char *path, const char *what, uint64_t max,
		   uint8_t **buf_out, size_t *len_out, struct hyve_err *err);

static inline uint64_t boot_align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

static inline void boot_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void boot_put32(uint8_t *p, uint32_t v)
{
	boot_put16(p, (uint16_t)v);
	boot_put16(p + 2, (uint16_t)(v >> 16));
}

static inline void boot_put64(uint8_t *p, uint64_t v)
{
	boot_put32(p, (uint32_t)v);
	boot_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t boot_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t boot_get32(const uint8_t *p)
{
	return (uint32_t)boot_get16(p) | (uint32_t)boot_get16(p + 2) << 16;
}

static inline uint64_t boot_get64(const uint8_t *p)
{
	return (uint64_t)boot_get32(p) | (uint64_t)boot_get32(p + 4) << 32;
}

/* End of the low RAM range (the first range, starting at 0). */
static inline uint64_t boot_low_ram_end(const struct guest_mem *gm)
{
	return gm->nr_ranges ? gm->ranges[0].gpa + gm->ranges[0].size : 0;
}

#endif
