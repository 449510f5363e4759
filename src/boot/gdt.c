/* The flat GDT both boot protocols run on (selectors in hyve/boot.h). */
#include "boot/boot_file.h"
#include "hyve/boot.h"

int boot_write_gdt(struct guest_mem *gm, uint64_t gpa, struct hyve_err *err)
{
	static const uint64_t gdt[BOOT_GDT_ENTRIES] = {
	    [0] = 0,
	    [BOOT_SEL_CODE32 / 8] = BOOT_GDT_DESC_CODE32,
	    [BOOT_SEL_CODE64 / 8] = BOOT_GDT_DESC_CODE64,
	    [BOOT_SEL_DATA / 8] = BOOT_GDT_DESC_DATA,
	};
	uint8_t *p = guest_ptr(gm, gpa, sizeof(gdt));

	if (!p)
		return err_set(err, EFAULT,
			       "boot: GDT at 0x%llx is outside guest RAM",
			       (unsigned long long)gpa);
	for (unsigned i = 0; i < BOOT_GDT_ENTRIES; i++)
		boot_put64(p + 8 * i, gdt[i]);
	return 0;
}
