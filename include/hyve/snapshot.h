/* Snapshot files: a state file of checksummed records with CBOR bodies and
 * a sparse RAM file beside it.  The format is specified in
 * docs/snapshot-format.md; the constants below and that document change
 * together.
 *
 * Saving:  snap_writer_open, snap_write_machine, snap_write_section (one per
 *          device instance and vCPU), snap_write_ram, snap_writer_commit
 *          (or snap_writer_abort on any error).
 * Loading: snap_reader_open (reads and verifies the whole state file),
 *          snap_read_machine, snap_find_section / snap_section_at,
 *          snap_decode_section into zeroed staging structs, then
 *          snap_read_ram_map + snap_ram_load.  Nothing is committed by this
 *          library: the caller checks every staged state and commits. */
#ifndef HYVE_SNAPSHOT_H
#define HYVE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hyve/config.h"
#include "hyve/err.h"
#include "hyve/mem.h"
#include "hyve/state.h"

/* --- wire constants (docs/snapshot-format.md §2, §3) --- */
#define SNAP_MAGIC		"HYVESNAP"
#define SNAP_FORMAT_VERSION	1u
#define SNAP_BYTE_ORDER_MARK	0x01020304u
#define SNAP_HEADER_SIZE	32u
#define SNAP_RECORD_HEADER_SIZE 24u

/* Record types are four ASCII characters, stored in file order. */
#define SNAP_FOURCC(a, b, c, d)                                                \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 |            \
	 (uint32_t)(d) << 24)
#define SNAP_REC_MACHINE SNAP_FOURCC('M', 'A', 'C', 'H')
#define SNAP_REC_SECTION SNAP_FOURCC('S', 'E', 'C', 'T')
#define SNAP_REC_RAM_MAP SNAP_FOURCC('R', 'A', 'M', 'M')
#define SNAP_REC_END	 SNAP_FOURCC('E', 'N', 'D', ' ')

#define SNAP_REC_OPTIONAL 1u /* record flag: unknown readers may skip */

/* Field type code bits on the wire (§4.2); the low bits are enum field_type. */
#define SNAP_TC_TYPE_MASK 0x1fu
#define SNAP_TC_ARRAY	  0x20u
#define SNAP_TC_OPTIONAL  0x40u

/* --- limits (§7) --- */
#define SNAP_STATE_MAX	 (256u << 20)
#define SNAP_RECORD_MAX	 (16u << 20)
#define SNAP_RECORDS_MAX 65536u
#define SNAP_DEPTH_MAX	 16u
#define SNAP_FIELDS_MAX	 256u
#define SNAP_NAME_MAX	 63u

/* --- machine description (§5.1) --- */
#define SNAP_MAX_CPUID	 256
#define SNAP_MAX_DEVICES 128
#define SNAP_VERSION_LEN 32
#define SNAP_NOTE_LEN	 256

struct snap_mem_range {
	uint64_t gpa, size;
};

struct snap_cpuid {
	uint32_t function, index, flags, eax, ebx, ecx, edx;
};

struct snap_device {
	char name[SNAP_NAME_MAX + 1];
	uint32_t instance;
	char conf[256];
};

struct snap_machine {
	char hyve_version[SNAP_VERSION_LEN];
	uint64_t created_ns;
	char note[SNAP_NOTE_LEN];
	uint32_t nr_vcpus;
	uint64_t mem_size;
	uint32_t nr_ranges;
	struct snap_mem_range ranges[GUEST_MAX_RANGES];
	uint32_t nr_cpuid;
	struct snap_cpuid cpuid[SNAP_MAX_CPUID];
	uint32_t nr_devices;
	struct snap_device devices[SNAP_MAX_DEVICES];
	/* Only the fields listed in §5.1 are saved; control_path,
	 * restore_path and restore_wallclock come back zeroed. */
	struct vm_config config;
};

extern const struct state_desc snap_machine_desc;

