/* HPET (src/dev/hpet.c): where it lives and what its capabilities register
 * says, for the device model and the ACPI HPET table.  IA-PC HPET
 * specification 1.0a, section 2.3. */
#ifndef HYVE_HPET_H
#define HYVE_HPET_H

#include "hyve/boot.h"

#define HPET_BASE 0xFED00000ULL
#define HPET_LEN  0x400ULL

#define HPET_NUM_TIMERS 3
#define HPET_REV_ID	1
#define HPET_VENDOR_ID	0x8086
/* 10 ns per tick: a 100 MHz main counter (the spec allows up to 100 ns). */
#define HPET_PERIOD_FS 10000000ULL
#define HPET_TICK_NS   10ULL

/* General Capabilities and ID, low 32 bits: REV_ID (7:0), NUM_TIM_CAP =
 * timers - 1 (12:8), COUNT_SIZE_CAP 64-bit (13), LEG_RT_CAP (15),
 * VENDOR_ID (31:16).  The ACPI table's event timer block id is this. */
#define HPET_CAP_COUNT_SIZE (1U << 13)
#define HPET_CAP_LEG_RT	    (1U << 15)
#define HPET_CAP_LOW                                                           \
	((unsigned)HPET_VENDOR_ID << 16 | HPET_CAP_LEG_RT |                    \
	 HPET_CAP_COUNT_SIZE | (HPET_NUM_TIMERS - 1) << 8 | HPET_REV_ID)

/* Tn_INT_ROUTE_CAP: IOAPIC inputs 20-23 (GSI 20-23, free of ISA and PCI
 * INTx lines).  Timers 0 and 1 also reach IRQ 0 and 8 through legacy
 * replacement routing. */
#define HPET_ROUTE_CAP 0x00F00000U

/* Minimum comparator step in periodic mode worth advertising in the ACPI
 * table (main counter ticks): 100 us, the fastest the model fires. */
#define HPET_MIN_TICK 10000U

_Static_assert(HPET_BASE == ACPI_HPET_ADDR && HPET_LEN == ACPI_HPET_LEN,
	       "HPET address disagrees with boot.h");
_Static_assert(HPET_CAP_LOW == ACPI_HPET_CAP_LOW,
	       "HPET capabilities disagree with boot.h");

#endif
