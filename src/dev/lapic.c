/* The local APIC (one per vCPU, emulated by KVM): its 1 KiB register page
 * from KVM_GET_LAPIC decoded into named registers, and back.
 *
 * Register layout: Intel SDM vol. 3, table 11-1 ("Local APIC Register
 * Address Map").  The APIC base MSR and the TSC-deadline MSR are not in the
 * page; they are saved with the vCPU (src/kvm/vcpu_state.c).
 *
 * Restore order.  KVM_SET_LAPIC must come after the APIC base (KVM_SET_SREGS:
 * it decides between xAPIC and x2APIC formats of the page) and before the
 * TSC-deadline MSR (KVM drops a deadline written while the LVT timer is not
 * in TSC-deadline mode, and KVM_SET_LAPIC re-arms the timer from scratch).
 * vcpu_state_load() does exactly that when handed this state, so the type
 * is marked loaded_with_vcpu and the restore's device loop skips it.  The
 * `load` hook remains for callers that load the LAPIC on its own, which is
 * only correct BEFORE vcpu_state_load(), never after it.  On save, read it
 * after the vCPU's MP state (vcpu_state_save first, then this). */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "dev/lapic.h"
#include "hyve/device.h"
#include "hyve/machine.h"
#include "hyve/vcpu.h"

static uint32_t lapic_get(const struct kvm_lapic_state *page, unsigned off)
{
	uint32_t v;

	memcpy(&v, page->regs + off, sizeof(v));
	return v;
}

static void lapic_put(struct kvm_lapic_state *page, unsigned off, uint32_t v)
{
	memcpy(page->regs + off, &v, sizeof(v));
}

void lapic_decode(const struct kvm_lapic_state *page, struct lapic_state *s)
{
	memset(s, 0, sizeof(*s));
	s->id = lapic_get(page, LAPIC_REG_ID);
	s->version = lapic_get(page, LAPIC_REG_VERSION);
	s->tpr = lapic_get(page, LAPIC_REG_TPR);
	s->apr = lapic_get(page, LAPIC_REG_APR);
	s->ppr = lapic_get(page, LAPIC_REG_PPR);
	s->ldr = lapic_get(page, LAPIC_REG_LDR);
	s->dfr = lapic_get(page, LAPIC_REG_DFR);
	s->svr = lapic_get(page, LAPIC_REG_SVR);
	for (unsigned i = 0; i < LAPIC_VECTOR_WORDS; i++) {
		s->isr[i] = lapic_get(page, LAPIC_REG_ISR + 16 * i);
		s->tmr[i] = lapic_get(page, LAPIC_REG_TMR + 16 * i);
		s->irr[i] = lapic_get(page, LAPIC_REG_IRR + 16 * i);
	}
	s->esr = lapic_get(page, LAPIC_REG_ESR);
	s->icr_low = lapic_get(page, LAPIC_REG_ICR_LOW);
	s->icr_high = lapic_get(page, LAPIC_REG_ICR_HIGH);
	s->lvt_timer = lapic_get(page, LAPIC_REG_LVT_TIMER);
	s->lvt_thermal = lapic_get(page, LAPIC_REG_LVT_THERMAL);
	s->lvt_perf = lapic_get(page, LAPIC_REG_LVT_PERF);
	s->lvt_lint0 = lapic_get(page, LAPIC_REG_LVT_LINT0);
	s->lvt_lint1 = lapic_get(page, LAPIC_REG_LVT_LINT1);
	s->lvt_error = lapic_get(page, LAPIC_REG_LVT_ERROR);
	s->lvt_cmci = lapic_get(page, LAPIC_REG_LVT_CMCI);
	s->timer_initial_count = lapic_get(page, LAPIC_REG_TIMER_INITIAL);
	s->timer_current_count = lapic_get(page, LAPIC_REG_TIMER_CURRENT);
	s->timer_divide = lapic_get(page, LAPIC_REG_TIMER_DIVIDE);
}

void lapic_encode(const struct lapic_state *s, struct kvm_lapic_state *page)
{
	memset(page, 0, sizeof(*page));
	lapic_put(page, LAPIC_REG_ID, s->id);
	lapic_put(page, LAPIC_REG_VERSION, s->version);
	lapic_put(page, LAPIC_REG_TPR, s->tpr);
	lapic_put(page, LAPIC_REG_APR, s->apr);
	lapic_put(page, LAPIC_REG_PPR, s->ppr);
	lapic_put(page, LAPIC_REG_LDR, s->ldr);
	lapic_put(page, LAPIC_REG_DFR, s->dfr);
	lapic_put(page, LAPIC_REG_SVR, s->svr);
	for (unsigned i = 0; i < LAPIC_VECTOR_WORDS; i++) {
		lapic_put(page, LAPIC_REG_ISR + 16 * i, s->isr[i]);
		lapic_put(page, LAPIC_REG_TMR + 16 * i, s->tmr[i]);
		lapic_put(page, LAPIC_REG_IRR + 16 * i, s->irr[i]);
	}
	lapic_put(page, LAPIC_REG_ESR, s->esr);
	lapic_put(page, LAPIC_REG_ICR_LOW, s->icr_low);
	lapic_put(page, LAPIC_REG_ICR_HIGH, s->icr_high);
	lapic_put(page, LAPIC_REG_LVT_TIMER, s->lvt_timer);
	lapic_put(page, LAPIC_REG_LVT_THERMAL, s->lvt_thermal);
	lapic_put(page, LAPIC_REG_LVT_PERF, s->lvt_perf);
	lapic_put(page, LAPIC_REG_LVT_LINT0, s->lvt_lint0);
	lapic_put(page, LAPIC_REG_LVT_LINT1, s->lvt_lint1);
	lapic_put(page, LAPIC_REG_LVT_ERROR, s->lvt_error);
	lapic_put(page, LAPIC_REG_LVT_CMCI, s->lvt_cmci);
	lapic_put(page, LAPIC_REG_TIMER_INITIAL, s->timer_initial_count);
	lapic_put(page, LAPIC_REG_TIMER_CURRENT, s->timer_current_count);
	lapic_put(page, LAPIC_REG_TIMER_DIVIDE, s->timer_divide);
}

