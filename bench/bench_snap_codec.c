/* Encodes and decodes the whole non-RAM state of a 64-vCPU machine: 64
 * vCPU sections of realistic size (~30 registers, segments, 40 MSRs, 4 KiB
 * XSAVE, a 1 KiB LAPIC page) plus a dozen device sections and the machine
 * description.  Decoding includes opening the state (checksums and the
 * generic CBOR check of every body).  Target: under 1 ms for both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hyve/snapshot.h"

struct bseg {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint8_t type, dpl;
	bool present, db, s, l, g;
};
static const struct state_field bseg_fields[] = {
    FIELD_U64(struct bseg, base, 1),
    FIELD_U32(struct bseg, limit, 1),
    FIELD_U16(struct bseg, selector, 1),
    FIELD_U8(struct bseg, type, 1),
    FIELD_U8(struct bseg, dpl, 1),
    FIELD_BOOL(struct bseg, present, 1),
    FIELD_BOOL(struct bseg, db, 1),
    FIELD_BOOL(struct bseg, s, 1),
    FIELD_BOOL(struct bseg, l, 1),
    FIELD_BOOL(struct bseg, g, 1),
    FIELD_END};
static const struct state_desc bseg_desc =
    STATE_DESC("segment", struct bseg, 1, bseg_fields);

struct bmsr {
	uint32_t index;
	uint64_t data;
};
static const struct state_field bmsr_fields[] = {
    FIELD_U32(struct bmsr, index, 1), FIELD_U64(struct bmsr, data, 1),
    FIELD_END};
static const struct state_desc bmsr_desc =
    STATE_DESC("msr", struct bmsr, 1, bmsr_fields);

struct bvcpu {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags, cr0, cr2, cr3, cr4, cr8, efer, apic_base, xcr0;
	uint64_t gdt_base, idt_base;
	uint16_t gdt_limit, idt_limit;
	struct bseg cs, ds, es, fs, gs, ss, tr, ldt;
	uint32_t nr_msrs;
	struct bmsr msrs[64];
	uint8_t xsave[4096];
	uint8_t lapic[1024];
	bool nmi_pending, nmi_masked;
	uint8_t exception_nr;
	uint32_t mp_state;
};
#define R(m) FIELD_U64(struct bvcpu, m, 1)
#define S(m) FIELD_STRUCT(struct bvcpu, m, struct bseg, bseg_desc, 1)
static const struct state_field bvcpu_fields[] = {
    R(rax),
    R(rbx),
    R(rcx),
    R(rdx),
    R(rsi),
    R(rdi),
    R(rsp),
    R(rbp),
    R(r8),
    R(r9),
    R(r10),
    R(r11),
    R(r12),
    R(r13),
    R(r14),
    R(r15),
    R(rip),
    R(rflags),
    R(cr0),
    R(cr2),
    R(cr3),
    R(cr4),
    R(cr8),
    R(efer),
    R(apic_base),
    R(xcr0),
    R(gdt_base),
    R(idt_base),
    FIELD_U16(struct bvcpu, gdt_limit, 1),
    FIELD_U16(struct bvcpu, idt_limit, 1),
    S(cs),
    S(ds),
    S(es),
    S(fs),
    S(gs),
    S(ss),
    S(tr),
    S(ldt),
    FIELD_STRUCT_VARRAY(struct bvcpu, msrs, struct bmsr, bmsr_desc, nr_msrs, 1),
    FIELD_BYTES(struct bvcpu, xsave, 1),
    FIELD_BYTES(struct bvcpu, lapic, 1),
    FIELD_BOOL(struct bvcpu, nmi_pending, 1),
    FIELD_BOOL(struct bvcpu, nmi_masked, 1),
    FIELD_U8(struct bvcpu, exception_nr, 1),
    FIELD_U32(struct bvcpu, mp_state, 1),
    FIELD_END};
static const struct state_desc bvcpu_desc =
    STATE_DESC("vcpu", struct bvcpu, 1, bvcpu_fields);

/* A typical emulated device: registers, a FIFO, a timer deadline. */
struct bdev {
	uint32_t regs[24];
	uint8_t fifo[128];
	int64_t deadline_ns;
	uint16_t status, control;
	bool irq_level;
	char backend[64];
};
static const struct state_field bdev_fields[] = {
    FIELD_ARRAY_U32(struct bdev, regs, 1),
    FIELD_BYTES(struct bdev, fifo, 1),
    FIELD_I64(struct bdev, deadline_ns, 1),
    FIELD_U16(struct bdev, status, 1),
    FIELD_U16(struct bdev, control, 1),
    FIELD_BOOL(struct bdev, irq_level, 1),
    FIELD_STRING(struct bdev, backend, 1),
    FIELD_END};
static const struct state_desc bdev_desc =
    STATE_DESC("dev", struct bdev, 1, bdev_fields);

#define NR_VCPUS 64
#define NR_DEVS	 12
static const char *const dev_names[NR_DEVS] = {
    "pic",  "ioapic", "pit",   "rtc", "hpet",	    "pmtimer",
    "uart", "uart2",  "i8042", "pci", "virtio-blk", "virtio-net",
};

