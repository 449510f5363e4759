/* The VM clock: the time base of kvmclock (pvclock) that KVM keeps per VM,
 * read with KVM_GET_CLOCK and set with KVM_SET_CLOCK.
 *
 * Suspend and restore.  The guest's TSC is restored through the TSC MSR
 * (src/kvm/vcpu_state.c) and its kvmclock through this clock; both are set
 * back to their saved values, so the guest's monotonic time continues
 * exactly where it stopped: the time hyve spent suspended does not exist
 * for the guest.  Wall-clock time is the guest's business (NTP, or the RTC
 * with --restore-wallclock).
 *
 * The alternative, the device option "advance" (conf string, e.g.
 * `kvmclock,advance`), moves the clock forward by the real time elapsed
 * since the save.  KVM does this itself when KVM_SET_CLOCK gets the flag
 * KVM_CLOCK_REALTIME with the saved (clock, realtime) pair: it adds the
 * CLOCK_REALTIME difference and never steps the clock backwards (Linux
 * 5.16, "KVM: x86: Report host tsc and realtime values in KVM_GET_CLOCK").
 * KVM_GET_CLOCK offers the pair only when the host clocksource is the TSC;
 * this PVM-based host does not (its flags are 0), so hyve also keeps its
 * own CLOCK_REALTIME reading (wall_ns) and hands that to KVM instead
 * (KVM_SET_CLOCK honours KVM_CLOCK_REALTIME whatever the clocksource). */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "dev/kvmclock.h"
#include "hyve/device.h"
#include "hyve/machine.h"

static uint64_t kvmclock_now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void kvmclock_decode(const struct kvm_clock_data *k, struct kvmclock_state *s)
{
	memset(s, 0, sizeof(*s));
	s->clock_ns = k->clock;
	s->tsc_stable = k->flags & KVM_CLOCK_TSC_STABLE;
	s->realtime_valid = k->flags & KVM_CLOCK_REALTIME;
	s->host_tsc_valid = k->flags & KVM_CLOCK_HOST_TSC;
	s->realtime_ns = s->realtime_valid ? k->realtime : 0;
	s->host_tsc = s->host_tsc_valid ? k->host_tsc : 0;
}

void kvmclock_encode(const struct kvmclock_state *s, struct kvm_clock_data *k)
{
	memset(k, 0, sizeof(*k));
	k->clock = s->clock_ns;
	k->flags = (s->tsc_stable ? KVM_CLOCK_TSC_STABLE : 0) |
		   (s->realtime_valid ? KVM_CLOCK_REALTIME : 0) |
		   (s->host_tsc_valid ? KVM_CLOCK_HOST_TSC : 0);
	k->realtime = s->realtime_ns;
	k->host_tsc = s->host_tsc;
}

int kvmclock_check(const struct kvmclock_state *s, struct hyve_err *err)
{
	/* KVM keeps the clock as a signed offset from the host's clock. */
	if (s->clock_ns > (uint64_t)INT64_MAX)
		return err_set(err, EINVAL, "kvmclock: clock_ns %llu is beyond 2^63",
			       (unsigned long long)s->clock_ns);
	if (!s->realtime_valid && s->realtime_ns)
		return err_set(err, EINVAL, "kvmclock: realtime_ns set without realtime_valid");
	if (!s->host_tsc_valid && s->host_tsc)
		return err_set(err, EINVAL, "kvmclock: host_tsc set without host_tsc_valid");
	return 0;
}

int kvmclock_read(int vm_fd, struct kvmclock_state *s, struct hyve_err *err)
{
	struct kvm_clock_data k;

	memset(&k, 0, sizeof(k));
	if (ioctl(vm_fd, KVM_GET_CLOCK, &k) < 0)
		return err_set(err, errno, "kvmclock: KVM_GET_CLOCK: %s", strerror(errno));
	kvmclock_decode(&k, s);
	s->wall_ns = kvmclock_now_ns(CLOCK_REALTIME);
	return 0;
}

int kvmclock_write(int vm_fd, const struct kvmclock_state *s, bool advance,
		   struct hyve_err *err)
{
	struct kvm_clock_data k;
	uint64_t saved_real = s->realtime_valid ? s->realtime_ns : s->wall_ns;

