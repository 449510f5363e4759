/* A vCPU's state: read from KVM and written back, in the order KVM
 * requires.  The conversions between KVM's structs and the named state,
 * the checks and the state table live in vcpu_state_codec.c.
 *
 * Save order (vcpu_state_save):
 *   1. KVM_GET_MP_STATE first: KVM acts on a latched INIT or SIPI here
 *      (kvm_apic_accept_events), which can reset the registers, so what is
 *      read afterwards agrees with the MP state saved.
 *   2. KVM_GET_REGS, KVM_GET_SREGS (an injected external interrupt shows
 *      in interrupt_bitmap), XSAVE (KVM_GET_XSAVE2 when KVM_CAP_XSAVE2
 *      reports a size, else KVM_GET_XSAVE), KVM_GET_XCRS.
 *   3. KVM_GET_MSRS for every MSR of vcpu_state_msr_list().
 *   4. KVM_GET_VCPU_EVENTS (pending/injected exception, interrupt, NMI,
 *      interrupt shadow, SMM), KVM_GET_DEBUGREGS, KVM_GET_CPUID2.
 *   The LAPIC, when asked for, comes after the MP state (step 1).
 *
 * Load order (vcpu_state_load), from Documentation/virt/kvm/api.rst and
 * KVM's setters:
 *   1. KVM_SET_CPUID2 before anything: KVM checks CR4 bits, MSRs and the
 *      XSAVE components against the guest's CPUID, and refuses a changed
 *      CPUID once the vCPU has run.
 *   2. KVM_SET_SREGS: control registers, EFER and the APIC base.  The APIC
 *      base decides xAPIC or x2APIC, i.e. how KVM reads the LAPIC page.
 *   3. KVM_SET_LAPIC: after the APIC base; before the TSC-deadline MSR,
 *      which KVM drops unless the LVT timer is already in TSC-deadline
 *      mode (and a later KVM_SET_LAPIC would cancel the armed deadline).
 *   4. KVM_SET_REGS (it also clears a pending exception, so events follow).
 *   5. KVM_SET_XSAVE, then KVM_SET_XCRS (KVM validates both against the
 *      CPUID's XCR0 mask, not the current XCR0, so this order is free).
 *   6. KVM_SET_MSRS, processed in array order: the TSC first (a
 *      host-initiated write sets the guest's TSC offset), every other MSR,
 *      the TSC deadline last (an absolute guest TSC value, armed against
 *      the TSC just set and the LAPIC loaded in step 3).
 *   7. KVM_SET_VCPU_EVENTS: after sregs (whose interrupt_bitmap queues an
 *      interrupt) and regs; restores pending exceptions, NMIs, shadow.
 *   8. KVM_SET_DEBUGREGS.
 *   9. KVM_SET_MP_STATE last: KVM_SET_SREGS may itself make the BSP
 *      runnable, so the saved MP state must be the final word. */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dev/lapic.h"
#include "hyve/vcpu_state.h"

#define MSR_IA32_TSC 0x10u
#define MSR_IA32_TSC_DEADLINE 0x6e0u

/* --- XSAVE area size: KVM_CAP_XSAVE2 on /dev/kvm, cached --- */

static pthread_once_t vcpu_xsave_once = PTHREAD_ONCE_INIT;
static int vcpu_xsave_size; /* >0 XSAVE2 size, 0 = plain XSAVE, <0 = -errno */

static void vcpu_xsave_probe(void)
{
	int kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int r;

	if (kvm_fd < 0) {
		vcpu_xsave_size = -errno;
		return;
	}
	r = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	if (r > 0)
		vcpu_xsave_size = r;
	else if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0)
		vcpu_xsave_size = 0;
	else
		vcpu_xsave_size = -ENOTSUP;
	close(kvm_fd);
}