static double bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int bench_encode(struct snap_buf *b, const struct snap_machine *m,
			const struct bvcpu *v, const struct bdev *d)
{
	struct hyve_err err = {0};
	int ret;

	b->len = 0;
	snap_stream_begin(b);
	ret = snap_stream_section(b, SNAP_REC_MACHINE, 0, &snap_machine_desc,
				  "machine", 0, m, &err);
	for (unsigned i = 0; i < NR_VCPUS && !ret; i++)
		ret = snap_stream_section(b, SNAP_REC_SECTION, 0, &bvcpu_desc,
					  "vcpu", i, &v[i], &err);
	for (unsigned i = 0; i < NR_DEVS && !ret; i++)
		ret = snap_stream_section(b, SNAP_REC_SECTION, 0, &bdev_desc,
					  dev_names[i], 0, &d[i], &err);
	if (!ret)
		ret = snap_stream_end(b, &err);
	if (ret)
		fprintf(stderr, "bench_snap_codec: encode: %s\n", err.msg);
	return ret;
}

static int bench_decode(const struct snap_buf *b, struct snap_machine *m,
			struct bvcpu *v, struct bdev *d)
{
	struct hyve_err err = {0};
	struct snap_reader *r;
	int ret;

	ret = snap_reader_open_mem(&r, b->data, b->len, &err);
	if (ret)
		goto out;
	ret = snap_read_machine(r, m, &err);
	for (unsigned i = 0; i < NR_VCPUS && !ret; i++)
		ret = snap_decode_section(r, snap_find_section(r, "vcpu", i),
					  &bvcpu_desc, &v[i], &err);
	for (unsigned i = 0; i < NR_DEVS && !ret; i++)
		ret = snap_decode_section(r,
					  snap_find_section(r, dev_names[i], 0),
					  &bdev_desc, &d[i], &err);
	snap_reader_close(r);
out:
	if (ret)
		fprintf(stderr, "bench_snap_codec: decode: %s\n", err.msg);
	return ret;
}

static int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	unsigned iters = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
	struct snap_machine *m = calloc(2, sizeof(*m));
	struct bvcpu *v = calloc(2 * NR_VCPUS, sizeof(*v));
	struct bdev *d = calloc(2 * NR_DEVS, sizeof(*d));
	struct snap_buf b = {0};
	double enc = 1e30, dec = 1e30, t0, t1, t2, *totals;

	totals = calloc(iters ? iters : 1, sizeof(*totals));
	if (!m || !v || !d || !totals || iters == 0)
		return 1;
	m->nr_vcpus = NR_VCPUS;
	m->nr_cpuid = 60;
	m->nr_devices = NR_DEVS;
	for (unsigned i = 0; i < NR_VCPUS; i++) {
		uint64_t *regs = &v[i].rax;

		for (unsigned k = 0; k < 28; k++)
			regs[k] = 0x123456789abcULL * (k + 1) + i;
		v[i].cs = (struct bseg){0,    0xffffffff, 0x10, 11,   0,
					true, false,	  true, true, true};
		v[i].nr_msrs = 40;
		for (unsigned k = 0; k < 40; k++)
			v[i].msrs[k] =
			    (struct bmsr){0xc0000080 + k, 0x1000ULL * k + i};
		for (unsigned k = 0; k < sizeof(v[i].xsave); k++)
			v[i].xsave[k] = (uint8_t)(k * 13 + i);
		for (unsigned k = 0; k < sizeof(v[i].lapic); k++)
			v[i].lapic[k] = (uint8_t)(k ^ i);
	}
	for (unsigned i = 0; i < NR_DEVS; i++) {
		d[i].regs[3] = i;
		d[i].deadline_ns = -1000 * (int64_t)i;
		strcpy(d[i].backend, "stdio");
	}
	if (snap_buf_reserve(&b, 1 << 20))
		return 1;
	for (unsigned it = 0; it < iters; it++) {
		t0 = bench_now_us();
		if (bench_encode(&b, m, v, d))
			return 1;
		t1 = bench_now_us();
		if (bench_decode(&b, m + 1, v + NR_VCPUS, d + NR_DEVS))
			return 1;
		t2 = bench_now_us();
		if (t1 - t0 < enc)
			enc = t1 - t0;
		if (t2 - t1 < dec)
			dec = t2 - t1;
		totals[it] = t2 - t0;
	}
	qsort(totals, iters, sizeof(*totals), bench_cmp);
	if (memcmp(v, v + NR_VCPUS, NR_VCPUS * sizeof(*v)) != 0) {
		fprintf(stderr, "bench_snap_codec: decoded state differs\n");
		return 1;
	}
	printf("bench_snap_codec: %u vCPUs + %u devices, %zu bytes of state: "
	       "encode %.0f us + decode %.0f us "
	       "= %.0f us best, %.0f us median of %u (target < 1000 us: %s)\n",
	       NR_VCPUS, NR_DEVS, b.len, enc, dec, enc + dec, totals[iters / 2],
	       iters, enc + dec < 1000 ? "met" : "MISSED");
	free(totals);
	snap_buf_free(&b);
	free(m);
	free(v);
	free(d);
	return 0;
}
