/* The two cascaded 8259A PICs with the PIIX edge/level control registers,
 * emulated by KVM: KVM_GET_IRQCHIP chips 0 (master) and 1 (slave) decoded
 * into named fields, and back.  One device instance ("pic") holds both
 * chips: they are one cascade and are always saved together.
 *
 * Value ranges follow KVM's model of the chip (arch/x86/kvm/i8259.c): the
 * init sequence state counts ICW2..ICW4 (0-3), the rotation base is an IRQ
 * number (0-7), ICW2 keeps only vector bits 3-7, and ELCR bits outside the
 * chipset's mask (IRQ 0-2 on the master, 8 and 13 on the slave) cannot be
 * set. */
#include <string.h>
#include <sys/ioctl.h>

#include "dev/pic.h"
#include "hyve/device.h"
#include "hyve/machine.h"

void pic_decode(const struct kvm_pic_state *k, struct pic_chip_state *s)
{
	memset(s, 0, sizeof(*s));
	s->last_irr = k->last_irr;
	s->irr = k->irr;
	s->imr = k->imr;
	s->isr = k->isr;
	s->priority_add = k->priority_add;
	s->irq_base = k->irq_base;
	s->read_reg_select = k->read_reg_select != 0;
	s->poll = k->poll != 0;
	s->special_mask = k->special_mask != 0;
	s->init_state = k->init_state;
	s->auto_eoi = k->auto_eoi != 0;
	s->rotate_on_auto_eoi = k->rotate_on_auto_eoi != 0;
	s->special_fully_nested_mode = k->special_fully_nested_mode != 0;
	s->init4 = k->init4 != 0;
	s->elcr = k->elcr;
	s->elcr_mask = k->elcr_mask;
}

void pic_encode(const struct pic_chip_state *s, struct kvm_pic_state *k)
{
	memset(k, 0, sizeof(*k));
	k->last_irr = s->last_irr;
	k->irr = s->irr;
	k->imr = s->imr;
	k->isr = s->isr;
	k->priority_add = s->priority_add;
	k->irq_base = s->irq_base;
	k->read_reg_select = s->read_reg_select;
	k->poll = s->poll;
	k->special_mask = s->special_mask;
	k->init_state = s->init_state;
	k->auto_eoi = s->auto_eoi;
	k->rotate_on_auto_eoi = s->rotate_on_auto_eoi;
	k->special_fully_nested_mode = s->special_fully_nested_mode;
	k->init4 = s->init4;
	k->elcr = s->elcr;
	k->elcr_mask = s->elcr_mask;
}

static int pic_chip_check(const char *name, const struct pic_chip_state *s,
			  struct hyve_err *err)
{
	if (s->init_state > 3)
		return err_set(err, EINVAL, "pic: %s init_state %u is not 0-3", name, s->init_state);
	if (s->priority_add > 7)
		return err_set(err, EINVAL, "pic: %s priority_add %u is not an IRQ 0-7", name,
			       s->priority_add);
	if (s->irq_base & 7)
		return err_set(err, EINVAL, "pic: %s irq_base 0x%02x is not a multiple of 8", name,
			       s->irq_base);
	if (s->elcr & ~s->elcr_mask)
		return err_set(err, EINVAL, "pic: %s elcr 0x%02x sets bits outside elcr_mask 0x%02x",
			       name, s->elcr, s->elcr_mask);
	return 0;
}

int pic_check(const struct pic_state *s, struct hyve_err *err)
{
	int r = pic_chip_check("master", &s->master, err);

	return r < 0 ? r : pic_chip_check("slave", &s->slave, err);
}

static int pic_chip_read(int vm_fd, unsigned id, struct pic_chip_state *s,
			 struct hyve_err *err)
{
	struct kvm_irqchip chip;

