/* The 8254 PIT and the port 0x61 speaker bits, emulated by KVM: the
 * kvm_pit_state2 of KVM_GET_PIT2 decoded into named fields, and back.
 *
 * The speaker port.  KVM keeps port 0x61 bit 0 (timer 2 gate) as channel
 * 2's `gate` and bit 1 (speaker data) in KVM_PIT_FLAGS_SPEAKER_DATA_ON
 * (Linux 6.x; older kernels drop it on save and ignore it on load).
 * HPET legacy replacement is KVM_PIT_FLAGS_HPET_LEGACY: channel 0 then
 * stops raising IRQ 0.
 *
 * count_load_time.  KVM stamps channels 1 and 2 with the host's
 * CLOCK_MONOTONIC (ktime_get) whenever their count is loaded and derives
 * their current count and OUT pin from the time elapsed since; channel 0
 * counts with an hrtimer instead and leaves its stamp unused (0 on this
 * host).  A host time means nothing after a restore, so hyve saves the
 * stamp as VM clock time (count_load_vm_ns) and converts it back to the
 * new host's time base on load.  KVM_SET_PIT2 then reloads every channel
 * (kvm_vm_ioctl_set_pit2 -> kvm_pit_load_count): channels 1 and 2 are
 * stamped afresh and channel 0's timer is re-armed with a whole period,
 * so the part of the current period that had elapsed at save time is lost
 * (at most 55 ms, one period of count 65536).  The rebased value is still
 * handed to KVM so the state is exact should KVM ever honour it. */
#include <string.h>
#include <sys/ioctl.h>

#include "dev/kvmclock.h"
#include "dev/pit.h"
#include "hyve/device.h"
#include "hyve/machine.h"

void pit_decode(const struct kvm_pit_state2 *k, struct pit_state *s,
		int64_t vm_minus_host_ns)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < PIT_CHANNELS; i++) {
		const struct kvm_pit_channel_state *kc = &k->channels[i];
		struct pit_channel_state *c = &s->channels[i];

		c->count = kc->count;
		c->latched_count = kc->latched_count;
		c->count_latched = kc->count_latched;
		c->status_latched = kc->status_latched != 0;
		c->status = kc->status;
		c->read_state = kc->read_state;
		c->write_state = kc->write_state;
		c->write_latch = kc->write_latch;
		c->rw_mode = kc->rw_mode;
		c->mode = kc->mode;
		c->bcd = kc->bcd != 0;
		c->gate = kc->gate != 0;
		/* Unsigned wrap-around keeps the conversion an exact inverse. */
		c->count_load_vm_ns = (int64_t)((uint64_t)kc->count_load_time +
						(uint64_t)vm_minus_host_ns);
	}
	s->hpet_legacy = k->flags & KVM_PIT_FLAGS_HPET_LEGACY;
	s->speaker_data_on = k->flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON;
}

void pit_encode(const struct pit_state *s, struct kvm_pit_state2 *k,
		int64_t vm_minus_host_ns)
{
	memset(k, 0, sizeof(*k));
	for (unsigned i = 0; i < PIT_CHANNELS; i++) {
		const struct pit_channel_state *c = &s->channels[i];
		struct kvm_pit_channel_state *kc = &k->channels[i];

		kc->count = c->count;
		kc->latched_count = c->latched_count;
		kc->count_latched = c->count_latched;
		kc->status_latched = c->status_latched;
		kc->status = c->status;
		kc->read_state = c->read_state;
		kc->write_state = c->write_state;
		kc->write_latch = c->write_latch;
		kc->rw_mode = c->rw_mode;
		kc->mode = c->mode;
		kc->bcd = c->bcd;
		kc->gate = c->gate;
		kc->count_load_time = (int64_t)((uint64_t)c->count_load_vm_ns -
						(uint64_t)vm_minus_host_ns);
	}
	k->flags = (s->hpet_legacy ? KVM_PIT_FLAGS_HPET_LEGACY : 0) |
		   (s->speaker_data_on ? KVM_PIT_FLAGS_SPEAKER_DATA_ON : 0);
}

/* Ranges of KVM's model (arch/x86/kvm/i8254.c): a control word's mode 6/7
 * is stored as 2/3, 0xff marks a channel never programmed, a count of 0 is
 * loaded as 65536, the access states run LSB, MSB, WORD0, WORD1 (1-4) and
 * are 0 only before the first control word. */