/* Bytes KVM reads and writes for XSAVE on this host. */
static int vcpu_xsave_host_size(bool *use_xsave2, struct hyve_err *err)
{
	pthread_once(&vcpu_xsave_once, vcpu_xsave_probe);
	if (vcpu_xsave_size < 0)
		return err_set(err, -vcpu_xsave_size, "vcpu: KVM has no XSAVE state (KVM_CAP_XSAVE): %s",
			       strerror(-vcpu_xsave_size));
	*use_xsave2 = vcpu_xsave_size > 0;
	if (vcpu_xsave_size > VCPU_STATE_XSAVE_MAX)
		return err_set(err, E2BIG, "vcpu: this host's XSAVE area is %d bytes, over hyve's %d",
			       vcpu_xsave_size, VCPU_STATE_XSAVE_MAX);
	return vcpu_xsave_size > 0 ? vcpu_xsave_size : VCPU_STATE_XSAVE_MIN;
}

/* --- save --- */

static int vcpu_ioctl(int fd, unsigned long req, void *arg, const char *name,
		      struct hyve_err *err)
{
	if (ioctl(fd, req, arg) < 0)
		return err_set(err, errno, "vcpu: %s: %s%s", name, strerror(errno),
			       errno == EINVAL || errno == ENOTTY ?
				       " (not supported by this host's KVM?)" : "");
	return 0;
}

static int vcpu_save_xsave(int fd, struct vcpu_state *s, struct hyve_err *err)
{
	bool xsave2;
	int size = vcpu_xsave_host_size(&xsave2, err);
	uint8_t *buf;
	int r;

	if (size < 0)
		return size;
	/* KVM writes `size` bytes; the buffer is never smaller than that. */
	buf = calloc(1, VCPU_STATE_XSAVE_MAX);
	if (!buf)
		return err_set(err, ENOMEM, "vcpu: out of memory for XSAVE");
	r = vcpu_ioctl(fd, xsave2 ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, buf,
		       xsave2 ? "KVM_GET_XSAVE2" : "KVM_GET_XSAVE", err);
	if (r == 0) {
		memcpy(s->xsave, buf, (size_t)size);
		s->xsave_size = (uint32_t)size;
	}
	free(buf);
	return r;
}

static int vcpu_save_xcrs(int fd, struct vcpu_state *s, struct hyve_err *err)
{
	struct kvm_xcrs x;
	int r;

	memset(&x, 0, sizeof(x));
	r = vcpu_ioctl(fd, KVM_GET_XCRS, &x, "KVM_GET_XCRS", err);
	if (r < 0)
		return r;
	if (x.nr_xcrs > VCPU_STATE_MAX_XCRS)
		return err_set(err, E2BIG, "vcpu: KVM reports %u XCRs", x.nr_xcrs);
	s->nr_xcrs = x.nr_xcrs;
	for (uint32_t i = 0; i < x.nr_xcrs; i++) {
		s->xcrs[i].index = x.xcrs[i].xcr;
		s->xcrs[i].value = x.xcrs[i].value;
	}
	return 0;
}

static struct kvm_msrs *vcpu_msrs_alloc(uint32_t n)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + n * sizeof(m->entries[0]));

	if (m)
		m->nmsrs = n;
	return m;
}

static int vcpu_save_msrs(int fd, struct vcpu_state *s, struct hyve_err *err)
{
	const uint32_t *indices;
	struct kvm_msrs *m;
	int n, r;

	n = vcpu_state_msr_list(fd, &indices, err);
	if (n < 0)
		return n;
	m = vcpu_msrs_alloc((uint32_t)n);
	if (!m)
		return err_set(err, ENOMEM, "vcpu: out of memory for %d MSRs", n);
	for (int i = 0; i < n; i++)
		m->entries[i].index = indices[i];
	r = ioctl(fd, KVM_GET_MSRS, m);
	if (r < 0)
		r = err_set(err, errno, "vcpu: KVM_GET_MSRS: %s", strerror(errno));
	else if (r < n)
		r = err_set(err, EIO, "vcpu: KVM_GET_MSRS could not read MSR 0x%x (%d of %d read)",
			    m->entries[r].index, r, n);
	else {
		s->nr_msrs = (uint32_t)n;
		for (int i = 0; i < n; i++) {
			s->msrs[i].index = m->entries[i].index;
			s->msrs[i].value = m->entries[i].data;
		}
		r = 0;
	}
	free(m);
	return r;
}

