/* Boot: loaders put a kernel into guest RAM and describe the CPU state the
 * boot protocol asks for; the vCPU code turns that into registers. */
#ifndef HYVE_BOOT_H
#define HYVE_BOOT_H

#include <stdint.h>

#include "hyve/config.h"
#include "hyve/err.h"
#include "hyve/mem.h"

/* Fixed low-memory layout used by the loaders (all below 640 KiB). */
#define BOOT_GDT_ADDR 0x0500ULL        /* flat GDT written by boot_write_gdt */
#define BOOT_ZERO_PAGE_ADDR 0x7000ULL  /* Linux boot_params */
#define BOOT_MB_INFO_ADDR 0x8000ULL    /* Multiboot info + mmap + strings */
#define BOOT_MB_INFO_END 0x10000ULL
#define BOOT_PAGE_TABLES_ADDR 0x10000ULL /* Linux 64-bit entry identity map */
#define BOOT_CMDLINE_ADDR 0x20000ULL   /* Linux command line */
#define BOOT_CMDLINE_MAX 0x10000ULL
#define BOOT_EBDA_START 0x9FC00ULL     /* e820: reserved from here to 1 MiB */
#define BOOT_BIOS_START 0xE0000ULL     /* ACPI tables (RSDP search area) */

/* GDT selectors (Linux boot protocol: __BOOT_CS 0x10, __BOOT_DS 0x18). */
#define BOOT_SEL_CODE32 0x08
#define BOOT_SEL_CODE64 0x10 /* long-mode entry uses this as CS */
#define BOOT_SEL_DATA 0x18
#define BOOT_SEL_CODE32_LINUX 0x10 /* 32-bit entry, CS (flat) */

enum boot_mode {
	BOOT_PROTECTED32 = 1, /* flat 32-bit protected mode, paging off */
	BOOT_LONG64,          /* 64-bit, paging on with page tables at cr3 */
};

struct boot_entry {
	enum boot_mode mode;
	uint64_t rip, rsp;
	uint64_t rax, rbx, rsi;
	uint64_t cr3; /* BOOT_LONG64 */
};

struct e820_entry {
	uint64_t addr, size;
	uint32_t type; /* 1 RAM, 2 reserved, 3 ACPI reclaimable */
} __attribute__((packed));

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3

/* The PC memory map hyve presents: RAM below the EBDA, reserved to 1 MiB,
 * RAM to the hole, RAM above 4 GiB.  Returns the number of entries. */
unsigned boot_e820(const struct guest_mem *gm, struct e820_entry *out, unsigned max);

/* Writes the flat GDT at BOOT_GDT_ADDR (null, code32, code64, data). */
int boot_write_gdt(struct guest_mem *gm, struct hyve_err *err);

/* Loaders: fill `entry`.  boot_load_kernel picks Multiboot or Linux bzImage
 * by looking at the file. */
int boot_load_kernel(struct guest_mem *gm, const struct vm_config *cfg,
		     struct boot_entry *entry, struct hyve_err *err);
int multiboot_load(struct guest_mem *gm, const struct vm_config *cfg,
		   const uint8_t *image, size_t image_len,
		   struct boot_entry *entry, struct hyve_err *err);
/* Finds the Multiboot header in the first 8 KiB: 1 if present, 0 if not. */
int multiboot_probe(const uint8_t *image, size_t image_len);
int linux_load(struct guest_mem *gm, const struct vm_config *cfg,
	       const uint8_t *image, size_t image_len,
	       struct boot_entry *entry, struct hyve_err *err);
int linux_probe(const uint8_t *image, size_t image_len);

/* ACPI: writes RSDP/XSDT/FADT/MADT/DSDT/HPET/... into the BIOS area. */
int acpi_build(struct guest_mem *gm, unsigned nr_vcpus, struct hyve_err *err);

#endif