int pit_check(const struct pit_state *s, struct hyve_err *err)
{
	for (unsigned i = 0; i < PIT_CHANNELS; i++) {
		const struct pit_channel_state *c = &s->channels[i];

		if (c->mode > 5 && c->mode != PIT_MODE_UNPROGRAMMED)
			return err_set(err, EINVAL, "pit: channel %u mode %u is not 0-5", i, c->mode);
		if (c->count == 0 || c->count > 0x10000)
			return err_set(err, EINVAL, "pit: channel %u count %u is not 1-65536", i,
				       c->count);
		if (c->rw_mode > 3)
			return err_set(err, EINVAL, "pit: channel %u rw_mode %u is not 0-3", i,
				       c->rw_mode);
		if (c->read_state > PIT_RW_WORD1 || c->write_state > PIT_RW_WORD1)
			return err_set(err, EINVAL, "pit: channel %u read/write state %u/%u is not 0-4",
				       i, c->read_state, c->write_state);
		if (c->count_latched > PIT_RW_WORD0)
			return err_set(err, EINVAL, "pit: channel %u count_latched %u is not 0-3", i,
				       c->count_latched);
	}
	return 0;
}

int pit_read(int vm_fd, struct pit_state *s, struct hyve_err *err)
{
	struct kvm_pit_state2 k;
	int64_t offset;
	int r;

	memset(&k, 0, sizeof(k));
	if (ioctl(vm_fd, KVM_GET_PIT2, &k) < 0)
		return err_set(err, errno, "pit: KVM_GET_PIT2: %s", strerror(errno));
	r = kvmclock_vm_minus_host(vm_fd, &offset, err);
	if (r < 0)
		return r;
	pit_decode(&k, s, offset);
	return 0;
}

int pit_write(int vm_fd, const struct pit_state *s, struct hyve_err *err)
{
	struct kvm_pit_state2 k;
	int64_t offset;
	int r;

	r = kvmclock_vm_minus_host(vm_fd, &offset, err);
	if (r < 0)
		return r;
	pit_encode(s, &k, offset);
	if (ioctl(vm_fd, KVM_SET_PIT2, &k) < 0)
		return err_set(err, errno, "pit: KVM_SET_PIT2: %s", strerror(errno));
	return 0;
}

static const struct state_field pit_channel_fields[] = {
	FIELD_U32(struct pit_channel_state, count, 1),
	FIELD_U16(struct pit_channel_state, latched_count, 1),
	FIELD_U8(struct pit_channel_state, count_latched, 1),
	FIELD_BOOL(struct pit_channel_state, status_latched, 1),
	FIELD_U8(struct pit_channel_state, status, 1),
	FIELD_U8(struct pit_channel_state, read_state, 1),
	FIELD_U8(struct pit_channel_state, write_state, 1),
	FIELD_U8(struct pit_channel_state, write_latch, 1),
	FIELD_U8(struct pit_channel_state, rw_mode, 1),
	FIELD_U8(struct pit_channel_state, mode, 1),
	FIELD_BOOL(struct pit_channel_state, bcd, 1),
	FIELD_BOOL(struct pit_channel_state, gate, 1),
	FIELD_I64(struct pit_channel_state, count_load_vm_ns, 1),
	FIELD_END
};

static const struct state_desc pit_channel_desc =
	STATE_DESC("pit_channel", struct pit_channel_state, 1, pit_channel_fields);

static const struct state_field pit_fields[] = {
	FIELD_STRUCT_ARRAY(struct pit_state, channels, struct pit_channel_state,
			   pit_channel_desc, 1),
	FIELD_BOOL(struct pit_state, hpet_legacy, 1),
	FIELD_BOOL(struct pit_state, speaker_data_on, 1),
	FIELD_END
};

const struct state_desc pit_state_desc = STATE_DESC("pit", struct pit_state, 1, pit_fields);

/* --- device hooks --- */

static int pit_dev_create(struct machine *m, struct device *dev,
			  const struct dev_opts *opts, struct hyve_err *err)
{
	(void)m, (void)dev, (void)opts, (void)err;
	return 0; /* KVM_CREATE_PIT2 made it */
}

static void pit_dev_destroy(struct device *dev)
{
	(void)dev;
}

static int pit_dev_save(struct device *dev, void *state, struct hyve_err *err)
{
	return pit_read(dev->machine->vm_fd, state, err);
}

static int pit_dev_check(const void *staged, struct hyve_err *err)
{
	return pit_check(staged, err);
}

/* Load after the kvmclock device, so the VM clock the rebase uses is the
 * restored one. */
static int pit_dev_load(struct device *dev, const void *staged, struct hyve_err *err)
{
	return pit_write(dev->machine->vm_fd, staged, err);
}

static unsigned pit_builtin_count(const struct machine *m)
{
	(void)m;
	return 1;
}

static const struct device_type pit_type = {
	.name = "pit",
	.create = pit_dev_create,
	.destroy = pit_dev_destroy,
	.state = &pit_state_desc,
	.save = pit_dev_save,
	.check = pit_dev_check,
	.load = pit_dev_load,
	.builtin_count = pit_builtin_count,
};

DEVICE_TYPE_REGISTER(pit_type);
