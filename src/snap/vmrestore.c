/* Building a machine from a snapshot.
 *
 * Phase 1 reads the state file (every checksum verified by the reader),
 * the machine description and every section into staging copies, runs
 * every device's check() and checks the RAM file against its map.  Nothing
 * exists yet, so a bad snapshot leaves nothing half-built.
 * Phase 2 creates the machine the snapshot describes, maps the RAM file,
 * and pours the staged state in, in the order KVM requires: vCPUs (with
 * their LAPICs), then the VM-wide devices, then post_load everywhere. */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hyve/cli.h"
#include "hyve/machine.h"
#include "hyve/snapshot.h"
#include "hyve/vcpu.h"
#include "hyve/vcpu_state.h"
#include "hyve/vmsnap.h"
#include "snap/ram_internal.h"
#include "snap/vmsnap_internal.h"

struct staged_device {
	const struct device_type *type;
	const struct snap_device *desc; /* name, instance, conf */
	void *state;                    /* NULL: the type has no state */
};

struct restore {
	struct snap_reader *reader;
	struct snap_machine *sm;
	struct snap_ram_map *map;
	struct vm_config cfg;
	struct vm_time_state times;
	struct vcpu_state *vcpus;
	struct staged_device *devices;
	unsigned nr_devices;
	char mem_path[4096 + 8];
};

static void restore_free(struct restore *rs)
{
	for (unsigned i = 0; i < rs->nr_devices; i++)
		free(rs->devices[i].state);
	free(rs->devices);
	free(rs->vcpus);
	free(rs->map);
	free(rs->sm);
	if (rs->reader)
		snap_reader_close(rs->reader);
}

/* Options given on the command line with -r are checked against what the
 * snapshot describes; backends that are not guest state may be replaced. */
static int restore_merge_options(struct restore *rs, const struct hyve_options *opts, struct hyve_err *err)
{
	const struct vm_config *given = &opts->cfg;
	struct vm_config *cfg = &rs->cfg;
	int ret = 0;

	if (opts->given_vcpus && given->nr_vcpus != cfg->nr_vcpus)
		ret = err_set(err, EINVAL, "-c %u does not match the snapshot's %u vCPUs", given->nr_vcpus,
			      cfg->nr_vcpus);
	else if (opts->given_mem && given->mem_size != cfg->mem_size)
		ret = err_set(err, EINVAL, "-m %" PRIu64 "M does not match the snapshot's %" PRIu64 "M",
			      given->mem_size >> 20, cfg->mem_size >> 20);
	else if (opts->given_kernel && strcmp(given->kernel, cfg->kernel) != 0)
		ret = err_set(err, EINVAL, "--kernel %s does not match the snapshot's kernel %s", given->kernel,
			      cfg->kernel);
	else if (opts->given_initrd && strcmp(given->initrd, cfg->initrd) != 0)
		ret = err_set(err, EINVAL, "--initrd %s does not match the snapshot's initrd %s", given->initrd,
			      cfg->initrd);
	else if (opts->given_cmdline && strcmp(given->cmdline, cfg->cmdline) != 0)
		ret = err_set(err, EINVAL, "--cmdline does not match the snapshot's command line \"%s\"",
			      cfg->cmdline);
	else if (given->nr_slots && memcmp(given->slots, cfg->slots, sizeof(cfg->slots[0]) * given->nr_slots) != 0)
		ret = err_set(err, EINVAL, "-s slots do not match the snapshot's devices");
	if (ret)
		return ret;
	for (unsigned i = 0; i < HYVE_NR_COM; i++)
		if (opts->given_com[i])
			cfg->com[i] = given->com[i];
	if (given->name[0])
		memcpy(cfg->name, given->name, sizeof(cfg->name));
	memcpy(cfg->control_path, given->control_path, sizeof(cfg->control_path));
	memcpy(cfg->restore_path, given->restore_path, sizeof(cfg->restore_path));
	cfg->restore_wallclock = given->restore_wallclock;
	if (!cfg->name[0])
		snprintf(cfg->name, sizeof(cfg->name), "restored");
	return 0;
}

static int restore_decode(struct restore *rs, const struct snap_section *s, const struct state_desc *desc,
			  void *staging, struct hyve_err *err)
{
	int ret = snap_decode_section(rs->reader, s, desc, staging, err);

	if (ret)
		err_prefix(err, "section '%s.%u': ", s->name, s->instance);
	return ret;
}

