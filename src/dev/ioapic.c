/* The I/O APIC (Intel 82093AA), emulated by KVM: KVM_GET_IRQCHIP's
 * kvm_ioapic_state decoded into named fields and each redirection entry
 * into its bit fields (datasheet §3.2.4), and back.
 *
 * The redirection entries are decoded from the 64-bit value with shifts,
 * not through KVM's bit-field struct, so the layout does not depend on the
 * compiler's bit-field order. */
#include <string.h>
#include <sys/ioctl.h>

#include "dev/ioapic.h"
#include "hyve/device.h"
#include "hyve/machine.h"

#define IOAPIC_RTE_RESERVED 0x00fffffffffe0000ull /* bits 17-55 */

static void ioapic_rte_decode(uint64_t v, struct ioapic_redirection *r)
{
	r->vector = v & 0xff;
	r->delivery_mode = (v >> 8) & 7;
	r->dest_mode = (v >> 11) & 1;
	r->delivery_status = (v >> 12) & 1;
	r->polarity = (v >> 13) & 1;
	r->remote_irr = (v >> 14) & 1;
	r->trigger_mode = (v >> 15) & 1;
	r->mask = (v >> 16) & 1;
	r->destination = (uint8_t)(v >> 56);
}

static uint64_t ioapic_rte_encode(const struct ioapic_redirection *r)
{
	return (uint64_t)r->vector | (uint64_t)(r->delivery_mode & 7) << 8 |
	       (uint64_t)(r->dest_mode & 1) << 11 |
	       (uint64_t)(r->delivery_status & 1) << 12 |
	       (uint64_t)(r->polarity & 1) << 13 |
	       (uint64_t)(r->remote_irr & 1) << 14 |
	       (uint64_t)(r->trigger_mode & 1) << 15 |
	       (uint64_t)(r->mask & 1) << 16 | (uint64_t)r->destination << 56;
}

/* Reserved bits 17-55 a guest may have written are dropped: they are not
 * state of the modelled chip (the datasheet leaves them undefined). */
void ioapic_decode(const struct kvm_ioapic_state *k, struct ioapic_state *s)
{
	memset(s, 0, sizeof(*s));
	s->base_address = k->base_address;
	s->ioregsel = k->ioregsel;
	s->id = k->id;
	s->irr = k->irr;
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		ioapic_rte_decode(k->redirtbl[i].bits, &s->redirection[i]);
}

void ioapic_encode(const struct ioapic_state *s, struct kvm_ioapic_state *k)
{
	memset(k, 0, sizeof(*k));
	k->base_address = s->base_address;
	k->ioregsel = s->ioregsel;
	k->id = s->id;
	k->irr = s->irr;
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		k->redirtbl[i].bits = ioapic_rte_encode(&s->redirection[i]);
}

int ioapic_check(const struct ioapic_state *s, struct hyve_err *err)
{
	/* KVM keeps the 4-bit ID of IOAPICID bits 24-27. */
	if (s->id > 15)
		return err_set(err, EINVAL, "ioapic: id %u is wider than 4 bits", s->id);
	/* KVM stores IOREGSEL as an 8-bit register. */
	if (s->ioregsel > 0xff)
		return err_set(err, EINVAL, "ioapic: ioregsel 0x%x is wider than 8 bits",
			       s->ioregsel);
	if (s->irr >> IOAPIC_PINS)
		return err_set(err, EINVAL, "ioapic: irr 0x%x has bits beyond pin %u",
			       s->irr, IOAPIC_PINS - 1);
	/* The register window is 1 KiB aligned in the 32-bit APIC area. */
	if ((s->base_address & 0x3ff) || s->base_address > 0xfffffc00ull)
		return err_set(err, EINVAL, "ioapic: base_address 0x%llx is not a 1 KiB aligned 32-bit address",
			       (unsigned long long)s->base_address);
	for (unsigned i = 0; i < IOAPIC_PINS; i++) {
		const struct ioapic_redirection *r = &s->redirection[i];

		if (r->delivery_mode > 7 || r->dest_mode > 1 ||
		    r->delivery_status > 1 || r->polarity > 1 ||
		    r->remote_irr > 1 || r->trigger_mode > 1 || r->mask > 1)
			return err_set(err, EINVAL,
				       "ioapic: redirection[%u] has a field wider than its bits (mode %u, flags %u%u%u%u%u%u)",
				       i, r->delivery_mode, r->dest_mode,
				       r->delivery_status, r->polarity,
				       r->remote_irr, r->trigger_mode, r->mask);
	}
	return 0;
}

