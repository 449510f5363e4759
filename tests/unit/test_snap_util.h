/* Test state tables and a small snapshot shared by the snapshot tests and
 * the golden fixture writer.  The "testdev" table exercises every field
 * type; its v1 layout is frozen because tests/fixtures/snap-v1 was written
 * with it. */
#ifndef HYVE_TEST_SNAP_UTIL_H
#define HYVE_TEST_SNAP_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "hyve/snapshot.h"

struct tsub {
	uint16_t a;
	int32_t b;
	bool on;
};

static const struct state_field tsub_fields[] = {
    FIELD_U16(struct tsub, a, 1), FIELD_I32(struct tsub, b, 1),
    FIELD_BOOL(struct tsub, on, 1), FIELD_END};
static const struct state_desc tsub_desc =
    STATE_DESC("tsub", struct tsub, 1, tsub_fields);

struct tstate {
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	int8_t i8;
	int16_t i16;
	int32_t i32;
	int64_t i64;
	bool flag;
	uint8_t blob[16];
	char label[24];
	uint32_t regs[4];
	uint64_t big[3];
	bool bits[3];
	struct tsub one;
	struct tsub many[2];
	uint32_t nr_var;
	struct tsub var[4];
	uint32_t hint;
	/* v2 only (test_snap_compat): */
	uint32_t added_v2;
	bool added_flag;
};

#define TSTATE_V1_FIELDS                                                       \
	FIELD_U8(struct tstate, u8, 1), FIELD_U16(struct tstate, u16, 1),      \
	    FIELD_U32(struct tstate, u32, 1),                                  \
	    FIELD_U64(struct tstate, u64, 1), FIELD_I8(struct tstate, i8, 1),  \
	    FIELD_I16(struct tstate, i16, 1),                                  \
	    FIELD_I32(struct tstate, i32, 1),                                  \
	    FIELD_I64(struct tstate, i64, 1),                                  \
	    FIELD_BOOL(struct tstate, flag, 1),                                \
	    FIELD_BYTES(struct tstate, blob, 1),                               \
	    FIELD_STRING(struct tstate, label, 1),                             \
	    FIELD_ARRAY_U32(struct tstate, regs, 1),                           \
	    FIELD_ARRAY_U64(struct tstate, big, 1),                            \
	    FIELD_ARRAY_BOOL(struct tstate, bits, 1),                          \
	    FIELD_STRUCT(struct tstate, one, struct tsub, tsub_desc, 1),       \
	    FIELD_STRUCT_ARRAY(struct tstate, many, struct tsub, tsub_desc,    \
			       1),                                             \
	    FIELD_STRUCT_VARRAY(struct tstate, var, struct tsub, tsub_desc,    \
				nr_var, 1)

static const struct state_field tstate_fields_v1[] = {
    TSTATE_V1_FIELDS,
    {.name = "hint",
     .type = FT_U32,
     .offset = offsetof(struct tstate, hint),
     .size = 4,
     .count = 1,
     .since = 1,
     .flags = FF_OPTIONAL},
    FIELD_END};
static const struct state_desc tstate_desc_v1 =
    STATE_DESC("testdev", struct tstate, 1, tstate_fields_v1);

/* A vCPU-like section: just another section named "vcpu". */
struct tvcpu {
	uint64_t gpr[16];
	uint64_t rip, rflags;
	uint8_t xsave[256];
};
static const struct state_field tvcpu_fields[] = {
    FIELD_ARRAY_U64(struct tvcpu, gpr, 1), FIELD_U64(struct tvcpu, rip, 1),
    FIELD_U64(struct tvcpu, rflags, 1), FIELD_BYTES(struct tvcpu, xsave, 1),
    FIELD_END};
static const struct state_desc tvcpu_desc =
    STATE_DESC("vcpu", struct tvcpu, 1, tvcpu_fields);

static inline void tstate_fill(struct tstate *s, unsigned seed)
{
	memset(s, 0, sizeof(*s));
	s->u8 = (uint8_t)(0xa5 + seed);
	s->u16 = 0xbeef;
	s->u32 = 0xdeadbeef;
	s->u64 = 0xfedcba9876543210ULL;
	s->i8 = -128;
	s->i16 = -2;
	s->i32 = -2147483647 - 1;
	s->i64 = INT64_MIN;
	s->flag = true;
	for (unsigned i = 0; i < sizeof(s->blob); i++)
		s->blob[i] = (uint8_t)(i * 17 + seed);
	strcpy(s->label, "say \"hi\"\n\tok");
	for (unsigned i = 0; i < 4; i++)
		s->regs[i] = 0x1000u * i + seed;
	s->big[0] = UINT64_MAX;
	s->big[2] = 7;
	s->bits[1] = true;
	s->one = (struct tsub){0xffff, -5, true};
	s->many[0] = (struct tsub){1, 2, false};
	s->many[1] = (struct tsub){3, -4, true};
	s->nr_var = 3;
	for (unsigned i = 0; i < 3; i++)
		s->var[i] =
		    (struct tsub){(uint16_t)(10 + i), -(int32_t)i, i & 1};
	s->hint = 99;
}