/* --- RAM map (§5.3) --- */
#define SNAP_RAM_MAX_RANGES 8
#define SNAP_RAM_MAX_CHUNKS 32768
#define SNAP_RAM_CHUNK_MIN  (2u << 20)
/* Words of the carried-pages bitmap: one bit per page of the largest guest. */
#define SNAP_RAM_MAX_CARRIED (GUEST_MEM_MAX / GUEST_PAGE_SIZE / 64)
/* Links of base + diffs a restore or merge follows. */
#define SNAP_CHAIN_MAX 64

struct snap_ram_range {
	uint64_t gpa, size, offset;
};

struct snap_ram_map {
	uint32_t page_size;
	uint64_t chunk_size;
	uint64_t file_size;
	uint32_t nr_ranges;
	struct snap_ram_range ranges[SNAP_RAM_MAX_RANGES];
	uint32_t nr_digests;
	uint64_t digests[SNAP_RAM_MAX_CHUNKS];
	/* Version 2 (§5.5): an incremental snapshot names its base and
	 * carries only the RAM-file pages set in `carried` (bit p of word
	 * p / 64 = the page at offset p * page_size); base "" = a full
	 * snapshot, written as version 1. */
	char base[4096];
	uint64_t base_id;
	uint32_t nr_carried;
	uint64_t carried[SNAP_RAM_MAX_CARRIED];
};

/* Version 2 (loads v1); snap_ram_map_v1_desc is what full snapshots are
 * written with, so that a hyve knowing only v1 still reads them. */
extern const struct state_desc snap_ram_map_desc;
extern const struct state_desc snap_ram_map_v1_desc;

/* An incremental snapshot's RAM: the pages to carry (bit p = RAM-file page
 * p, nr_pages bits) and the base it applies to. */
struct snap_ram_diff {
	const char *base;  /* absolute path of the base state file */
	uint64_t base_id;  /* snap_file_id of the base */
	const uint64_t *carried;
	uint64_t nr_pages;
};

/* --- in-memory output buffer (grows; allocation failure is sticky) --- */
struct snap_buf {
	uint8_t *data;
	size_t len, cap;
	bool failed;
};

int snap_buf_reserve(struct snap_buf *b, size_t more);
void snap_buf_free(struct snap_buf *b);

/* --- record stream (stream.c) --- */
/* Appends the file header. */
int snap_stream_begin(struct snap_buf *b);
/* Appends a whole record. */
int snap_stream_record(struct snap_buf *b, uint32_t type, uint32_t flags,
		       const void *body, size_t len, struct hyve_err *err);
/* Two-step form that encodes the body in place: begin returns the record
 * start, the caller appends the body to b, finish fills the header. */
size_t snap_record_begin(struct snap_buf *b);
int snap_record_finish(struct snap_buf *b, size_t start, uint32_t type,
		       uint32_t flags, struct hyve_err *err);
/* Appends a record whose body is the envelope [name, instance, version,
 * fields of desc read from state]. */
int snap_stream_section(struct snap_buf *b, uint32_t type, uint32_t flags,
			const struct state_desc *desc, const char *name,
			unsigned instance, const void *state,
			struct hyve_err *err);
int snap_stream_end(struct snap_buf *b, struct hyve_err *err);
/* "MACH"; unprintable bytes become '?'. buf has room for 5 bytes. */
const char *snap_type_name(uint32_t type, char buf[5]);

/* --- state-table codec (fields.c) --- */
/* Appends the field map of `state` described by desc. */
int snap_fields_encode(struct snap_buf *b, const struct state_desc *desc,
		       const void *state, struct hyve_err *err);
/* Decodes a field map (CBOR at data, exactly len bytes) written by
 * section version `file_version` into `staging` (desc->size bytes; zeroed
 * here first).  Errors name the field; the caller prefixes the section. */
int snap_fields_decode(const uint8_t *data, size_t len,
		       const struct state_desc *desc, unsigned file_version,
		       void *staging, struct hyve_err *err);

