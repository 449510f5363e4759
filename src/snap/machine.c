/* State tables of the machine description (docs/snapshot-format.md §5.1)
 * and of the RAM map (§5.3): both records use the same field encoding as a
 * device section, so they are versioned and inspected the same way. */
#include "hyve/snapshot.h"

static const struct state_field machine_range_fields[] = {
    FIELD_U64(struct snap_mem_range, gpa, 1),
    FIELD_U64(struct snap_mem_range, size, 1), FIELD_END};
static const struct state_desc machine_range_desc =
    STATE_DESC("mem_range", struct snap_mem_range, 1, machine_range_fields);

static const struct state_field machine_cpuid_fields[] = {
    FIELD_U32(struct snap_cpuid, function, 1),
    FIELD_U32(struct snap_cpuid, index, 1),
    FIELD_U32(struct snap_cpuid, flags, 1),
    FIELD_U32(struct snap_cpuid, eax, 1),
    FIELD_U32(struct snap_cpuid, ebx, 1),
    FIELD_U32(struct snap_cpuid, ecx, 1),
    FIELD_U32(struct snap_cpuid, edx, 1),
    FIELD_END};
static const struct state_desc machine_cpuid_desc =
    STATE_DESC("cpuid", struct snap_cpuid, 1, machine_cpuid_fields);

static const struct state_field machine_device_fields[] = {
    FIELD_STRING(struct snap_device, name, 1),
    FIELD_U32(struct snap_device, instance, 1),
    FIELD_STRING(struct snap_device, conf, 1), FIELD_END};
static const struct state_desc machine_device_desc =
    STATE_DESC("device", struct snap_device, 1, machine_device_fields);

static const struct state_field machine_module_fields[] = {
    FIELD_STRING(struct module_config, path, 1),
    FIELD_STRING(struct module_config, args, 1), FIELD_END};
static const struct state_desc machine_module_desc =
    STATE_DESC("module", struct module_config, 1, machine_module_fields);

/* enum serial_backend is an unsigned int: described by hand because the
 * _Generic check of FIELD_U32 rightly refuses an enum. */
_Static_assert(sizeof(enum serial_backend) == sizeof(uint32_t),
	       "serial backend is saved as a u32");
static const struct state_field machine_serial_fields[] = {
    {.name = "backend",
     .type = FT_U32,
     .offset = offsetof(struct serial_config, backend),
     .size = sizeof(uint32_t),
     .count = 1,
     .since = 1},
    FIELD_STRING(struct serial_config, path, 1),
    FIELD_END};
static const struct state_desc machine_serial_desc =
    STATE_DESC("serial", struct serial_config, 1, machine_serial_fields);

static const struct state_field machine_slot_fields[] = {
    FIELD_U32(struct slot_config, slot, 1),
    FIELD_U32(struct slot_config, func, 1),
    FIELD_STRING(struct slot_config, emulation, 1),
    FIELD_STRING(struct slot_config, conf, 1), FIELD_END};
static const struct state_desc machine_slot_desc =
    STATE_DESC("slot", struct slot_config, 1, machine_slot_fields);

/* What restore needs to rebuild the VM; host-local paths (control socket,
 * restore path) are not part of the machine. */
static const struct state_field machine_config_fields[] = {
    FIELD_STRING(struct vm_config, name, 1),
    FIELD_U32(struct vm_config, nr_vcpus, 1),
    FIELD_U64(struct vm_config, mem_size, 1),
    FIELD_STRING(struct vm_config, kernel, 1),
    FIELD_STRING(struct vm_config, initrd, 1),
    FIELD_STRING(struct vm_config, cmdline, 1),
    FIELD_BOOL(struct vm_config, cmdline_set, 1),
    FIELD_STRUCT_VARRAY(struct vm_config, modules, struct module_config,
			machine_module_desc, nr_modules, 1),
    FIELD_STRUCT_ARRAY(struct vm_config, com, struct serial_config,
		       machine_serial_desc, 1),
    FIELD_STRUCT_VARRAY(struct vm_config, slots, struct slot_config,
			machine_slot_desc, nr_slots, 1),
    FIELD_BOOL(struct vm_config, debug_exit, 1),
    FIELD_BOOL(struct vm_config, rtc_utc, 1),
    FIELD_END};