static inline void tvcpu_fill(struct tvcpu *v, unsigned index)
{
	memset(v, 0, sizeof(*v));
	for (unsigned i = 0; i < 16; i++)
		v->gpr[i] = 0x1111111111111111ULL * i + index;
	v->rip = 0xffffffff81000000ULL + index;
	v->rflags = 0x202;
	for (unsigned i = 0; i < sizeof(v->xsave); i++)
		v->xsave[i] = (uint8_t)(i ^ index);
}

static inline void tmachine_fill(struct snap_machine *m)
{
	memset(m, 0, sizeof(*m));
	strcpy(m->hyve_version, "0.1.0");
	m->created_ns = 1700000000123456789ULL;
	strcpy(m->note, "golden fixture v1 \xe2\x9c\x93 \xf0\x9f\x90\x9d");
	m->nr_vcpus = 2;
	m->mem_size = 64 << 10;
	m->nr_ranges = 1;
	m->ranges[0] = (struct snap_mem_range){0, 64 << 10};
	m->nr_cpuid = 2;
	m->cpuid[0] = (struct snap_cpuid){
	    0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69};
	m->cpuid[1] = (struct snap_cpuid){1,	 0,	     0,		0x806f8,
					  0x800, 0xfffa3203, 0x178bfbff};
	m->nr_devices = 3;
	m->devices[0] = (struct snap_device){"testdev", 0, ""};
	m->devices[1] = (struct snap_device){"testdev", 1, "opt=1"};
	m->devices[2] = (struct snap_device){"uart", 0, "stdio"};
	strcpy(m->config.name, "fixture");
	m->config.nr_vcpus = 2;
	m->config.mem_size = 64 << 10;
	strcpy(m->config.kernel, "/boot/vmlinuz");
	strcpy(m->config.cmdline, "console=ttyS0");
	m->config.cmdline_set = true;
	m->config.com[0].backend = SERIAL_STDIO;
	m->config.nr_slots = 1;
	m->config.slots[0] =
	    (struct slot_config){4, 0, "virtio-blk", "path=/tmp/disk.img"};
	m->config.rtc_utc = true;
}

/* 64 KiB of "RAM" with two non-zero pages (1 and 5): the rest are holes. */
static inline uint8_t *tram_create(struct guest_mem *gm)
{
	uint8_t *ram = aligned_alloc(4096, 64 << 10);

	memset(gm, 0, sizeof(*gm));
	if (!ram)
		return NULL;
	memset(ram, 0, 64 << 10);
	for (unsigned i = 0; i < 4096; i++) {
		ram[4096 + i] = (uint8_t)(i * 7 + 1);
		ram[5 * 4096 + i] = (uint8_t)(0xff - i);
	}
	gm->fd = -1;
	gm->host = ram;
	gm->size = 64 << 10;
	gm->nr_ranges = 1;
	gm->ranges[0] = (struct mem_range){0, 64 << 10, 0};
	return ram;
}

#define TEST_EXTRA_RECORD SNAP_FOURCC('Z', 'Z', 'T', 'S')

/* The snapshot of format v1 that tests/fixtures/snap-v1 holds. */
static inline int tsnap_write(const char *path, struct hyve_err *err)
{
	static const char extra[] = "an optional record a v1 reader skips";
	struct snap_machine *m = malloc(sizeof(*m));
	struct snap_writer *w = NULL;
	struct guest_mem gm;
	uint8_t *ram = tram_create(&gm);
	struct tstate s;
	struct tvcpu v;
	int ret = -ENOMEM;

	if (!m || !ram)
		goto out;
	tmachine_fill(m);
	ret = snap_writer_open(&w, path, err);
	if (ret)
		goto out;
	ret = snap_write_machine(w, m, err);
	tstate_fill(&s, 0);
	if (!ret)
		ret = snap_write_section(w, &tstate_desc_v1, "testdev", 0, &s,
					 0, err);
	tstate_fill(&s, 1);
	if (!ret)
		ret = snap_write_section(w, &tstate_desc_v1, "testdev", 1, &s,
					 SNAP_REC_OPTIONAL, err);
	for (unsigned i = 0; i < 2 && !ret; i++) {
		tvcpu_fill(&v, i);
		ret = snap_write_section(w, &tvcpu_desc, "vcpu", i, &v, 0, err);
	}
	if (!ret)
		ret = snap_write_record(w, TEST_EXTRA_RECORD, SNAP_REC_OPTIONAL,
					extra, sizeof(extra) - 1, err);
	if (!ret)
		ret = snap_write_ram(w, &gm, err);
	if (!ret) {
		ret = snap_writer_commit(w, err);
		w = NULL;
	}
out:
	snap_writer_abort(w);
	free(ram);
	free(m);
	return ret;
}

/* Reads a whole file into a malloc'd buffer. */
static inline uint8_t *tread_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static inline int twrite_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return -1;
	ok = fwrite(data, 1, len, f) == len;
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

#endif
