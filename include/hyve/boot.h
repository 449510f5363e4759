/* Boot: loaders put a kernel into guest RAM and describe the CPU state the
 * boot protocol asks for; the vCPU code turns that into registers.  hyve has
 * no BIOS: the loaders and acpi_build() write everything firmware would. */
#ifndef HYVE_BOOT_H
#define HYVE_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "hyve/config.h"
#include "hyve/err.h"
#include "hyve/mem.h"

/* The PC memory map below 1 MiB.  Kernel segments may go anywhere in RAM
 * (src/boot/boot_map.h places hyve's own boot data around them); only the
 * BIOS area [BOOT_EBDA_START, 1 MiB), reserved in e820, is hyve's. */
#define BOOT_LOW_FLOOR	 0x1000ULL /* boot data never goes in the first page */
#define BOOT_EBDA_START	 0x9FC00ULL /* e820: reserved from here to 1 MiB */
#define BOOT_BIOS_START	 0xE0000ULL /* ACPI tables (RSDP search area) */
#define BOOT_BIOS_END	 0x100000ULL
#define BOOT_HIGH_START	 0x100000ULL /* 1 MiB */
#define BOOT_STACK_SIZE	 0x1000ULL   /* the stack the boot entry gets */
#define BOOT_CMDLINE_MAX 0x10000ULL  /* Linux command line, with its NUL */

/* Firmware memory for an ACPI wake into protected or long mode (a flat GDT
 * and an identity map of the first 4 GiB, written at the wake), at the top
 * of the BIOS area; the ACPI tables end below it. */
#define BOOT_WAKE_AREA	    0xF8000ULL
#define BOOT_WAKE_AREA_END  BOOT_BIOS_END

/* Largest kernel image boot_load_kernel reads. */
#define BOOT_KERNEL_MAX (512ULL << 20)

/* The boot GDT (where the loader put it: boot_entry.gdt_base; the S3 wake
 * uses the same at BOOT_WAKE_AREA): BOOT_GDT_ENTRIES descriptors, all flat
 * (base 0, limit 4 GiB, G=1, DPL 0, accessed bit preset so the CPU never
 * writes the table).  The Linux boot protocol (boot.rst, 64-bit protocol) wants
 * __BOOT_CS = 0x10 (here: 64-bit code, L=1) and __BOOT_DS = 0x18; Multiboot
 * only wants a flat 32-bit code segment, which is 0x08.
 *   0x00 null
 *   0x08 code, 32-bit (type 0xB, D=1)        BOOT_SEL_CODE32
 *   0x10 code, 64-bit (type 0xB, L=1, D=0)   BOOT_SEL_CODE64
 *   0x18 data, read/write (type 0x3, B=1)    BOOT_SEL_DATA */
#define BOOT_SEL_CODE32	     0x08
#define BOOT_SEL_CODE64	     0x10 /* long-mode entry uses this as CS */
#define BOOT_SEL_DATA	     0x18
#define BOOT_GDT_ENTRIES     4
#define BOOT_GDT_LIMIT	     (BOOT_GDT_ENTRIES * 8 - 1)
#define BOOT_GDT_DESC_CODE32 0x00CF9B000000FFFFULL
#define BOOT_GDT_DESC_CODE64 0x00AF9B000000FFFFULL
#define BOOT_GDT_DESC_DATA   0x00CF93000000FFFFULL

/* Multiboot v1 entry: EAX holds this, EBX the info structure's address. */
#define BOOT_MB_BOOTLOADER_MAGIC 0x2BADB002U

enum boot_mode {
	BOOT_PROTECTED32 = 1, /* flat 32-bit protected mode, paging off */
	BOOT_LONG64,	      /* 64-bit, paging on with page tables at cr3 */
};

struct boot_entry {
	enum boot_mode mode;
	uint64_t rip, rsp;
	uint64_t rax, rbx, rsi;
	uint64_t cr3;	   /* BOOT_LONG64 */
	uint64_t gdt_base; /* the flat GDT below, written by the loader */
};

