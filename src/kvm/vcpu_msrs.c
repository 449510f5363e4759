/* Which MSRs a vCPU snapshot holds.
 *
 * KVM_GET_MSR_INDEX_LIST names the MSRs KVM saves for migration (its
 * msrs_to_save and emulated_msrs), but not every one it can read and
 * write: the MTRRs and the APIC base MSR, among others, are absent.  The
 * list here is the union of the two, kept to the MSRs this vCPU's
 * KVM_GET_MSRS actually reads (some listed MSRs depend on host features or
 * on the guest's CPUID).  Each is read alone once, since KVM_GET_MSRS
 * stops at the first MSR it cannot read; the result is cached for the
 * process, which runs one machine whose vCPUs share one CPUID. */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hyve/vcpu_state.h"

/* Intel SDM vol. 4 / AMD APM vol. 2 MSR numbers; KVM's paravirtual MSRs
 * from Documentation/virt/kvm/x86/msr.rst. */
static const uint32_t vcpu_msrs_extra[] = {
	0x00000010, /* IA32_TIME_STAMP_COUNTER */
	0x0000001b, /* IA32_APIC_BASE */
	0x0000003b, /* IA32_TSC_ADJUST */
	0x000006e0, /* IA32_TSC_DEADLINE */
	0x00000174, 0x00000175, 0x00000176, /* IA32_SYSENTER_CS/ESP/EIP */
	0x0000017a, 0x0000017b, /* IA32_MCG_STATUS, IA32_MCG_CTL */
	0x000001a0, /* IA32_MISC_ENABLE */
	0x00000277, /* IA32_PAT */
	0x000002ff, /* IA32_MTRR_DEF_TYPE */
	0x00000250, 0x00000258, 0x00000259, /* fixed-range MTRRs */
	0x00000268, 0x00000269, 0x0000026a, 0x0000026b,
	0x0000026c, 0x0000026d, 0x0000026e, 0x0000026f,
	0x00000200, 0x00000201, 0x00000202, 0x00000203, /* variable MTRRs */
	0x00000204, 0x00000205, 0x00000206, 0x00000207,
	0x00000208, 0x00000209, 0x0000020a, 0x0000020b,
	0x0000020c, 0x0000020d, 0x0000020e, 0x0000020f,
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, /* STAR LSTAR CSTAR FMASK */
	0xc0000102, /* KERNEL_GS_BASE */
	0xc0000103, /* TSC_AUX */
	0x00000011, 0x00000012, /* MSR_KVM_WALL_CLOCK, MSR_KVM_SYSTEM_TIME */
	0x4b564d00, 0x4b564d01, /* MSR_KVM_WALL_CLOCK_NEW, _SYSTEM_TIME_NEW */
	0x4b564d02, 0x4b564d03, /* ASYNC_PF_EN, STEAL_TIME */
	0x4b564d04, 0x4b564d05, /* PV_EOI_EN, POLL_CONTROL */
	0x4b564d06, /* ASYNC_PF_INT */
};

static pthread_mutex_t vcpu_msrs_lock = PTHREAD_MUTEX_INITIALIZER;
static bool vcpu_msrs_probed;
static uint32_t vcpu_msrs_count;
static uint32_t vcpu_msrs_index[VCPU_STATE_MAX_MSRS];

static int vcpu_msrs_readable(int vcpu_fd, uint32_t index)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entry;
	} one;

	memset(&one, 0, sizeof(one));
	one.hdr.nmsrs = 1;
	one.entry.index = index;
	return ioctl(vcpu_fd, KVM_GET_MSRS, &one) == 1;
}

static bool vcpu_msrs_has(const uint32_t *list, uint32_t n, uint32_t index)
{
	for (uint32_t i = 0; i < n; i++)
		if (list[i] == index)
			return true;
	return false;
}

static int vcpu_msrs_add(int vcpu_fd, uint32_t index, struct hyve_err *err)
{
	if (vcpu_msrs_has(vcpu_msrs_index, vcpu_msrs_count, index) ||
	    !vcpu_msrs_readable(vcpu_fd, index))
		return 0;
	if (vcpu_msrs_count == VCPU_STATE_MAX_MSRS)
		return err_set(err, E2BIG, "vcpu: KVM can read more than %d MSRs; raise VCPU_STATE_MAX_MSRS",
			       VCPU_STATE_MAX_MSRS);
	vcpu_msrs_index[vcpu_msrs_count++] = index;
	return 0;
}

static int vcpu_msrs_probe(int vcpu_fd, struct hyve_err *err)
{
	struct kvm_msr_list hdr = { .nmsrs = 0 };
	struct kvm_msr_list *list = NULL;
	int kvm_fd, r = 0;

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0)
		return err_set(err, errno, "vcpu: opening /dev/kvm for the MSR list: %s",
			       strerror(errno));
	/* The first call fails with E2BIG and says how many there are. */
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &hdr) < 0 && errno != E2BIG) {
		r = err_set(err, errno, "vcpu: KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
		goto out_close;
	}
	list = calloc(1, sizeof(*list) + hdr.nmsrs * sizeof(list->indices[0]));
	if (!list) {
		r = err_set(err, ENOMEM, "vcpu: out of memory for %u MSR indices", hdr.nmsrs);
		goto out_close;
	}
	list->nmsrs = hdr.nmsrs;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		r = err_set(err, errno, "vcpu: KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
		goto out_free;
	}
	vcpu_msrs_count = 0;
	for (uint32_t i = 0; i < list->nmsrs && r == 0; i++)
		r = vcpu_msrs_add(vcpu_fd, list->indices[i], err);
	for (size_t i = 0; i < sizeof(vcpu_msrs_extra) / sizeof(vcpu_msrs_extra[0]) && r == 0; i++)
		r = vcpu_msrs_add(vcpu_fd, vcpu_msrs_extra[i], err);
	if (r == 0)
		vcpu_msrs_probed = true;
out_free:
	free(list);
out_close:
	close(kvm_fd);
	return r;
}

int vcpu_state_msr_list(int vcpu_fd, const uint32_t **indices, struct hyve_err *err)
{
	int r = 0;

	pthread_mutex_lock(&vcpu_msrs_lock);
	if (!vcpu_msrs_probed)
		r = vcpu_msrs_probe(vcpu_fd, err);
	pthread_mutex_unlock(&vcpu_msrs_lock);
	if (r < 0)
		return r;
	*indices = vcpu_msrs_index;
	return (int)vcpu_msrs_count;
}