/* --- reading (reader.c) --- */
struct snap_record {
	uint32_t type, flags;
	size_t offset; /* of the record header in the file */
	size_t body;   /* offset of the body */
	size_t length; /* body length */
	uint64_t checksum;
};

struct snap_section {
	char name[SNAP_NAME_MAX + 1];
	uint32_t instance;
	uint32_t version;
	uint32_t flags;	 /* record flags: SNAP_REC_OPTIONAL */
	unsigned record; /* index into the record list */
	size_t fields;	 /* file offset of the field map */
	size_t fields_len;
};

struct snap_reader;

/* Reads PATH (regular file, at most SNAP_STATE_MAX bytes) and checks the
 * header, every checksum, the record structure and every envelope.  Field
 * maps are checked when decoded, or all at once by snap_inspect(CHECK). */
int snap_reader_open(struct snap_reader **out, const char *path,
		     struct hyve_err *err);
/* The same over a buffer (copied). */
int snap_reader_open_mem(struct snap_reader **out, const void *data, size_t len,
			 struct hyve_err *err);
void snap_reader_close(struct snap_reader *r);

const uint8_t *snap_reader_data(const struct snap_reader *r);
/* PATH as opened, or "" for a buffer; the RAM file is PATH + ".mem". */
const char *snap_reader_path(const struct snap_reader *r);
unsigned snap_record_count(const struct snap_reader *r);
const struct snap_record *snap_record_at(const struct snap_reader *r,
					 unsigned i);
/* Device and vCPU sections (SECT records), in file order. */
unsigned snap_section_count(const struct snap_reader *r);
const struct snap_section *snap_section_at(const struct snap_reader *r,
					   unsigned i);
const struct snap_section *snap_find_section(const struct snap_reader *r,
					     const char *name,
					     unsigned instance);
/* Decodes a section into staging (desc->size bytes).  Fails if the
 * section's version is older than desc->min_version, and with -ENOENT if
 * s is NULL (a snap_find_section() miss). */
int snap_decode_section(const struct snap_reader *r,
			const struct snap_section *s,
			const struct state_desc *desc, void *staging,
			struct hyve_err *err);
/* The machine description (-ENOENT impossible: the reader requires it). */
int snap_read_machine(const struct snap_reader *r, struct snap_machine *m,
		      struct hyve_err *err);
/* -ENOENT if the snapshot has no RAM map; map is large (~260 KiB): heap. */
int snap_read_ram_map(const struct snap_reader *r, struct snap_ram_map *map,
		      struct hyve_err *err);

/* --- RAM file (memfile.c) --- */
/* Checks map's internal consistency (alignment, overlaps, digest count). */
int snap_ram_map_check(const struct snap_ram_map *map, struct hyve_err *err);
/* Writes the non-zero pages of gm to fd (holes elsewhere, size set with
 * ftruncate) and fills map with the layout and chunk digests. */
int snap_ram_write(int fd, const struct guest_mem *gm, struct snap_ram_map *map,
		   struct hyve_err *err);
/* Checks the RAM file's size and every chunk digest. */
int snap_ram_verify(const char *mem_path, const struct snap_ram_map *map,
		    struct hyve_err *err);
/* Checks a few chunks (the first of each range and one in its middle)
 * against their digests: cheap proof that the RAM file belongs to the
 * state file before a lazy restore maps it. */
int snap_ram_spot_check(const char *mem_path, const struct snap_ram_map *map,
			struct hyve_err *err);
/* Copies the RAM file into gm (whose ranges must equal the map's),
 * skipping holes, then checks every chunk digest against gm's memory. */
int snap_ram_load(const char *mem_path, const struct snap_ram_map *map,
		  struct guest_mem *gm, struct hyve_err *err);

/* --- incremental snapshots (ram_chain.c) --- */
/* XXH3-64 of the whole state file PATH: the identity a diff records for
 * its base. */