static int restore_stage_devices(struct restore *rs, struct hyve_err *err)
{
	rs->devices = calloc(rs->sm->nr_devices ? rs->sm->nr_devices : 1, sizeof(*rs->devices));
	if (!rs->devices)
		return err_set(err, ENOMEM, "restore: out of memory");
	for (unsigned i = 0; i < rs->sm->nr_devices; i++) {
		const struct snap_device *sd = &rs->sm->devices[i];
		struct staged_device *st = &rs->devices[rs->nr_devices++];
		const struct snap_section *s;
		int ret;

		st->desc = sd;
		st->type = device_type_find(sd->name);
		if (!st->type)
			return err_set(err, ENOTSUP, "the snapshot has a device '%s' that this hyve does not have",
				       sd->name);
		if (!st->type->state)
			continue;
		s = snap_find_section(rs->reader, sd->name, sd->instance);
		if (!s)
			return err_set(err, EINVAL, "the snapshot lists device %s.%u but has no section for it",
				       sd->name, sd->instance);
		st->state = calloc(1, st->type->state->size);
		if (!st->state)
			return err_set(err, ENOMEM, "restore: out of memory");
		ret = restore_decode(rs, s, st->type->state, st->state, err);
		if (!ret && st->type->check)
			ret = st->type->check(st->state, err);
		if (ret) {
			err_prefix(err, "device %s.%u: ", sd->name, sd->instance);
			return ret;
		}
	}
	return 0;
}

/* Every section must be accounted for: one the restore does not use is an
 * error unless the writer marked it optional. */
static int restore_check_unclaimed(struct restore *rs, struct hyve_err *err)
{
	for (unsigned i = 0; i < snap_section_count(rs->reader); i++) {
		const struct snap_section *s = snap_section_at(rs->reader, i);
		bool claimed = (strcmp(s->name, "vm") == 0 && s->instance == 0) ||
			       (strcmp(s->name, "vcpu") == 0 && s->instance < rs->cfg.nr_vcpus);

		for (unsigned d = 0; !claimed && d < rs->nr_devices; d++)
			claimed = strcmp(rs->devices[d].desc->name, s->name) == 0 &&
				  rs->devices[d].desc->instance == s->instance;
		if (!claimed && !(s->flags & SNAP_REC_OPTIONAL))
			return err_set(err, EINVAL, "section '%s.%u' belongs to no device of the snapshot", s->name,
				       s->instance);
	}
	return 0;
}

static int restore_stage_ram(struct restore *rs, struct hyve_err *err)
{
	struct guest_mem layout;
	struct stat st;
	int ret;

	rs->map = calloc(1, sizeof(*rs->map));
	if (!rs->map)
		return err_set(err, ENOMEM, "restore: out of memory");
	ret = snap_read_ram_map(rs->reader, rs->map, err);
	if (!ret)
		ret = snap_ram_map_check(rs->map, err);
	if (!ret)
		ret = guest_mem_layout(&layout, rs->cfg.mem_size, err);
	if (ret)
		return ret;
	if (rs->map->nr_ranges != layout.nr_ranges)
		return err_set(err, EINVAL, "RAM map has %u ranges, a %" PRIu64 " MiB machine has %u",
			       rs->map->nr_ranges, rs->cfg.mem_size >> 20, layout.nr_ranges);
	for (unsigned i = 0; i < layout.nr_ranges; i++)
		if (rs->map->ranges[i].gpa != layout.ranges[i].gpa ||
		    rs->map->ranges[i].size != layout.ranges[i].size ||
		    rs->map->ranges[i].offset % GUEST_PAGE_SIZE)
			return err_set(err, EINVAL, "RAM map range %u does not match the machine's memory", i);
	snprintf(rs->mem_path, sizeof(rs->mem_path), "%s.mem", snap_reader_path(rs->reader));
	if (stat(rs->mem_path, &st) < 0)
		return err_set(err, errno, "RAM file %s: %s", rs->mem_path, strerror(errno));
	if ((uint64_t)st.st_size != rs->map->file_size)
		return err_set(err, EINVAL, "RAM file %s is %lld bytes, the snapshot says %" PRIu64, rs->mem_path,
			       (long long)st.st_size, rs->map->file_size);
	return 0;
}