static int vcpu_save_cpuid(int fd, struct vcpu_state *s, struct hyve_err *err)
{
	struct kvm_cpuid2 *c;
	int r;

	c = calloc(1, sizeof(*c) + VCPU_STATE_MAX_CPUID * sizeof(c->entries[0]));
	if (!c)
		return err_set(err, ENOMEM, "vcpu: out of memory for CPUID");
	c->nent = VCPU_STATE_MAX_CPUID;
	r = vcpu_ioctl(fd, KVM_GET_CPUID2, c, "KVM_GET_CPUID2", err);
	if (r == 0) {
		s->nr_cpuid = c->nent;
		for (uint32_t i = 0; i < c->nent; i++) {
			const struct kvm_cpuid_entry2 *e = &c->entries[i];

			s->cpuid[i] = (struct vcpu_cpuid){
				.function = e->function, .index = e->index,
				.flags = e->flags, .eax = e->eax, .ebx = e->ebx,
				.ecx = e->ecx, .edx = e->edx,
			};
		}
	}
	free(c);
	return r;
}

int vcpu_state_save(int fd, struct vcpu_state *s, struct hyve_err *err)
{
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debug;
	int r;

	memset(s, 0, sizeof(*s));
	r = vcpu_ioctl(fd, KVM_GET_MP_STATE, &mp, "KVM_GET_MP_STATE", err);
	if (r < 0)
		return r;
	s->mp_state = mp.mp_state;
	r = vcpu_ioctl(fd, KVM_GET_REGS, &regs, "KVM_GET_REGS", err);
	if (r < 0)
		return r;
	vcpu_regs_decode(&regs, &s->regs);
	r = vcpu_ioctl(fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS", err);
	if (r < 0)
		return r;
	vcpu_sregs_decode(&sregs, s);
	r = vcpu_save_xsave(fd, s, err);
	if (r == 0)
		r = vcpu_save_xcrs(fd, s, err);
	if (r == 0)
		r = vcpu_save_msrs(fd, s, err);
	if (r < 0)
		return r;
	memset(&events, 0, sizeof(events));
	r = vcpu_ioctl(fd, KVM_GET_VCPU_EVENTS, &events, "KVM_GET_VCPU_EVENTS", err);
	if (r < 0)
		return r;
	vcpu_events_decode(&events, &s->events);
	memset(&debug, 0, sizeof(debug));
	r = vcpu_ioctl(fd, KVM_GET_DEBUGREGS, &debug, "KVM_GET_DEBUGREGS", err);
	if (r < 0)
		return r;
	vcpu_debugregs_decode(&debug, &s->debug);
	return vcpu_save_cpuid(fd, s, err);
}

int vcpu_state_save_with_lapic(int fd, struct vcpu_state *s,
			       struct lapic_state *lapic, struct hyve_err *err)
{
	int r = vcpu_state_save(fd, s, err);

	return r < 0 ? r : lapic_read(fd, lapic, err);
}

/* --- load --- */

static int vcpu_load_cpuid(int fd, const struct vcpu_state *s, struct hyve_err *err)
{
	struct kvm_cpuid2 *c;
	int r;

	c = calloc(1, sizeof(*c) + s->nr_cpuid * sizeof(c->entries[0]));
	if (!c)
		return err_set(err, ENOMEM, "vcpu: out of memory for CPUID");
	c->nent = s->nr_cpuid;
	for (uint32_t i = 0; i < s->nr_cpuid; i++) {
		const struct vcpu_cpuid *e = &s->cpuid[i];

		c->entries[i] = (struct kvm_cpuid_entry2){
			.function = e->function, .index = e->index,
			.flags = e->flags, .eax = e->eax, .ebx = e->ebx,
			.ecx = e->ecx, .edx = e->edx,
		};
	}
	r = vcpu_ioctl(fd, KVM_SET_CPUID2, c, "KVM_SET_CPUID2", err);
	free(c);
	return r;
}

static int vcpu_load_xsave(int fd, const struct vcpu_state *s, struct hyve_err *err)
{
	bool xsave2;
	int size = vcpu_xsave_host_size(&xsave2, err);
	uint8_t *buf;
	int r;

	if (size < 0)
		return size;
	/* KVM reads its own size; bytes past the saved area stay zero, and
	 * the header's XSTATE_BV says which components are present. */
	buf = calloc(1, VCPU_STATE_XSAVE_MAX);
	if (!buf)
		return err_set(err, ENOMEM, "vcpu: out of memory for XSAVE");
	memcpy(buf, s->xsave, s->xsave_size);
	r = vcpu_ioctl(fd, KVM_SET_XSAVE, buf, "KVM_SET_XSAVE", err);
	free(buf);
	return r;
}

static int vcpu_load_xcrs(int fd, const struct vcpu_state *s, struct hyve_err *err)
{
	struct kvm_xcrs x;

	memset(&x, 0, sizeof(x));
	x.nr_xcrs = s->nr_xcrs;
	for (uint32_t i = 0; i < s->nr_xcrs; i++) {
		x.xcrs[i].xcr = s->xcrs[i].index;
		x.xcrs[i].value = s->xcrs[i].value;
	}
	return vcpu_ioctl(fd, KVM_SET_XCRS, &x, "KVM_SET_XCRS", err);
}

static int vcpu_load_msrs(int fd, const struct vcpu_state *s, struct hyve_err *err)
{
	struct kvm_msrs *m = vcpu_msrs_alloc(s->nr_msrs);
	uint32_t n = 0;
	int r;

	if (!m)
		return err_set(err, ENOMEM, "vcpu: out of memory for %u MSRs", s->nr_msrs);
	/* TSC first, TSC deadline last: see the order at the top. */
	for (int pass = 0; pass < 3; pass++) {
		for (uint32_t i = 0; i < s->nr_msrs; i++) {
			uint32_t idx = s->msrs[i].index;
			int want = idx == MSR_IA32_TSC ? 0 : idx == MSR_IA32_TSC_DEADLINE ? 2 : 1;

			if (want != pass)
				continue;
			m->entries[n].index = idx;
			m->entries[n].data = s->msrs[i].value;
			n++;
		}
	}
	r = ioctl(fd, KVM_SET_MSRS, m);
	if (r < 0)
		r = err_set(err, errno, "vcpu: KVM_SET_MSRS: %s", strerror(errno));
	else if ((uint32_t)r < n)
		r = err_set(err, EINVAL, "vcpu: KVM refused MSR 0x%x = 0x%llx (%d of %u set)",
			    m->entries[r].index, (unsigned long long)m->entries[r].data, r, n);
	else
		r = 0;
	free(m);
	return r;
}

int vcpu_state_load(int fd, const struct vcpu_state *s,
		    const struct lapic_state *lapic, struct hyve_err *err)
{
	struct kvm_mp_state mp = { .mp_state = s->mp_state };
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debug;
	int r;

	r = vcpu_load_cpuid(fd, s, err);
	if (r < 0)
		return r;
	vcpu_sregs_encode(s, &sregs);
	r = vcpu_ioctl(fd, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS", err);
	if (r < 0)
		return r;
	if (lapic) {
		r = lapic_write(fd, lapic, err);
		if (r < 0)
			return r;
	}
	vcpu_regs_encode(&s->regs, &regs);
	r = vcpu_ioctl(fd, KVM_SET_REGS, &regs, "KVM_SET_REGS", err);
	if (r == 0)
		r = vcpu_load_xsave(fd, s, err);
	if (r == 0)
		r = vcpu_load_xcrs(fd, s, err);
	if (r == 0)
		r = vcpu_load_msrs(fd, s, err);
	if (r < 0)
		return r;
	vcpu_events_encode(&s->events, &events);
	r = vcpu_ioctl(fd, KVM_SET_VCPU_EVENTS, &events, "KVM_SET_VCPU_EVENTS", err);
	if (r < 0)
		return r;
	vcpu_debugregs_encode(&s->debug, &debug);
	r = vcpu_ioctl(fd, KVM_SET_DEBUGREGS, &debug, "KVM_SET_DEBUGREGS", err);
	if (r < 0)
		return r;
	return vcpu_ioctl(fd, KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE", err);
}
