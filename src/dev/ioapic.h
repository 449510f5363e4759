/* The I/O APIC (82093AA), kept by KVM (KVM_GET_IRQCHIP chip 2), as named
 * fields.  See src/dev/ioapic.c. */
#ifndef HYVE_DEV_IOAPIC_H
#define HYVE_DEV_IOAPIC_H

#include <linux/kvm.h>
#include <stdint.h>

#include "hyve/err.h"
#include "hyve/state.h"

#define IOAPIC_PINS KVM_IOAPIC_NUM_PINS /* 24 */

/* One redirection table entry (82093AA datasheet §3.2.4), field by field.
 * Bits 17-55 are reserved and not kept. */
struct ioapic_redirection {
	uint8_t vector;          /* bits 0-7 */
	uint8_t delivery_mode;   /* bits 8-10: 0 fixed, 1 lowest, 2 SMI, 4 NMI,
	                          * 5 INIT, 7 ExtINT */
	uint8_t dest_mode;       /* bit 11: 0 physical, 1 logical */
	uint8_t delivery_status; /* bit 12, read-only: 1 = send pending */
	uint8_t polarity;        /* bit 13: 0 active high, 1 active low */
	uint8_t remote_irr;      /* bit 14, read-only: level IRQ accepted */
	uint8_t trigger_mode;    /* bit 15: 0 edge, 1 level */
	uint8_t mask;            /* bit 16 */
	uint8_t destination;     /* bits 56-63 */
};

struct ioapic_state {
	uint64_t base_address; /* MMIO base, 0xfec00000 on a PC */
	uint32_t ioregsel;     /* IOREGSEL, 8 bits */
	uint32_t id;           /* IOAPICID bits 24-27 */
	uint32_t irr;          /* KVM's latched pin levels, one bit per pin */
	struct ioapic_redirection redirection[IOAPIC_PINS];
};

extern const struct state_desc ioapic_state_desc;

void ioapic_decode(const struct kvm_ioapic_state *k, struct ioapic_state *s);
void ioapic_encode(const struct ioapic_state *s, struct kvm_ioapic_state *k);
int ioapic_check(const struct ioapic_state *s, struct hyve_err *err);

int ioapic_read(int vm_fd, struct ioapic_state *s, struct hyve_err *err);
int ioapic_write(int vm_fd, const struct ioapic_state *s, struct hyve_err *err);

#endif
