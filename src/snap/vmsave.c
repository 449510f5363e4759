/* Saving a paused machine: the walk over everything that is guest state.
 *
 * Order: devices are quiesced first (in-flight I/O finished, so what they
 * report is final), then the machine description, the machine-wide time
 * section, one section per vCPU, one per device instance, and last the RAM
 * (the bulk).  Everything goes to temporary files that replace PATH only
 * once complete and durable (snap_writer_commit). */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "hyve/cli.h"
#include "hyve/machine.h"
#include "hyve/snapshot.h"
#include "hyve/timer.h"
#include "hyve/vcpu.h"
#include "hyve/vcpu_state.h"
#include "hyve/vmsnap.h"
#include "snap/vmsnap_internal.h"

static const struct state_field vm_time_fields[] = {
	FIELD_U64(struct vm_time_state, vm_clock_ns, 1),
	FIELD_U64(struct vm_time_state, wall_clock_ns, 1),
	FIELD_END
};

const struct state_desc vm_time_state_desc = STATE_DESC("vm", struct vm_time_state, 1, vm_time_fields);

static uint64_t vmsave_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The CPUID the boot processor runs with, for the machine description. */
static int vmsave_cpuid(struct machine *m, struct snap_machine *sm, struct hyve_err *err)
{
	struct kvm_cpuid2 *cpuid;
	int ret = 0;

	cpuid = calloc(1, sizeof(*cpuid) + SNAP_MAX_CPUID * sizeof(cpuid->entries[0]));
	if (!cpuid)
		return err_set(err, ENOMEM, "cpuid: out of memory");
	cpuid->nent = SNAP_MAX_CPUID;
	if (ioctl(m->vcpus[0].fd, KVM_GET_CPUID2, cpuid) < 0) {
		ret = err_set(err, errno, "KVM_GET_CPUID2: %s", strerror(errno));
		goto out;
	}
	sm->nr_cpuid = cpuid->nent;
	for (unsigned i = 0; i < cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		sm->cpuid[i] = (struct snap_cpuid){ e->function, e->index, e->flags, e->eax, e->ebx, e->ecx, e->edx };
	}
out:
	free(cpuid);
	return ret;
}

static int vmsave_describe(struct machine *m, const char *note, struct snap_machine *sm, struct hyve_err *err)
{
	unsigned n = 0;

	memset(sm, 0, sizeof(*sm));
	snprintf(sm->hyve_version, sizeof(sm->hyve_version), "%s", HYVE_VERSION);
	sm->created_ns = vmsave_realtime_ns();
	if (note)
		snprintf(sm->note, sizeof(sm->note), "%s", note);
	sm->nr_vcpus = m->nr_vcpus;
	sm->mem_size = m->mem.size;
	sm->nr_ranges = m->mem.nr_ranges;
	for (unsigned i = 0; i < m->mem.nr_ranges; i++)
		sm->ranges[i] = (struct snap_mem_range){ m->mem.ranges[i].gpa, m->mem.ranges[i].size };
	for (struct device *d = m->devices; d; d = d->next) {
		if (n == SNAP_MAX_DEVICES)
			return err_set(err, E2BIG, "more than %d devices", SNAP_MAX_DEVICES);
		snprintf(sm->devices[n].name, sizeof(sm->devices[n].name), "%s", d->type->name);
		sm->devices[n].instance = d->instance;
		snprintf(sm->devices[n].conf, sizeof(sm->devices[n].conf), "%s", d->conf);
		n++;
	}
	sm->nr_devices = n;
	sm->config = m->cfg;
	return vmsave_cpuid(m, sm, err);
}

static int vmsave_devices(struct machine *m, struct snap_writer *w, struct hyve_err *err)
{
	for (struct device *d = m->devices; d; d = d->next) {
		const struct state_desc *desc = d->type->state;
		void *state;
		int ret;

		if (!desc)
			continue;
		if (!d->type->save)
			return err_set(err, ENOTSUP, "device %s.%u cannot be saved", d->type->name, d->instance);
		state = calloc(1, desc->size);
		if (!state)
			return err_set(err, ENOMEM, "device %s: out of memory", d->type->name);
		ret = d->type->save(d, state, err);
		if (!ret)
			ret = snap_write_section(w, desc, d->type->name, d->instance, state, 0, err);
		free(state);
		if (ret) {
			err_prefix(err, "device %s.%u: ", d->type->name, d->instance);
			return ret;
		}
	}
	return 0;
}

static int vmsave_vcpus(struct machine *m, struct snap_writer *w, struct hyve_err *err)
{
	struct vcpu_state *vs = calloc(1, sizeof(*vs));
	int ret = 0;

	if (!vs)
		return err_set(err, ENOMEM, "vcpu state: out of memory");
	for (unsigned i = 0; !ret && i < m->nr_vcpus; i++) {
		memset(vs, 0, sizeof(*vs));
		ret = vcpu_state_save(m->vcpus[i].fd, vs, err);
		if (!ret)
			ret = snap_write_section(w, &vcpu_state_desc, "vcpu", i, vs, 0, err);
		if (ret)
			err_prefix(err, "vcpu %u: ", i);
	}
	free(vs);
	return ret;
}

