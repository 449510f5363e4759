/* Where the loaders put things in guest RAM (not a public interface).
 *
 * hyve has no firmware to hand the kernel a free memory map, so the loaders
 * keep one: the RAM ranges of the e820 map, minus what is already placed.
 * A kernel's segments go where the kernel asks (boot_map_claim refuses only
 * what is not RAM: the BIOS area, the PCI hole, past the end of RAM); every
 * piece of boot data hyve writes (Multiboot information, command lines,
 * modules, GDT, stack, Linux zero page, page tables, initrd) is then placed
 * by boot_map_alloc where nothing else is. */
#ifndef HYVE_BOOT_MAP_H
#define HYVE_BOOT_MAP_H

#include <stdbool.h>
#include <stdint.h>

#include "hyve/boot.h"
#include "hyve/err.h"
#include "hyve/mem.h"

/* Enough for a Multiboot kernel with many segments, HYVE_MAX_MODULES
 * modules with their strings, and the information structure's pieces. */
#define BOOT_MAP_MAX_USED 128

struct boot_span {
	uint64_t start, end; /* [start, end) */
};

struct boot_map {
	struct e820_entry e820[BOOT_E820_MAX];
	unsigned nr_e820;
	uint64_t ram_top; /* end of the highest RAM range */
	struct boot_span used[BOOT_MAP_MAX_USED];
	unsigned nr_used;
};

/* Allocation preference: the lowest or the highest free place that fits. */
enum boot_fit {
	BOOT_FIT_LOW,
	BOOT_FIT_HIGH,
};

void boot_map_init(struct boot_map *bm, const struct guest_mem *gm);

/* Marks [start, start + size) as taken by the kernel.  It must be RAM:
 * otherwise the error names `what` ("kernel PATH: segment 2"), its range
 * and the range it runs into ("the BIOS area 0x9fc00-0xfffff").  Claims
 * may overlap each other (an ELF file may have overlapping segments). */
int boot_map_claim(struct boot_map *bm, uint64_t start, uint64_t size,
		   const char *what, struct hyve_err *err);

/* Finds `size` bytes aligned to `align` (a power of two) in RAM inside
 * [lo, hi) that overlap nothing claimed or allocated, marks them used and
 * returns their address.  -ENOMEM (with a message naming `what`, the size
 * and the window) if there is no such place. */
int boot_map_alloc(struct boot_map *bm, uint64_t size, uint64_t align,
		   uint64_t lo, uint64_t hi, enum boot_fit fit, const char *what,
		   uint64_t *gpa, struct hyve_err *err);

/* boot_map_alloc for the small pieces of boot data: the lowest fit in
 * conventional memory [BOOT_LOW_FLOOR, 640 KiB), where an OS looks last
 * for memory of its own; if that is full, the lowest fit below 4 GiB. */
int boot_map_alloc_data(struct boot_map *bm, uint64_t size, uint64_t align,
			const char *what, uint64_t *gpa, struct hyve_err *err);

/* The flat GDT (hyve/boot.h) and a boot stack, placed by
 * boot_map_alloc_data; fills entry->gdt_base and entry->rsp. */
int boot_map_gdt_and_stack(struct boot_map *bm, struct guest_mem *gm,
			   struct boot_entry *entry, struct hyve_err *err);

#endif