	memset(&chip, 0, sizeof(chip));
	chip.chip_id = id;
	if (ioctl(vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
		return err_set(err, errno, "pic: KVM_GET_IRQCHIP %s: %s",
			       id == KVM_IRQCHIP_PIC_MASTER ? "master" : "slave", strerror(errno));
	pic_decode(&chip.chip.pic, s);
	return 0;
}

static int pic_chip_write(int vm_fd, unsigned id, const struct pic_chip_state *s,
			  struct hyve_err *err)
{
	struct kvm_irqchip chip;

	memset(&chip, 0, sizeof(chip));
	chip.chip_id = id;
	pic_encode(s, &chip.chip.pic);
	if (ioctl(vm_fd, KVM_SET_IRQCHIP, &chip) < 0)
		return err_set(err, errno, "pic: KVM_SET_IRQCHIP %s: %s",
			       id == KVM_IRQCHIP_PIC_MASTER ? "master" : "slave", strerror(errno));
	return 0;
}

int pic_read(int vm_fd, struct pic_state *s, struct hyve_err *err)
{
	int r = pic_chip_read(vm_fd, KVM_IRQCHIP_PIC_MASTER, &s->master, err);

	return r < 0 ? r : pic_chip_read(vm_fd, KVM_IRQCHIP_PIC_SLAVE, &s->slave, err);
}

/* KVM re-evaluates the cascade output after each chip is set, so loading
 * the slave first means the master sees the slave's final INT line. */
int pic_write(int vm_fd, const struct pic_state *s, struct hyve_err *err)
{
	int r = pic_chip_write(vm_fd, KVM_IRQCHIP_PIC_SLAVE, &s->slave, err);

	return r < 0 ? r : pic_chip_write(vm_fd, KVM_IRQCHIP_PIC_MASTER, &s->master, err);
}

static const struct state_field pic_chip_fields[] = {
	FIELD_U8(struct pic_chip_state, last_irr, 1),
	FIELD_U8(struct pic_chip_state, irr, 1),
	FIELD_U8(struct pic_chip_state, imr, 1),
	FIELD_U8(struct pic_chip_state, isr, 1),
	FIELD_U8(struct pic_chip_state, priority_add, 1),
	FIELD_U8(struct pic_chip_state, irq_base, 1),
	FIELD_BOOL(struct pic_chip_state, read_reg_select, 1),
	FIELD_BOOL(struct pic_chip_state, poll, 1),
	FIELD_BOOL(struct pic_chip_state, special_mask, 1),
	FIELD_U8(struct pic_chip_state, init_state, 1),
	FIELD_BOOL(struct pic_chip_state, auto_eoi, 1),
	FIELD_BOOL(struct pic_chip_state, rotate_on_auto_eoi, 1),
	FIELD_BOOL(struct pic_chip_state, special_fully_nested_mode, 1),
	FIELD_BOOL(struct pic_chip_state, init4, 1),
	FIELD_U8(struct pic_chip_state, elcr, 1),
	FIELD_U8(struct pic_chip_state, elcr_mask, 1),
	FIELD_END
};

static const struct state_desc pic_chip_desc =
	STATE_DESC("pic_chip", struct pic_chip_state, 1, pic_chip_fields);

static const struct state_field pic_fields[] = {
	FIELD_STRUCT(struct pic_state, master, struct pic_chip_state, pic_chip_desc, 1),
	FIELD_STRUCT(struct pic_state, slave, struct pic_chip_state, pic_chip_desc, 1),
	FIELD_END
};

const struct state_desc pic_state_desc = STATE_DESC("pic", struct pic_state, 1, pic_fields);

/* --- device hooks --- */

static int pic_dev_create(struct machine *m, struct device *dev,
			  const struct dev_opts *opts, struct hyve_err *err)
{
	(void)m, (void)dev, (void)opts, (void)err;
	return 0; /* KVM_CREATE_IRQCHIP made both chips */
}

static void pic_dev_destroy(struct device *dev)
{
	(void)dev;
}

static int pic_dev_save(struct device *dev, void *state, struct hyve_err *err)
{
	return pic_read(dev->machine->vm_fd, state, err);
}

static int pic_dev_check(const void *staged, struct hyve_err *err)
{
	return pic_check(staged, err);
}

static int pic_dev_load(struct device *dev, const void *staged, struct hyve_err *err)
{
	return pic_write(dev->machine->vm_fd, staged, err);
}

static unsigned pic_builtin_count(const struct machine *m)
{
	(void)m;
	return 1;
}

static const struct device_type pic_type = {
	.name = "pic",
	.create = pic_dev_create,
	.destroy = pic_dev_destroy,
	.state = &pic_state_desc,
	.save = pic_dev_save,
	.check = pic_dev_check,
	.load = pic_dev_load,
	.builtin_count = pic_builtin_count,
};

DEVICE_TYPE_REGISTER(pic_type);