	memset(&k, 0, sizeof(k));
	k.clock = s->clock_ns;
	if (advance && saved_real) {
		/* KVM adds (its CLOCK_REALTIME now - realtime) itself. */
		k.flags = KVM_CLOCK_REALTIME;
		k.realtime = saved_real;
		if (ioctl(vm_fd, KVM_SET_CLOCK, &k) == 0)
			return 0;
		if (errno != EINVAL)
			return err_set(err, errno, "kvmclock: KVM_SET_CLOCK: %s", strerror(errno));
		/* A kernel before 5.16: advance by hand. */
		uint64_t now = kvmclock_now_ns(CLOCK_REALTIME);

		k.flags = 0;
		k.realtime = 0;
		if (now > saved_real && now - saved_real < (uint64_t)INT64_MAX - k.clock)
			k.clock += now - saved_real;
	}
	if (ioctl(vm_fd, KVM_SET_CLOCK, &k) < 0)
		return err_set(err, errno, "kvmclock: KVM_SET_CLOCK: %s", strerror(errno));
	return 0;
}

/* Host monotonic time is read on both sides of KVM_GET_CLOCK and averaged,
 * so the error is half the ioctl's duration (microseconds). */
int kvmclock_vm_minus_host(int vm_fd, int64_t *out, struct hyve_err *err)
{
	struct kvm_clock_data k;
	uint64_t before, after;

	memset(&k, 0, sizeof(k));
	before = kvmclock_now_ns(CLOCK_MONOTONIC);
	if (ioctl(vm_fd, KVM_GET_CLOCK, &k) < 0)
		return err_set(err, errno, "kvmclock: KVM_GET_CLOCK: %s", strerror(errno));
	after = kvmclock_now_ns(CLOCK_MONOTONIC);
	*out = (int64_t)k.clock - (int64_t)(before + (after - before) / 2);
	return 0;
}

static const struct state_field kvmclock_fields[] = {
	FIELD_U64(struct kvmclock_state, clock_ns, 1),
	FIELD_BOOL(struct kvmclock_state, tsc_stable, 1),
	FIELD_BOOL(struct kvmclock_state, realtime_valid, 1),
	FIELD_U64(struct kvmclock_state, realtime_ns, 1),
	FIELD_BOOL(struct kvmclock_state, host_tsc_valid, 1),
	FIELD_U64(struct kvmclock_state, host_tsc, 1),
	FIELD_U64(struct kvmclock_state, wall_ns, 1),
	FIELD_END
};

const struct state_desc kvmclock_state_desc =
	STATE_DESC("kvmclock", struct kvmclock_state, 1, kvmclock_fields);

/* --- device hooks --- */

struct kvmclock_dev {
	bool advance; /* conf "advance": see the top of this file */
};

static int kvmclock_dev_create(struct machine *m, struct device *dev,
			       const struct dev_opts *opts, struct hyve_err *err)
{
	struct kvmclock_dev *kc;

	(void)m;
	if (opts && opts->conf && opts->conf[0] && strcmp(opts->conf, "advance") != 0)
		return err_set(err, EINVAL, "kvmclock: unknown option '%s' (known: advance)",
			       opts->conf);
	kc = calloc(1, sizeof(*kc));
	if (!kc)
		return err_set(err, ENOMEM, "kvmclock: out of memory");
	kc->advance = opts && opts->conf && strcmp(opts->conf, "advance") == 0;
	dev->priv = kc;
	return 0;
}

static void kvmclock_dev_destroy(struct device *dev)
{
	free(dev->priv);
	dev->priv = NULL;
}

static int kvmclock_dev_save(struct device *dev, void *state, struct hyve_err *err)
{
	return kvmclock_read(dev->machine->vm_fd, state, err);
}

static int kvmclock_dev_check(const void *staged, struct hyve_err *err)
{
	return kvmclock_check(staged, err);
}

static int kvmclock_dev_load(struct device *dev, const void *staged,
			     struct hyve_err *err)
{
	const struct kvmclock_dev *kc = dev->priv;

	return kvmclock_write(dev->machine->vm_fd, staged, kc && kc->advance, err);
}

static unsigned kvmclock_builtin_count(const struct machine *m)
{
	(void)m;
	return 1;
}

static const struct device_type kvmclock_type = {
	.name = "kvmclock",
	.create = kvmclock_dev_create,
	.destroy = kvmclock_dev_destroy,
	.state = &kvmclock_state_desc,
	.save = kvmclock_dev_save,
	.check = kvmclock_dev_check,
	.load = kvmclock_dev_load,
	.builtin_count = kvmclock_builtin_count,
};

DEVICE_TYPE_REGISTER(kvmclock_type);