static int restore_stage(struct restore *rs, const struct hyve_options *opts, struct hyve_err *err)
{
	const struct snap_section *s;
	int ret;

	ret = snap_reader_open(&rs->reader, opts->cfg.restore_path, err);
	if (ret)
		return ret;
	rs->sm = calloc(1, sizeof(*rs->sm));
	if (!rs->sm)
		return err_set(err, ENOMEM, "restore: out of memory");
	ret = snap_read_machine(rs->reader, rs->sm, err);
	if (ret)
		return ret;
	rs->cfg = rs->sm->config;
	if (rs->cfg.nr_vcpus != rs->sm->nr_vcpus || rs->cfg.mem_size != rs->sm->mem_size ||
	    rs->cfg.nr_vcpus < 1 || rs->cfg.nr_vcpus > HYVE_MAX_VCPUS)
		return err_set(err, EINVAL, "machine description is inconsistent (vCPUs %u/%u, memory %" PRIu64
			       "/%" PRIu64 ")", rs->cfg.nr_vcpus, rs->sm->nr_vcpus, rs->cfg.mem_size, rs->sm->mem_size);
	ret = restore_merge_options(rs, opts, err);
	if (ret)
		return ret;
	s = snap_find_section(rs->reader, "vm", 0);
	if (!s)
		return err_set(err, EINVAL, "the snapshot has no 'vm' section");
	ret = restore_decode(rs, s, &vm_time_state_desc, &rs->times, err);
	if (ret)
		return ret;
	rs->vcpus = calloc(rs->cfg.nr_vcpus, sizeof(*rs->vcpus));
	if (!rs->vcpus)
		return err_set(err, ENOMEM, "restore: out of memory");
	for (unsigned i = 0; i < rs->cfg.nr_vcpus; i++) {
		s = snap_find_section(rs->reader, "vcpu", i);
		if (!s)
			return err_set(err, EINVAL, "the snapshot has no section for vCPU %u", i);
		ret = restore_decode(rs, s, &vcpu_state_desc, &rs->vcpus[i], err);
		if (!ret)
			ret = vcpu_state_check(&rs->vcpus[i], err);
		if (ret) {
			err_prefix(err, "vcpu %u: ", i);
			return ret;
		}
	}
	ret = restore_stage_devices(rs, err);
	if (!ret)
		ret = restore_check_unclaimed(rs, err);
	if (!ret)
		ret = restore_stage_ram(rs, err);
	return ret;
}

/* --restore-mode=prefault: faults the RAM file's data pages into the
 * private mapping in guest-physical order, so that the guest's own first
 * touches find them present.  Holes are skipped (they read as zero without
 * any I/O).  The thread only reads; guest writes racing with it are the
 * kernel's business (copy-on-write of a private mapping). */
struct restore_prefault {
	int fd;
	uint8_t *host;
	unsigned nr_ranges;
	struct mem_range ranges[GUEST_MAX_RANGES];
	uint64_t file_offset[GUEST_MAX_RANGES];
};

#define RESTORE_PREFAULT_STEP (4ULL << 20)

static void *restore_prefault_thread(void *arg)
{
	struct restore_prefault *pf = arg;

	/* Behind the vCPUs: on a busy host the guest's own faults come
	 * first, this thread only fills idle time. */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	for (unsigned i = 0; i < pf->nr_ranges; i++) {
		uint64_t off = pf->file_offset[i], end = off + pf->ranges[i].size, ds, de;

		while (off < end && ram_next_data(pf->fd, off, end, &ds, &de)) {
			for (uint64_t p = ds; p < de; p += RESTORE_PREFAULT_STEP) {
				uint64_t len = de - p < RESTORE_PREFAULT_STEP ? de - p : RESTORE_PREFAULT_STEP;
				uint8_t *h = pf->host + pf->ranges[i].offset + (p - pf->file_offset[i]);

				madvise(h, len, MADV_WILLNEED);
				if (madvise(h, len, MADV_POPULATE_READ) && errno != EINTR && errno != EAGAIN)
					goto out; /* unmapped (exiting) or unsupported */
			}
			off = de;
		}
	}
out:
	free(pf);
	return NULL;
}

static void restore_start_prefault(struct machine *m, struct restore *rs, int fd)
{
	struct restore_prefault *pf = calloc(1, sizeof(*pf));
	pthread_attr_t attr;
	pthread_t tid;

	if (!pf)
		return; /* only speed is lost */
	pf->fd = fd;
	pf->host = m->mem.host;
	pf->nr_ranges = m->mem.nr_ranges;
	for (unsigned i = 0; i < m->mem.nr_ranges; i++) {
		pf->ranges[i] = m->mem.ranges[i];
		pf->file_offset[i] = rs->map->ranges[i].offset;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, restore_prefault_thread, pf))
		free(pf);
	pthread_attr_destroy(&attr);
}

/* Lazy and prefault: maps the RAM file privately over guest RAM: pages are
 * read from the file when the guest first touches them, and guest writes
 * stay in hyve.  The file stays open: a later checkpoint asks it where its
 * data is (ram_set_origin) instead of reading every page. */
