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

/* Builds `m` from the snapshot at opts->cfg.restore_path: reads, decodes and
 * checks everything first, then creates the machine and loads the state.
 * On success the machine is ready for machine_run. */
int vm_snapshot_restore(struct machine *m, const struct hyve_options *opts,
			struct hyve_err *err);

#endif