/* Writable bits of each LVT (SDM figure 11-8): vector 0-7, delivery mode
 * 8-10, delivery status 12, polarity 13, remote IRR 14, trigger 15,
 * mask 16, timer mode 17-18.  KVM masks guest writes the same way, so a
 * bit outside these never comes from a running guest. */
#define LAPIC_LVT_BASIC 0x000110ffu /* vector, delivery status, mask */
#define LAPIC_LVT_MODE 0x00000700u
#define LAPIC_LVT_LINT 0x0000e000u /* polarity, remote IRR, trigger */
#define LAPIC_LVT_TIMER_MODE 0x00060000u

static const struct {
	const char *name;
	size_t offset;
	uint32_t valid;
} lapic_lvts[] = {
	{ "lvt_timer", offsetof(struct lapic_state, lvt_timer),
	  LAPIC_LVT_BASIC | LAPIC_LVT_TIMER_MODE },
	{ "lvt_thermal", offsetof(struct lapic_state, lvt_thermal),
	  LAPIC_LVT_BASIC | LAPIC_LVT_MODE },
	{ "lvt_perf", offsetof(struct lapic_state, lvt_perf),
	  LAPIC_LVT_BASIC | LAPIC_LVT_MODE },
	{ "lvt_lint0", offsetof(struct lapic_state, lvt_lint0),
	  LAPIC_LVT_BASIC | LAPIC_LVT_MODE | LAPIC_LVT_LINT },
	{ "lvt_lint1", offsetof(struct lapic_state, lvt_lint1),
	  LAPIC_LVT_BASIC | LAPIC_LVT_MODE | LAPIC_LVT_LINT },
	{ "lvt_error", offsetof(struct lapic_state, lvt_error),
	  LAPIC_LVT_BASIC },
	{ "lvt_cmci", offsetof(struct lapic_state, lvt_cmci),
	  LAPIC_LVT_BASIC | LAPIC_LVT_MODE },
};

/* Only what no APIC (and no KVM) can hold is refused: bits outside a
 * register's defined fields, and the reserved timer mode 3.  ID, LDR and
 * the ICR are 32-bit in x2APIC mode and KVM keeps guest-written ICR bits,
 * so they are not checked. */
int lapic_check(const struct lapic_state *s, struct hyve_err *err)
{
	for (size_t i = 0; i < sizeof(lapic_lvts) / sizeof(lapic_lvts[0]); i++) {
		uint32_t v;

		memcpy(&v, (const char *)s + lapic_lvts[i].offset, sizeof(v));
		if (v & ~lapic_lvts[i].valid)
			return err_set(err, EINVAL,
				       "lapic: %s 0x%08x sets reserved bits (0x%08x)",
				       lapic_lvts[i].name, v, v & ~lapic_lvts[i].valid);
	}
	if (((s->lvt_timer & LAPIC_LVT_TIMER_MODE) >> LAPIC_TIMER_MODE_SHIFT) == 3)
		return err_set(err, EINVAL, "lapic: lvt_timer 0x%08x uses the reserved timer mode 3",
			       s->lvt_timer);
	if (s->tpr > 0xff)
		return err_set(err, EINVAL, "lapic: tpr 0x%x is wider than 8 bits", s->tpr);
	/* SVR: vector, APIC enable (8), focus disable (9), EOI-broadcast
	 * suppression (12). */
	if (s->svr & ~0x13ffu)
		return err_set(err, EINVAL, "lapic: svr 0x%08x sets reserved bits", s->svr);
	/* DFR: model in bits 28-31 (0xf flat, 0x0 cluster), the rest reads
	 * as ones. */
	if ((s->dfr & 0x0fffffffu) != 0x0fffffffu ||
	    ((s->dfr >> 28) != 0xf && (s->dfr >> 28) != 0))
		return err_set(err, EINVAL, "lapic: dfr 0x%08x is not a flat or cluster model", s->dfr);
	/* Divide configuration uses bits 0, 1 and 3 only. */
	if (s->timer_divide & ~0xbu)
		return err_set(err, EINVAL, "lapic: timer_divide 0x%x sets reserved bits",
			       s->timer_divide);
	if (s->esr & ~0xffu)
		return err_set(err, EINVAL, "lapic: esr 0x%x sets reserved bits", s->esr);
	return 0;
}

