/* Checkpoints with KVM dirty-page logging: incremental snapshots
 * (docs/snapshot-format.md §5.5, docs/control.md).
 *
 * The first checkpoint of a hyve process switches logging on for every RAM
 * slot (a VM never checkpointed pays nothing).  Every later checkpoint
 * collects the log with KVM_GET_DIRTY_LOG, which also clears it, while the
 * vCPUs are stopped: the pages it reports are exactly those written since
 * the previous checkpoint's image was taken.  An incremental checkpoint is
 * therefore only possible against the previous checkpoint of this process
 * (anything else is refused, naming the base that would work); a failed
 * checkpoint forgets the base, because its log is gone.
 *
 * KVM logs the guest's writes and its own (kvmclock, steal time); writes
 * hyve makes to guest RAM through its own mapping are not logged.  Only
 * the virtio devices do that (rings and buffers, src/dev/virtqueue.c), so a
 * machine with one is refused an incremental checkpoint rather than given
 * a diff that may miss pages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hyve/device.h"
#include "hyve/kvm.h"
#include "hyve/machine.h"
#include "hyve/snapshot.h"
#include "hyve/vmsnap.h"

#define CKPT_PATH_MAX 4096
/* Live: pre-copy rounds while the guest runs, until a round finds at most
 * CKPT_LIVE_STOP_PAGES dirty pages, the dirty set stops shrinking, or
 * CKPT_LIVE_ROUNDS rounds were made; then the pause. */
#define CKPT_LIVE_ROUNDS 6
#define CKPT_LIVE_STOP_PAGES 256

static struct {
	bool logging;        /* KVM logs dirty pages on every slot */
	bool valid;          /* last: a checkpoint the log has run since */
	char last[CKPT_PATH_MAX];
	uint64_t last_id;    /* snap_file_id of last */
	char log_err[600];   /* why logging could not be switched on */
} ckpt;

static uint64_t ckpt_words(uint64_t pages)
{
	return (pages + 63) / 64;
}

/* The pages written since the log was last collected, as RAM-file pages
 * (bit p = the page at offset p * 4096 of guest memory and of the RAM
 * file); clears the log. */
static int ckpt_collect(struct machine *m, uint64_t *bitmap, struct hyve_err *err)
{
	uint64_t *slot = NULL;
	int ret = 0;

	for (unsigned i = 0; i < m->mem.nr_ranges && !ret; i++) {
		const struct mem_range *r = &m->mem.ranges[i];
		uint64_t pages = r->size / GUEST_PAGE_SIZE, base = r->offset / GUEST_PAGE_SIZE;

		free(slot);
		slot = calloc(ckpt_words(pages), sizeof(uint64_t));
		if (!slot)
			return err_set(err, ENOMEM, "dirty log: out of memory");
		ret = kvm_dirty_log_get(m, i, slot, err);
		if (ret)
			break;
		for (uint64_t w = 0; w < ckpt_words(pages); w++) {
			uint64_t bits = slot[w];

			if (!bits)
				continue;
			if (base % 64 == 0) {
				bitmap[base / 64 + w] |= bits;
				continue;
			}
			for (unsigned b = 0; b < 64; b++)
				if (bits >> b & 1) {
					uint64_t p = base + w * 64 + b;

					bitmap[p / 64] |= 1ULL << (p % 64);
				}
		}
	}
	free(slot);
	return ret;
}

/* Dirty logging sees every write to guest RAM but hyve's own. */
static int ckpt_check_logged(struct machine *m, const char *what, struct hyve_err *err)
{
	for (struct device *d = m->devices; d; d = d->next)
		if (strncmp(d->type->name, "virtio", 6) == 0)
			return err_set(err, ENOTSUP,
				       "%s checkpoints need every write to guest RAM logged by KVM, and "
				       "device %s.%u writes guest RAM itself; take a plain checkpoint",
				       what, d->type->name, d->instance);
	return 0;
}

static uint64_t ckpt_count(const uint64_t *bitmap, uint64_t pages)
{
	uint64_t n = 0;

	for (uint64_t w = 0; w < ckpt_words(pages); w++)
		n += (uint64_t)__builtin_popcountll(bitmap[w]);
	return n;
}

static uint64_t ckpt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Live: the machine runs on entry.  Round 0 writes every data page while
 * the guest runs; each later round collects the log and rewrites what was
 * written meanwhile; the pause then covers only the last dirty pages and
 * the device state.  Returns with the machine paused on success (the
 * caller resumes it), running on failure. */
static int ckpt_live(struct machine *m, const struct vm_checkpoint_opts *o, uint64_t *bitmap,
		     struct snap_writer **pending, struct vm_checkpoint_result *res, struct hyve_err *err)
{
	uint64_t pages = m->mem.size / GUEST_PAGE_SIZE, prev = UINT64_MAX, n = 0, t0;
	struct snap_writer *w = NULL;
	int ret;

