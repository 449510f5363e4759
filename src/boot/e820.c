/* The PC memory map hyve reports to guests (e820 for Linux, the Multiboot
 * mmap for Multiboot kernels): derived from guest_mem's RAM ranges. */
#include "boot/boot_file.h"
#include "hyve/boot.h"

static unsigned e820_add(struct e820_entry *out, unsigned n, unsigned max,
			 uint64_t addr, uint64_t size, uint32_t type)
{
	if (n >= max || size == 0)
		return n;
	out[n] = (struct e820_entry){.addr = addr, .size = size, .type = type};
	return n + 1;
}

unsigned boot_e820(const struct guest_mem *gm, struct e820_entry *out,
		   unsigned max)
{
	uint64_t low_end = boot_low_ram_end(gm);
	unsigned n = 0;

	if (low_end < BOOT_HIGH_START)
		return 0; /* guest_mem_layout never makes less than 16 MiB */
	/* Conventional memory ends where the EBDA would start; the BIOS area
	 * up to 1 MiB holds hyve's ACPI tables and must not be used as RAM. */
	n = e820_add(out, n, max, 0, BOOT_EBDA_START, E820_RAM);
	n = e820_add(out, n, max, BOOT_EBDA_START,
		     BOOT_HIGH_START - BOOT_EBDA_START, E820_RESERVED);
	n = e820_add(out, n, max, BOOT_HIGH_START, low_end - BOOT_HIGH_START,
		     E820_RAM);
	for (unsigned i = 1; i < gm->nr_ranges; i++)
		n = e820_add(out, n, max, gm->ranges[i].gpa, gm->ranges[i].size,
			     E820_RAM);
	return n;
}