int lapic_read(int vcpu_fd, struct lapic_state *s, struct hyve_err *err)
{
	struct kvm_lapic_state page;

	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &page) < 0)
		return err_set(err, errno, "KVM_GET_LAPIC: %s", strerror(errno));
	lapic_decode(&page, s);
	return 0;
}

int lapic_write(int vcpu_fd, const struct lapic_state *s, struct hyve_err *err)
{
	struct kvm_lapic_state page;

	lapic_encode(s, &page);
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &page) < 0)
		return err_set(err, errno, "KVM_SET_LAPIC: %s", strerror(errno));
	return 0;
}

static const struct state_field lapic_fields[] = {
	FIELD_U32(struct lapic_state, id, 1),
	FIELD_U32(struct lapic_state, version, 1),
	FIELD_U32(struct lapic_state, tpr, 1),
	FIELD_U32(struct lapic_state, apr, 1),
	FIELD_U32(struct lapic_state, ppr, 1),
	FIELD_U32(struct lapic_state, ldr, 1),
	FIELD_U32(struct lapic_state, dfr, 1),
	FIELD_U32(struct lapic_state, svr, 1),
	FIELD_ARRAY_U32(struct lapic_state, isr, 1),
	FIELD_ARRAY_U32(struct lapic_state, tmr, 1),
	FIELD_ARRAY_U32(struct lapic_state, irr, 1),
	FIELD_U32(struct lapic_state, esr, 1),
	FIELD_U32(struct lapic_state, icr_low, 1),
	FIELD_U32(struct lapic_state, icr_high, 1),
	FIELD_U32(struct lapic_state, lvt_timer, 1),
	FIELD_U32(struct lapic_state, lvt_thermal, 1),
	FIELD_U32(struct lapic_state, lvt_perf, 1),
	FIELD_U32(struct lapic_state, lvt_lint0, 1),
	FIELD_U32(struct lapic_state, lvt_lint1, 1),
	FIELD_U32(struct lapic_state, lvt_error, 1),
	FIELD_U32(struct lapic_state, lvt_cmci, 1),
	FIELD_U32(struct lapic_state, timer_initial_count, 1),
	FIELD_U32(struct lapic_state, timer_current_count, 1),
	FIELD_U32(struct lapic_state, timer_divide, 1),
	FIELD_END
};

const struct state_desc lapic_state_desc =
	STATE_DESC("lapic", struct lapic_state, 1, lapic_fields);

/* --- device hooks: instance N is vCPU N's APIC --- */

static int lapic_vcpu_fd(struct device *dev, struct hyve_err *err)
{
	struct machine *m = dev->machine;

	if (!m || dev->instance >= m->nr_vcpus || !m->vcpus)
		return err_set(err, ENODEV, "lapic.%u: no vCPU %u in this machine",
			       dev->instance, dev->instance);
	return m->vcpus[dev->instance].fd;
}

static int lapic_dev_create(struct machine *m, struct device *dev,
			    const struct dev_opts *opts, struct hyve_err *err)
{
	(void)opts;
	/* KVM creates the APIC with the vCPU; nothing of ours to build. */
	if (dev->instance >= m->nr_vcpus)
		return err_set(err, EINVAL, "lapic.%u: the machine has %u vCPUs",
			       dev->instance, m->nr_vcpus);
	return 0;
}

static void lapic_dev_destroy(struct device *dev)
{
	(void)dev;
}

static int lapic_dev_save(struct device *dev, void *state, struct hyve_err *err)
{
	int fd = lapic_vcpu_fd(dev, err);
	int r;

	if (fd < 0)
		return fd;
	r = lapic_read(fd, state, err);
	if (r < 0)
		err_prefix(err, "lapic.%u: ", dev->instance);
	return r;
}

static int lapic_dev_check(const void *staged, struct hyve_err *err)
{
	return lapic_check(staged, err);
}

static int lapic_dev_load(struct device *dev, const void *staged,
			  struct hyve_err *err)
{
	int fd = lapic_vcpu_fd(dev, err);
	int r;

	if (fd < 0)
		return fd;
	r = lapic_write(fd, staged, err);
	if (r < 0)
		err_prefix(err, "lapic.%u: ", dev->instance);
	return r;
}

static unsigned lapic_builtin_count(const struct machine *m)
{
	return m->nr_vcpus;
}

static const struct device_type lapic_type = {
	.name = "lapic",
	.create = lapic_dev_create,
	.destroy = lapic_dev_destroy,
	.state = &lapic_state_desc,
	.save = lapic_dev_save,
	.check = lapic_dev_check,
	.load = lapic_dev_load,
	.builtin_count = lapic_builtin_count,
	.loaded_with_vcpu = true,
};

DEVICE_TYPE_REGISTER(lapic_type);