	ret = ckpt_check_logged(m, "live", err);
	if (ret)
		return ret;
	if (!ckpt.logging) {
		ret = kvm_dirty_log_enable(m, true, err);
		if (ret) {
			err_prefix(err, "live checkpoints need dirty-page logging: ");
			return ret;
		}
		ckpt.logging = true;
	} else {
		ret = ckpt_collect(m, bitmap, err); /* from now on */
		if (ret)
			return ret;
		memset(bitmap, 0, ckpt_words(pages) * sizeof(uint64_t));
	}
	ret = snap_writer_open(&w, o->path, err);
	if (!ret)
		ret = snap_write_ram_live(w, &m->mem, err);
	for (unsigned round = 1; !ret && round <= CKPT_LIVE_ROUNDS; round++) {
		ret = ckpt_collect(m, bitmap, err);
		if (ret)
			break;
		n = ckpt_count(bitmap, pages);
		if (n <= CKPT_LIVE_STOP_PAGES || n >= prev)
			break; /* left for the pause */
		ret = snap_write_ram_pages(w, &m->mem, bitmap, pages, err);
		memset(bitmap, 0, ckpt_words(pages) * sizeof(uint64_t));
		res->rounds = round;
		prev = n;
	}
	if (ret) {
		snap_writer_abort(w);
		return ret;
	}
	t0 = ckpt_now_ns();
	ret = machine_pause(m, err);
	if (ret) {
		snap_writer_abort(w);
		return ret;
	}
	/* Pages still set in bitmap (a round that stopped early) and those
	 * written since its collection. */
	ret = ckpt_collect(m, bitmap, err);
	if (ret) {
		snap_writer_abort(w);
	} else {
		res->pages = ckpt_count(bitmap, pages);
		ret = vm_snapshot_save_begin_live(m, w, o->path, o->note, bitmap, pages, pending, err);
	}
	res->paused_ns = ckpt_now_ns() - t0;
	if (ret)
		machine_resume(m);
	return ret;
}

/* Is `from` a base an incremental checkpoint can be taken against? */
static int ckpt_check_base(struct machine *m, const char *from, struct hyve_err *err)
{
	uint64_t id;
	int ret;

	ret = ckpt_check_logged(m, "incremental", err);
	if (ret)
		return ret;
	if (!ckpt.logging && ckpt.log_err[0])
		return err_set(err, ENOTSUP, "dirty-page logging is not available (%s); take a full checkpoint",
			       ckpt.log_err);
	if (!ckpt.valid)
		return err_set(err, EINVAL,
			       "--incremental-from=%s: this hyve has no previous checkpoint to take a diff against; "
			       "take a full checkpoint first",
			       from);
	if (strcmp(from, ckpt.last) != 0)
		return err_set(err, EINVAL,
			       "--incremental-from=%s: the base must be this hyve's previous checkpoint, %s", from,
			       ckpt.last);
	ret = snap_file_id(from, &id, err);
	if (ret)
		return ret;
	if (id != ckpt.last_id)
		return err_set(err, EINVAL, "--incremental-from=%s: the file was replaced since the checkpoint", from);
	return 0;
}

int vm_checkpoint_begin(struct machine *m, const struct vm_checkpoint_opts *o, vm_snapshot_progress progress,
			void *opaque, struct snap_writer **pending, struct vm_checkpoint_result *res,
			struct hyve_err *err)
{
	uint64_t pages = m->mem.size / GUEST_PAGE_SIZE, *bitmap = NULL;
	struct snap_ram_diff diff = { 0 };
	int ret;

	*pending = NULL;
	memset(res, 0, sizeof(*res));
	if (o->live && o->incremental_from)
		return err_set(err, ENOTSUP, "a checkpoint is either live or incremental, not both (yet)");
	if (o->incremental_from) {
		ret = ckpt_check_base(m, o->incremental_from, err);
		if (ret)
			return ret; /* the log is kept: the base stays valid */
	}
	bitmap = calloc(ckpt_words(pages), sizeof(uint64_t));
	if (!bitmap)
		return err_set(err, ENOMEM, "checkpoint: out of memory");
	if (o->live) {
		ckpt.valid = false; /* the log is collected from here on */
		ret = ckpt_live(m, o, bitmap, pending, res, err);
		goto out;
	}
	if (ckpt.logging) {
		ret = ckpt_collect(m, bitmap, err);
		if (ret)
			goto out;
	} else if (!ckpt.log_err[0]) {
		struct hyve_err lerr = { 0 };

		/* A full checkpoint does not need the log: if KVM cannot
		 * keep one, only incremental ones are refused. */
		if (kvm_dirty_log_enable(m, true, &lerr) == 0)
			ckpt.logging = true;
		else
			snprintf(ckpt.log_err, sizeof(ckpt.log_err), "%s", lerr.msg[0] ? lerr.msg : "refused");
	}
	ckpt.valid = false; /* until this checkpoint is committed */
	if (o->incremental_from) {
		diff = (struct snap_ram_diff){ o->incremental_from, ckpt.last_id, bitmap, pages };
		res->pages = ckpt_count(bitmap, pages);
	}
	ret = vm_snapshot_save_begin_diff(m, o->path, o->note, o->flags, o->incremental_from ? &diff : NULL,
					  progress, opaque, pending, err);
out:
	free(bitmap);
	return ret;
}

int vm_checkpoint_finish(struct snap_writer *pending, const char *path, struct hyve_err *err)
{
	int ret = vm_snapshot_save_finish(pending, path, err);

	if (ret || !ckpt.logging || strlen(path) >= sizeof(ckpt.last))
		return ret;
	/* The next incremental checkpoint may name this one, as long as it
	 * is this very file (its identity is checked then). */
	if (snap_file_id(path, &ckpt.last_id, &(struct hyve_err){ 0 }) == 0) {
		snprintf(ckpt.last, sizeof(ckpt.last), "%s", path);
		ckpt.valid = true;
	}
	return 0;
}
