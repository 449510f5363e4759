/* Saving a machine to a snapshot and building a machine from one.  The
 * format itself is in include/hyve/snapshot.h and docs/snapshot-format.md;
 * this is the walk over a machine's state. */
#ifndef HYVE_VMSNAP_H
#define HYVE_VMSNAP_H

#include <stdbool.h>
#include <stdint.h>

#include "hyve/err.h"

struct machine;
struct hyve_options;

typedef void (*vm_snapshot_progress)(void *opaque, uint64_t done, uint64_t total);

/* Writes the snapshot PATH (+ PATH.mem).  The caller has paused every vCPU
 * (machine_pause); the previous snapshot at PATH survives any failure. */
int vm_snapshot_save(struct machine *m, const char *path, const char *note,
		     vm_snapshot_progress progress, void *opaque,
		     struct hyve_err *err);

/* vm_snapshot_save in two steps, so that a checkpointed guest runs on
 * while its snapshot is made durable: _begin writes everything (to the page
 * cache, under temporary names) and returns the pending writer; the caller
 * may then resume the vCPUs and call _finish (fsync, rename into place),
 * which frees it.  On failure of _begin nothing is pending. */
struct snap_writer;
#define VM_SNAPSHOT_DIRECT 1u /* RAM file with O_DIRECT: durable when _begin returns */
int vm_snapshot_save_begin(struct machine *m, const char *path, const char *note,
			   unsigned flags, vm_snapshot_progress progress, void *opaque,
			   struct snap_writer **pending, struct hyve_err *err);
int vm_snapshot_save_finish(struct snap_writer *pending, const char *path,
			    struct hyve_err *err);
/* _begin writing an incremental snapshot: only diff's RAM pages. */
struct snap_ram_diff;
int vm_snapshot_save_begin_diff(struct machine *m, const char *path, const char *note,
				unsigned flags, const struct snap_ram_diff *diff,
				vm_snapshot_progress progress, void *opaque,
				struct snap_writer **pending, struct hyve_err *err);

/* _begin of a live checkpoint's final step (machine paused): w holds the
 * RAM file of the pre-copy rounds; the device state is written and the
 * pages set in dirty rewritten.  Takes w. */
int vm_snapshot_save_begin_live(struct machine *m, struct snap_writer *w, const char *path,
				const char *note, const uint64_t *dirty, uint64_t nr_pages,
				struct snap_writer **pending, struct hyve_err *err);

/* Checkpoints of a running machine with KVM dirty-page logging
 * (src/snap/checkpoint.c, docs/control.md).  Logging is switched on by the
 * first checkpoint; from then on each checkpoint collects (and clears) the
 * log, so the pages written since the previous checkpoint are known.  An
 * incremental checkpoint must name the previous checkpoint of this process
 * as its base (anything else is refused) and writes only those pages.  A
 * live one (machine running on entry) copies RAM in pre-copy rounds while
 * the guest runs and pauses it only for the last dirty pages and the
 * device state; a non-live one is called with the machine paused. */
struct vm_checkpoint_opts {
	const char *path, *note;
	const char *incremental_from; /* base state file, or NULL */
	bool live;
	unsigned flags;               /* VM_SNAPSHOT_DIRECT */
};
struct vm_checkpoint_result {
	uint64_t pages;     /* RAM pages carried (incremental), written in the pause (live) */
	uint64_t paused_ns; /* live: how long the vCPUs were stopped */
	unsigned rounds;    /* live: pre-copy rounds */
};
int vm_checkpoint_begin(struct machine *m, const struct vm_checkpoint_opts *o,
			vm_snapshot_progress progress, void *opaque,
			struct snap_writer **pending, struct vm_checkpoint_result *res,
			struct hyve_err *err);
/* Commits (vm_snapshot_save_finish) and on success remembers PATH as the
 * base the next incremental checkpoint may name. */
int vm_checkpoint_finish(struct snap_writer *pending, const char *path,
			 struct hyve_err *err);

/* Builds `m` from the snapshot at opts->cfg.restore_path: reads, decodes and
 * checks everything first, then creates the machine and loads the state.
 * On success the machine is ready for machine_run. */
int vm_snapshot_restore(struct machine *m, const struct hyve_options *opts,
			struct hyve_err *err);

#endif