int vm_snapshot_save_begin(struct machine *m, const char *path, const char *note, unsigned flags,
			   vm_snapshot_progress progress, void *opaque, struct snap_writer **pending,
			   struct hyve_err *err)
{
	return vm_snapshot_save_begin_diff(m, path, note, flags, NULL, progress, opaque, pending, err);
}

/* live: a writer whose RAM file the live rounds wrote; only the pages set
 * in live_bits remain to be (re)written.  Takes live in every case. */
struct vmsave_live {
	struct snap_writer *w;
	const uint64_t *bits;
	uint64_t nr_pages;
};

static int vmsave_begin(struct machine *m, const char *path, const char *note, unsigned flags,
			const struct snap_ram_diff *diff, const struct vmsave_live *live,
			vm_snapshot_progress progress, void *opaque, struct snap_writer **pending,
			struct hyve_err *err);

int vm_snapshot_save_begin_diff(struct machine *m, const char *path, const char *note, unsigned flags,
				const struct snap_ram_diff *diff, vm_snapshot_progress progress, void *opaque,
				struct snap_writer **pending, struct hyve_err *err)
{
	return vmsave_begin(m, path, note, flags, diff, NULL, progress, opaque, pending, err);
}

int vm_snapshot_save_begin_live(struct machine *m, struct snap_writer *w, const char *path, const char *note,
				const uint64_t *dirty, uint64_t nr_pages, struct snap_writer **pending,
				struct hyve_err *err)
{
	struct vmsave_live live = { w, dirty, nr_pages };

	return vmsave_begin(m, path, note, 0, NULL, &live, NULL, NULL, pending, err);
}

static int vmsave_begin(struct machine *m, const char *path, const char *note, unsigned flags,
			const struct snap_ram_diff *diff, const struct vmsave_live *live,
			vm_snapshot_progress progress, void *opaque, struct snap_writer **pending,
			struct hyve_err *err)
{
	struct snap_machine *sm = calloc(1, sizeof(*sm));
	struct vm_time_state times = { 0 };
	struct snap_writer *w = live ? live->w : NULL;
	int ret;

	*pending = NULL;
	if (!sm) {
		snap_writer_abort(w);
		return err_set(err, ENOMEM, "snapshot: out of memory");
	}
	for (struct device *d = m->devices; d; d = d->next) {
		if (d->type->quiesce && (ret = d->type->quiesce(d, err)) != 0) {
			err_prefix(err, "device %s.%u: ", d->type->name, d->instance);
			goto out_abort;
		}
	}
	ret = vmsave_describe(m, note, sm, err);
	if (ret)
		goto out_abort;
	if (!live) {
		ret = snap_writer_open(&w, path, err);
		if (ret)
			goto out_abort;
		snap_writer_set_direct(w, flags & VM_SNAPSHOT_DIRECT);
	}
	times.vm_clock_ns = vm_clock_ns(m);
	times.wall_clock_ns = vmsave_realtime_ns();
	ret = snap_write_machine(w, sm, err);
	if (!ret)
		ret = snap_write_section(w, &vm_time_state_desc, "vm", 0, &times, 0, err);
	if (!ret)
		ret = vmsave_vcpus(m, w, err);
	if (!ret)
		ret = vmsave_devices(m, w, err);
	if (ret)
		goto out_abort;
	if (progress)
		progress(opaque, 0, m->mem.size);
	if (live)
		ret = snap_write_ram_pages(w, &m->mem, live->bits, live->nr_pages, err);
	else
		ret = diff ? snap_write_ram_diff(w, &m->mem, diff, err) : snap_write_ram(w, &m->mem, err);
	if (ret)
		goto out_abort;
	/* Every byte of guest state is now in the page cache: the guest may
	 * run on while snap_writer_commit digests the RAM file, writes the
	 * state file and makes both durable. */
	*pending = w;
	w = NULL;
	if (!ret && progress)
		progress(opaque, m->mem.size, m->mem.size);
	goto out;
out_abort:
	snap_writer_abort(w);
out:
	for (struct device *d = m->devices; d; d = d->next)
		if (d->type->resume)
			d->type->resume(d);
	if (ret)
		err_prefix(err, "snapshot %s: ", path);
	free(sm);
	return ret;
}

int vm_snapshot_save_finish(struct snap_writer *pending, const char *path, struct hyve_err *err)
{
	int ret = snap_writer_commit(pending, err);

	if (ret)
		err_prefix(err, "snapshot %s: ", path);
	return ret;
}

int vm_snapshot_save(struct machine *m, const char *path, const char *note, vm_snapshot_progress progress,
		     void *opaque, struct hyve_err *err)
{
	struct snap_writer *w;
	int ret = vm_snapshot_save_begin(m, path, note, 0, progress, opaque, &w, err);

	return ret ? ret : vm_snapshot_save_finish(w, path, err);
}