int snap_file_id(const char *path, uint64_t *id, struct hyve_err *err);
/* Like snap_ram_load, for a map that may name a base: loads the chain
 * (newest first: each page from the newest link that carries it, the rest
 * from the full snapshot at its root), checking every link's identity and
 * every RAM file's digests.  state_path is the state file map came from. */
int snap_ram_load_chain(const char *state_path, const struct snap_ram_map *map,
			struct guest_mem *gm, struct hyve_err *err);
/* Folds the chain ending at DIFF into one full snapshot OUT. */
int snap_merge(const char *diff, const char *out, struct hyve_err *err);

/* --- writing files (writer.c) --- */
struct snap_writer;

/* Creates PATH.tmp (and PATH.mem.tmp on snap_write_ram), mode 0600. */
int snap_writer_open(struct snap_writer **out, const char *path,
		     struct hyve_err *err);
int snap_write_machine(struct snap_writer *w, const struct snap_machine *m,
		       struct hyve_err *err);
/* flags: 0 or SNAP_REC_OPTIONAL (a restorer without this device may skip
 * it). */
int snap_write_section(struct snap_writer *w, const struct state_desc *desc,
		       const char *name, unsigned instance, const void *state,
		       uint32_t flags, struct hyve_err *err);
/* Writes the RAM file's data; its digests and the RAM map record follow
 * in snap_writer_flush. */
int snap_write_ram(struct snap_writer *w, const struct guest_mem *gm,
		   struct hyve_err *err);
/* An incremental snapshot: only diff's pages, zero or not, are written
 * (the rest are holes meaning "the base's page"). */
int snap_write_ram_diff(struct snap_writer *w, const struct guest_mem *gm,
			const struct snap_ram_diff *diff, struct hyve_err *err);
/* Live checkpoint rounds: _live writes every data page of the running
 * guest (through the page cache), _pages rewrites the pages set in bits
 * (bit p = RAM-file page p), zero or not; the digests are taken from the
 * final file at flush. */
int snap_write_ram_live(struct snap_writer *w, const struct guest_mem *gm,
			struct hyve_err *err);
int snap_write_ram_pages(struct snap_writer *w, const struct guest_mem *gm,
			 const uint64_t *bits, uint64_t nr_pages,
			 struct hyve_err *err);
/* RAM file with O_DIRECT (true) or through the page cache (false, the
 * default); the environment variable HYVE_SNAPSHOT_IO overrides. */
void snap_writer_set_direct(struct snap_writer *w, bool direct);
/* Any other record (tests, future optional records). */
int snap_write_record(struct snap_writer *w, uint32_t type, uint32_t flags,
		      const void *body, size_t len, struct hyve_err *err);
/* Appends END and writes the state file under its temporary name: every
 * byte of the snapshot is then in the page cache (the guest may run on)
 * but not yet durable nor in place.  On failure w is aborted and freed. */
int snap_writer_flush(struct snap_writer *w, struct hyve_err *err);
/* Flushes if not done yet, fsyncs, renames both files into place, fsyncs
 * the directory, frees w (also on failure, after removing the temp files). */
int snap_writer_commit(struct snap_writer *w, struct hyve_err *err);
/* Removes the temp files and frees w. */
void snap_writer_abort(struct snap_writer *w);

/* --- generic walk (walk.c): no device code --- */
enum snap_walk_mode { SNAP_WALK_CHECK, SNAP_WALK_TEXT, SNAP_WALK_JSON };
/* Validates one CBOR body against the profile and envelope of §4 and, in
 * TEXT or JSON mode, prints it to out. */
int snap_walk_body(const uint8_t *data, size_t len, enum snap_walk_mode mode,
		   FILE *out, unsigned indent, struct hyve_err *err);
/* Walks every record: CHECK validates every body (out may be NULL); TEXT
 * and JSON print the whole snapshot (§9.1 for JSON). */
int snap_inspect(const struct snap_reader *r, enum snap_walk_mode mode,
		 FILE *out, struct hyve_err *err);

#endif