int ioapic_read(int vm_fd, struct ioapic_state *s, struct hyve_err *err)
{
	struct kvm_irqchip chip;

	memset(&chip, 0, sizeof(chip));
	chip.chip_id = KVM_IRQCHIP_IOAPIC;
	if (ioctl(vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
		return err_set(err, errno, "ioapic: KVM_GET_IRQCHIP: %s", strerror(errno));
	ioapic_decode(&chip.chip.ioapic, s);
	return 0;
}

int ioapic_write(int vm_fd, const struct ioapic_state *s, struct hyve_err *err)
{
	struct kvm_irqchip chip;

	memset(&chip, 0, sizeof(chip));
	chip.chip_id = KVM_IRQCHIP_IOAPIC;
	ioapic_encode(s, &chip.chip.ioapic);
	if (ioctl(vm_fd, KVM_SET_IRQCHIP, &chip) < 0)
		return err_set(err, errno, "ioapic: KVM_SET_IRQCHIP: %s", strerror(errno));
	return 0;
}

static const struct state_field ioapic_redirection_fields[] = {
	FIELD_U8(struct ioapic_redirection, vector, 1),
	FIELD_U8(struct ioapic_redirection, delivery_mode, 1),
	FIELD_U8(struct ioapic_redirection, dest_mode, 1),
	FIELD_U8(struct ioapic_redirection, delivery_status, 1),
	FIELD_U8(struct ioapic_redirection, polarity, 1),
	FIELD_U8(struct ioapic_redirection, remote_irr, 1),
	FIELD_U8(struct ioapic_redirection, trigger_mode, 1),
	FIELD_U8(struct ioapic_redirection, mask, 1),
	FIELD_U8(struct ioapic_redirection, destination, 1),
	FIELD_END
};

static const struct state_desc ioapic_redirection_desc = STATE_DESC(
	"ioapic_redirection", struct ioapic_redirection, 1, ioapic_redirection_fields);

static const struct state_field ioapic_fields[] = {
	FIELD_U64(struct ioapic_state, base_address, 1),
	FIELD_U32(struct ioapic_state, ioregsel, 1),
	FIELD_U32(struct ioapic_state, id, 1),
	FIELD_U32(struct ioapic_state, irr, 1),
	FIELD_STRUCT_ARRAY(struct ioapic_state, redirection,
			   struct ioapic_redirection, ioapic_redirection_desc, 1),
	FIELD_END
};

const struct state_desc ioapic_state_desc =
	STATE_DESC("ioapic", struct ioapic_state, 1, ioapic_fields);

/* --- device hooks --- */

static int ioapic_dev_create(struct machine *m, struct device *dev,
			     const struct dev_opts *opts, struct hyve_err *err)
{
	(void)m, (void)dev, (void)opts, (void)err;
	return 0; /* KVM_CREATE_IRQCHIP made it */
}

static void ioapic_dev_destroy(struct device *dev)
{
	(void)dev;
}

static int ioapic_dev_save(struct device *dev, void *state, struct hyve_err *err)
{
	return ioapic_read(dev->machine->vm_fd, state, err);
}

static int ioapic_dev_check(const void *staged, struct hyve_err *err)
{
	return ioapic_check(staged, err);
}

static int ioapic_dev_load(struct device *dev, const void *staged,
			   struct hyve_err *err)
{
	return ioapic_write(dev->machine->vm_fd, staged, err);
}

static unsigned ioapic_builtin_count(const struct machine *m)
{
	(void)m;
	return 1;
}

static const struct device_type ioapic_type = {
	.name = "ioapic",
	.create = ioapic_dev_create,
	.destroy = ioapic_dev_destroy,
	.state = &ioapic_state_desc,
	.save = ioapic_dev_save,
	.check = ioapic_dev_check,
	.load = ioapic_dev_load,
	.builtin_count = ioapic_builtin_count,
};

DEVICE_TYPE_REGISTER(ioapic_type);