struct e820_entry {
	uint64_t addr, size;
	uint32_t type; /* 1 RAM, 2 reserved, 3 ACPI reclaimable */
} __attribute__((packed));

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3
#define BOOT_E820_MAX 8 /* boot_e820 never returns more */

/* The PC memory map hyve presents: RAM [0, 639 KiB), reserved to 1 MiB
 * (EBDA, BIOS area with the ACPI tables), RAM from 1 MiB to the end of low
 * RAM (the MMIO hole above it is implied), RAM above 4 GiB.  Writes at most
 * `max` entries; returns the number written. */
unsigned boot_e820(const struct guest_mem *gm, struct e820_entry *out,
		   unsigned max);

/* Writes the flat GDT described above at `gpa` (8-byte aligned). */
int boot_write_gdt(struct guest_mem *gm, uint64_t gpa, struct hyve_err *err);

/* Loaders: fill `entry`.  boot_load_kernel reads cfg->kernel (at most
 * BOOT_KERNEL_MAX bytes) and picks Multiboot or Linux bzImage by looking at
 * the file.  Each loader puts the kernel where it asks to be, then places
 * its boot data (information structures, command line, modules or initrd,
 * page tables, GDT, stack) in RAM the kernel does not use
 * (src/boot/boot_map.h).  Messages name the file: "kernel PATH: ...".
 * Call acpi_build first: the loaders keep out of the BIOS area. */
int boot_load_kernel(struct guest_mem *gm, const struct vm_config *cfg,
		     struct boot_entry *entry, struct hyve_err *err);
int multiboot_load(struct guest_mem *gm, const struct vm_config *cfg,
		   const uint8_t *image, size_t image_len,
		   struct boot_entry *entry, struct hyve_err *err);
/* Finds the Multiboot header in the first 8 KiB: 1 if present, 0 if not. */
int multiboot_probe(const uint8_t *image, size_t image_len);
/* Linux x86 boot protocol >= 2.10, 64-bit entry (XLF_KERNEL_64).  Fills the
 * zero page (entry->rsi; acpi_rsdp_addr = BOOT_ACPI_RSDP_ADDR), the command
 * line, the initrd (cfg->initrd, optional) and identity page tables
 * (entry->cr3) mapping max(4 GiB, top of RAM). */
int linux_load(struct guest_mem *gm, const struct vm_config *cfg,
	       const uint8_t *image, size_t image_len, struct boot_entry *entry,
	       struct hyve_err *err);
/* "HdrS" at 0x202: 1 if present, 0 if not. */
int linux_probe(const uint8_t *image, size_t image_len);

/* ACPI tables, all in [BOOT_BIOS_START, BOOT_WAKE_AREA) (e820 reserved):
 * RSDP (rev 2) at BOOT_ACPI_RSDP_ADDR, XSDT + RSDT, FADT (rev 6, not
 * hardware-reduced), FACS, DSDT, MADT, HPET.  The device models must match
 * these constants: */
#define BOOT_ACPI_RSDP_ADDR 0xE0000ULL
/* The FACS, 64-byte aligned right after the RSDP (where every hyve has put
 * it: a restored snapshot's FACS is there too).  The fields hyve reads at
 * an S3 wake (ACPI 6.4, 5.2.10, table 5.14): */
