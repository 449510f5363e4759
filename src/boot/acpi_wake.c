/* What firmware does at an ACPI S3 wake, before the OS runs again: read the
 * waking vector the OS left in the FACS, and (for a long-mode vector) build
 * the execution environment the ACPI specification promises (ACPI 6.4,
 * 5.2.10, table 5.14, X_Firmware_Waking_Vector): interrupts off, flat
 * selectors, paging on with the vector identity mapped.  The vCPU registers
 * themselves are set by the vCPU code (src/kvm/vcpu_reset.c). */
#include <inttypes.h>
#include <string.h>

#include "boot/boot_file.h"
#include "hyve/boot.h"

#define PT_PRESENT_RW 0x003ULL
#define PT_LARGE      0x080ULL
#define PT_2M	      (2ULL << 20)
#define WAKE_PML4     (BOOT_WAKE_AREA + 0x1000)
#define WAKE_PDPT     (BOOT_WAKE_AREA + 0x2000)
#define WAKE_PD	      (BOOT_WAKE_AREA + 0x3000) /* four: one per GiB */
#define WAKE_AREA_LEN (0x3000 + 4 * 0x1000)

_Static_assert(BOOT_WAKE_AREA + WAKE_AREA_LEN <= BOOT_WAKE_AREA_END,
	       "the wake environment fits the area reserved for it");

int acpi_wake_vector(const struct guest_mem *gm, struct acpi_wake_vector *v,
		     struct hyve_err *err)
{
	const uint8_t *facs = guest_ptr(gm, BOOT_ACPI_FACS_ADDR, ACPI_FACS_LEN);
	uint64_t x;
	uint32_t real, ospm, flags;

	if (!facs)
		return err_set(err, EFAULT,
			       "wake: the FACS at 0x%llx is outside guest RAM",
			       BOOT_ACPI_FACS_ADDR);
	real = boot_get32(facs + ACPI_FACS_WAKING_VECTOR);
	flags = boot_get32(facs + ACPI_FACS_FLAGS);
	ospm = boot_get32(facs + ACPI_FACS_OSPM_FLAGS);
	x = boot_get64(facs + ACPI_FACS_X_WAKING_VECTOR);
	/* X_Firmware_Waking_Vector exists from FACS version 1 on, and is
	 * looked at first; a zero one means "use the 32-bit one". */
	if (facs[ACPI_FACS_VERSION] >= 1 && x != 0) {
		v->addr = x;
		v->mode = (ospm & ACPI_FACS_OSPM_64BIT_WAKE) &&
				  (flags & ACPI_FACS_F_64BIT_WAKE_SUPPORTED)
			      ? ACPI_WAKE_LONG64
			      : ACPI_WAKE_PROTECTED32;
		if (v->mode == ACPI_WAKE_PROTECTED32 && x > UINT32_MAX)
			return err_set(err, EINVAL,
				       "wake: the 32-bit protected-mode waking "
				       "vector 0x%" PRIx64 " is above 4 GiB",
				       x);
		if (v->mode == ACPI_WAKE_LONG64 &&
		    x >= GUEST_HIGH_RAM_START)
			return err_set(err, EINVAL,
				       "wake: the 64-bit waking vector 0x%" PRIx64
				       " is outside the first 4 GiB, which is "
				       "all hyve's wake environment maps",
				       x);
		return 0;
	}
	v->addr = real;
	v->mode = real ? ACPI_WAKE_REAL : ACPI_WAKE_NONE;
	return 0;
}

int acpi_wake_tables(struct guest_mem *gm, uint64_t *cr3, struct hyve_err *err)
{
	uint8_t *area = guest_ptr(gm, BOOT_WAKE_AREA, WAKE_AREA_LEN);
	uint8_t *pml4, *pdpt, *pd;
	int ret;

	if (!area)
		return err_set(err, EFAULT,
			       "wake: the firmware area at 0x%llx is outside "
			       "guest RAM",
			       BOOT_WAKE_AREA);
	/* Firmware memory (e820 reserved): rebuilt at every wake, whatever
	 * the OS did to it meanwhile. */
	memset(area, 0, WAKE_AREA_LEN);
	ret = boot_write_gdt(gm, BOOT_WAKE_AREA, err);
	if (ret)
		return ret;
	pml4 = area + (WAKE_PML4 - BOOT_WAKE_AREA);
	pdpt = area + (WAKE_PDPT - BOOT_WAKE_AREA);
	pd = area + (WAKE_PD - BOOT_WAKE_AREA);
	boot_put64(pml4, WAKE_PDPT | PT_PRESENT_RW);
	for (uint64_t g = 0; g < 4; g++) {
		boot_put64(pdpt + 8 * g, (WAKE_PD + g * 0x1000) | PT_PRESENT_RW);
		for (uint64_t j = 0; j < 512; j++)
			boot_put64(pd + g * 0x1000 + 8 * j,
				   ((g * 512 + j) * PT_2M) | PT_PRESENT_RW |
				       PT_LARGE);
	}
	*cr3 = WAKE_PML4;
	return 0;
}
