/* The two 8259A PICs (master at 0x20, slave at 0xa0, with the PIIX ELCR
 * at 0x4d0/0x4d1), kept by KVM (KVM_GET_IRQCHIP chips 0 and 1), as named
 * fields.  One device instance holds both chips.  See src/dev/pic.c. */
#ifndef HYVE_DEV_PIC_H
#define HYVE_DEV_PIC_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "hyve/err.h"
#include "hyve/state.h"

/* One 8259A (datasheet: ICW1-4, OCW1-3) as KVM models it. */
struct pic_chip_state {
	uint8_t last_irr;       /* input levels at the last edge detection */
	uint8_t irr;            /* interrupt request register */
	uint8_t imr;            /* interrupt mask register (OCW1) */
	uint8_t isr;            /* in-service register */
	uint8_t priority_add;   /* lowest-priority rotation base, 0-7 */
	uint8_t irq_base;       /* ICW2 vector base, multiple of 8 */
	bool read_reg_select;   /* OCW3 RIS: reads return ISR, not IRR */
	bool poll;              /* OCW3 poll command pending */
	bool special_mask;      /* OCW3 special mask mode */
	uint8_t init_state;     /* 0 ready, 1-3: expecting ICW2, ICW3, ICW4 */
	bool auto_eoi;          /* ICW4 AEOI */
	bool rotate_on_auto_eoi;
	bool special_fully_nested_mode; /* ICW4 SFNM */
	bool init4;             /* ICW1 IC4: an ICW4 follows */
	uint8_t elcr;           /* edge/level control (PIIX), 1 = level */
	uint8_t elcr_mask;      /* ELCR bits the chipset lets software set */
};

struct pic_state {
	struct pic_chip_state master;
	struct pic_chip_state slave;
};

extern const struct state_desc pic_state_desc;

void pic_decode(const struct kvm_pic_state *k, struct pic_chip_state *s);
void pic_encode(const struct pic_chip_state *s, struct kvm_pic_state *k);
int pic_check(const struct pic_state *s, struct hyve_err *err);

int pic_read(int vm_fd, struct pic_state *s, struct hyve_err *err);
int pic_write(int vm_fd, const struct pic_state *s, struct hyve_err *err);

#endif