static int restore_map_ram(struct machine *m, struct restore *rs, enum hyve_restore_mode mode,
			   struct hyve_err *err)
{
	int fd = open(rs->mem_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_set(err, errno, "RAM file %s: %s", rs->mem_path, strerror(errno));
	for (unsigned i = 0; i < m->mem.nr_ranges; i++) {
		const struct mem_range *r = &m->mem.ranges[i];
		void *p = mmap(m->mem.host + r->offset, r->size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, (off_t)rs->map->ranges[i].offset);

		if (p == MAP_FAILED) {
			int e = errno;

			close(fd);
			return err_set(err, e, "mapping RAM file %s: %s", rs->mem_path, strerror(e));
		}
	}
	/* Guest RAM is now the file's pages (plus the guest's private
	 * copies): the memfd under it holds nothing. */
	close(m->mem.fd);
	m->mem.fd = -1;
	if (mode == HYVE_RESTORE_PREFAULT) {
		int pfd = dup(fd);

		if (pfd >= 0)
			restore_start_prefault(m, rs, pfd);
	}
	for (unsigned i = 0; i < m->mem.nr_ranges; i++)
		if (rs->map->ranges[i].offset != m->mem.ranges[i].offset) {
			close(fd); /* a layout ram_write.c cannot use */
			return 0;
		}
	ram_set_origin(&m->mem, fd);
	return 0;
}

/* Eager: the RAM file is copied into the machine's own memory (the memfd
 * stays) and every chunk digest is checked before the guest runs. */
static int restore_load_ram(struct machine *m, struct restore *rs, enum hyve_restore_mode mode,
			    struct hyve_err *err)
{
	int ret;

	/* An incremental snapshot (§5.5) is loaded eagerly whatever the
	 * mode: its pages come from several files. */
	if (rs->map->base[0])
		return snap_ram_load_chain(snap_reader_path(rs->reader), rs->map, &m->mem, err);
	if (mode == HYVE_RESTORE_EAGER)
		return snap_ram_load(rs->mem_path, rs->map, &m->mem, err);
	ret = snap_ram_spot_check(rs->mem_path, rs->map, err);
	return ret ? ret : restore_map_ram(m, rs, mode, err);
}

static void *restore_staged_state(struct restore *rs, const char *name, unsigned instance)
{
	for (unsigned i = 0; i < rs->nr_devices; i++)
		if (rs->devices[i].desc->instance == instance && strcmp(rs->devices[i].desc->name, name) == 0)
			return rs->devices[i].state;
	return NULL;
}

static int restore_commit(struct machine *m, struct restore *rs, enum hyve_restore_mode mode,
			  struct hyve_err *err)
{
	struct timespec now;
	int ret;

	for (unsigned i = 0; i < rs->nr_devices; i++) {
		const struct snap_device *sd = rs->devices[i].desc;

		if (machine_find_device(m, sd->name, sd->instance))
			continue;
		ret = machine_add_device(m, sd->name, sd->instance, sd->conf[0] ? sd->conf : NULL, NULL, err);
		if (ret)
			return ret;
	}
	/* A device this hyve has but the snapshot's did not (added in a later
	 * release) starts from its power-on state. */
	for (struct device *d = m->devices; d; d = d->next)
		if (d->type->reset)
			d->type->reset(d);
	ret = restore_load_ram(m, rs, mode, err);
	if (ret)
		return ret;
	clock_gettime(CLOCK_MONOTONIC, &now);
	m->vm_clock_offset_ns = (int64_t)rs->times.vm_clock_ns - ((int64_t)now.tv_sec * 1000000000LL + now.tv_nsec);
	clock_gettime(CLOCK_REALTIME, &now);
	m->restored = true;
	m->restore_wall_elapsed_ns =
		((int64_t)now.tv_sec * 1000000000LL + now.tv_nsec) - (int64_t)rs->times.wall_clock_ns;

	for (unsigned i = 0; i < m->nr_vcpus; i++) {
		ret = vcpu_state_load(m->vcpus[i].fd, &rs->vcpus[i], restore_staged_state(rs, "lapic", i), err);
		if (ret) {
			err_prefix(err, "vcpu %u: ", i);
			return ret;
		}
	}
	for (struct device *d = m->devices; d; d = d->next) {
		void *state = restore_staged_state(rs, d->type->name, d->instance);

		if (!state || d->type->loaded_with_vcpu || !d->type->load)
			continue;
		ret = d->type->load(d, state, err);
		if (ret) {
			err_prefix(err, "device %s.%u: ", d->type->name, d->instance);
			return ret;
		}
	}
	for (struct device *d = m->devices; d; d = d->next) {
		if (d->type->post_load && (ret = d->type->post_load(d, err)) != 0) {
			err_prefix(err, "device %s.%u: ", d->type->name, d->instance);
			return ret;
		}
	}
	return 0;
}

int vm_snapshot_restore(struct machine *m, const struct hyve_options *opts, struct hyve_err *err)
{
	struct restore rs;
	int ret;

	memset(&rs, 0, sizeof(rs));
	ret = restore_stage(&rs, opts, err);
	if (!ret) {
		ret = machine_create(m, &rs.cfg, err);
		if (!ret)
			ret = restore_commit(m, &rs, opts->restore_mode, err);
	}
	if (ret)
		err_prefix(err, "restore %s: ", opts->cfg.restore_path);
	restore_free(&rs);
	return ret;
}