static const struct state_desc machine_config_desc =
    STATE_DESC("vm_config", struct vm_config, 1, machine_config_fields);

static const struct state_field machine_fields[] = {
    FIELD_STRING(struct snap_machine, hyve_version, 1),
    FIELD_U64(struct snap_machine, created_ns, 1),
    FIELD_STRING(struct snap_machine, note, 1),
    FIELD_U32(struct snap_machine, nr_vcpus, 1),
    FIELD_U64(struct snap_machine, mem_size, 1),
    FIELD_STRUCT_VARRAY(struct snap_machine, ranges, struct snap_mem_range,
			machine_range_desc, nr_ranges, 1),
    FIELD_STRUCT_VARRAY(struct snap_machine, cpuid, struct snap_cpuid,
			machine_cpuid_desc, nr_cpuid, 1),
    FIELD_STRUCT_VARRAY(struct snap_machine, devices, struct snap_device,
			machine_device_desc, nr_devices, 1),
    FIELD_STRUCT(struct snap_machine, config, struct vm_config,
		 machine_config_desc, 1),
    FIELD_END};
const struct state_desc snap_machine_desc =
    STATE_DESC("machine", struct snap_machine, 1, machine_fields);

static const struct state_field ram_range_fields[] = {
    FIELD_U64(struct snap_ram_range, gpa, 1),
    FIELD_U64(struct snap_ram_range, size, 1),
    FIELD_U64(struct snap_ram_range, offset, 1), FIELD_END};
static const struct state_desc ram_range_desc =
    STATE_DESC("ram_range", struct snap_ram_range, 1, ram_range_fields);

/* A variable array of u64 has no macro in state.h. */
#define RAM_MAP_U64_VARRAY(m, cap, cnt, s)                                   \
	{.name = #m,                                                         \
	 .type = FT_U64,                                                     \
	 .offset = offsetof(struct snap_ram_map, m),                         \
	 .size = sizeof(uint64_t),                                           \
	 .count = (cap),                                                     \
	 .since = (s),                                                       \
	 .flags = FF_VARCOUNT,                                               \
	 .count_offset = offsetof(struct snap_ram_map, cnt)}
#define RAM_MAP_V1_FIELDS                                                    \
	FIELD_U32(struct snap_ram_map, page_size, 1),                        \
	FIELD_U64(struct snap_ram_map, chunk_size, 1),                       \
	FIELD_U64(struct snap_ram_map, file_size, 1),                        \
	FIELD_STRUCT_VARRAY(struct snap_ram_map, ranges,                     \
			    struct snap_ram_range, ram_range_desc,           \
			    nr_ranges, 1),                                   \
	RAM_MAP_U64_VARRAY(digests, SNAP_RAM_MAX_CHUNKS, nr_digests, 1)

/* Full snapshots keep writing version 1: nothing in them needs v2. */
static const struct state_field ram_map_v1_fields[] = {RAM_MAP_V1_FIELDS,
						       FIELD_END};
const struct state_desc snap_ram_map_v1_desc =
    STATE_DESC("ram-map", struct snap_ram_map, 1, ram_map_v1_fields);

/* Version 2: incremental snapshots (docs/snapshot-format.md §5.5).  A v1
 * map loads with base "" (a full snapshot) and no carried pages. */
static const struct state_field ram_map_fields[] = {
    RAM_MAP_V1_FIELDS,
    FIELD_STRING(struct snap_ram_map, base, 2),
    FIELD_U64(struct snap_ram_map, base_id, 2),
    RAM_MAP_U64_VARRAY(carried, SNAP_RAM_MAX_CARRIED, nr_carried, 2),
    FIELD_END};
const struct state_desc snap_ram_map_desc =
    STATE_DESC("ram-map", struct snap_ram_map, 2, ram_map_fields);