#define BOOT_ACPI_FACS_ADDR		0xE0040ULL
#define ACPI_FACS_LEN			64
#define ACPI_FACS_WAKING_VECTOR		12 /* u32: real mode, below 1 MiB */
#define ACPI_FACS_FLAGS			20 /* u32: the platform's */
#define ACPI_FACS_X_WAKING_VECTOR	24 /* u64: protected or long mode */
#define ACPI_FACS_VERSION		32
#define ACPI_FACS_OSPM_FLAGS		36 /* u32: the OS's */
#define ACPI_FACS_F_64BIT_WAKE_SUPPORTED (1U << 1)
#define ACPI_FACS_OSPM_64BIT_WAKE	(1U << 0)
#define ACPI_SCI_IRQ	    9	  /* level, active high (MADT override) */
#define ACPI_PM1A_EVT_BLK   0x600 /* PM1 status (16 bit) + enable (16 bit) */
#define ACPI_PM1A_CNT_BLK   0x604 /* PM1 control, 16 bit; SCI_EN always set */
#define ACPI_PM_TMR_BLK	    0x608 /* 3.579545 MHz, 32-bit (TMR_VAL_EXT) */
#define ACPI_PM1_EVT_LEN    4
#define ACPI_PM1_CNT_LEN    2
#define ACPI_PM_TMR_LEN	    4
/* Sleeping states (ACPI 6.4, 7.4.2): \_S0, \_S3 and \_S5 in the DSDT are
 * Packages {SLP_TYPa, SLP_TYPb, 0, 0}.  A write to PM1a_CNT with SLP_EN
 * (bit 13) set and SLP_TYP (bits 12:10) == ACPI_SLP_TYP_S3 suspends to RAM,
 * == ACPI_SLP_TYP_S5 powers off. */
#define ACPI_SLP_TYP_S0		   0
#define ACPI_SLP_TYP_S3		   3
#define ACPI_SLP_TYP_S5		   5
#define ACPI_PM1_CNT_SLP_EN	   (1U << 13)
#define ACPI_PM1_CNT_SLP_TYP_SHIFT 10
#define ACPI_RESET_PORT		   0xCF9 /* FADT RESET_REG (system I/O, 8 bit) */
#define ACPI_RESET_VALUE	   0x06
#define ACPI_RTC_CENTURY	   0x32 /* FADT CENTURY: CMOS index of the century */
#define ACPI_LAPIC_ADDR		   0xFEE00000U
#define ACPI_IOAPIC_ADDR	   0xFEC00000U /* IOAPIC id in the MADT = nr_vcpus */
/* HPET: the ACPI table's event timer block id is the low 32 bits of the
 * HPET's General Capabilities register (HPET spec 1.0a, 2.3.9.2.1 and 3.2.4):
 * vendor 0x8086 (31:16), LEG_RT_CAP (15), COUNT_SIZE_CAP 64-bit (13),
 * NUM_TIM_CAP 2 = three timers (12:8), REV_ID 1 (7:0). */
#define ACPI_HPET_ADDR	  0xFED00000U
#define ACPI_HPET_LEN	  0x400
#define ACPI_HPET_CAP_LOW 0x8086A201U

int acpi_build(struct guest_mem *gm, unsigned nr_vcpus, struct hyve_err *err);

/* The FACS's waking vector, read at an S3 wake: where and in which mode the
 * OS wants to resume (ACPI 6.4, table 5.14).  A nonzero
 * X_FIRMWARE_WAKING_VECTOR in a FACS of version 1 or later wins over the
 * 32-bit one; it is entered in long mode when the OS set 64BIT_WAKE_F (and
 * the platform offered it), else in 32-bit protected mode. */
enum acpi_wake_mode {
	ACPI_WAKE_NONE,	      /* no vector: the OS did not ask to resume */
	ACPI_WAKE_REAL,	      /* real mode, CS:IP = vector >> 4 : vector & 15 */
	ACPI_WAKE_PROTECTED32, /* flat 32-bit protected mode, paging off */
	ACPI_WAKE_LONG64,      /* 64-bit mode, identity-mapped first 4 GiB */
};

struct acpi_wake_vector {
	enum acpi_wake_mode mode;
	uint64_t addr;
};

int acpi_wake_vector(const struct guest_mem *gm, struct acpi_wake_vector *v,
		     struct hyve_err *err);

/* Writes the firmware's long-mode wake environment in BOOT_WAKE_AREA: the
 * flat GDT (hyve/boot.h selectors) at BOOT_WAKE_AREA and a 2 MiB-page
 * identity map of the first 4 GiB after it; returns the page tables' root
 * in *cr3. */
int acpi_wake_tables(struct guest_mem *gm, uint64_t *cr3, struct hyve_err *err);

#endif
