/* VM-level KVM setup, in the order the KVM API document gives: irqchip
 * before vCPUs, TSS/identity-map addresses before the first KVM_RUN. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "hyve/kvm.h"
#include "hyve/machine.h"

/* Below the 4 GiB boundary, outside RAM (RAM stops at 3 GiB) and clear of
 * the LAPIC/IOAPIC/HPET pages: three pages Intel's VMX needs for real-mode
 * emulation (harmless elsewhere). */
#define KVM_IDENTITY_MAP_ADDR 0xFEFFC000ULL
#define KVM_TSS_ADDR 0xFEFFD000ULL

int kvm_max_vcpus(int kvm_fd)
{
	int n = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (n <= 0)
		n = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	return n <= 0 ? 4 : n;
}

int kvm_open(struct machine *m, struct hyve_err *err)
{
	static const struct {
		int cap;
		const char *name;
	} needed[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	};
	int ver;

	m->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (m->kvm_fd < 0)
		return err_set(err, errno, "/dev/kvm: %s%s", strerror(errno),
			       errno == ENOENT ? " (is the kvm module loaded?)"
			       : errno == EACCES ? " (add yourself to the kvm group)" : "");
	ver = ioctl(m->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION)
		return err_set(err, ENOTSUP, "/dev/kvm: API version %d, hyve needs %d", ver, KVM_API_VERSION);
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
		if (ioctl(m->kvm_fd, KVM_CHECK_EXTENSION, needed[i].cap) <= 0)
			return err_set(err, ENOTSUP, "/dev/kvm lacks %s", needed[i].name);
	m->vcpu_mmap_size = ioctl(m->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (m->vcpu_mmap_size <= 0)
		return err_set(err, errno, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	return 0;
}

/* PC routing, as the MADT describes it: ISA IRQ n goes to PIC pin n and to
 * IOAPIC pin n, except that the timer's IRQ 0 arrives at IOAPIC pin 2 (the
 * MADT's interrupt source override) and nothing drives GSI 2 itself (the
 * PIC cascade).  GSIs 16-23 reach only the IOAPIC.  MSI routes (PCI MSI-X
 * vectors, GSIs from KVM_MSI_GSI_BASE) follow: KVM_SET_GSI_ROUTING replaces
 * the whole table, so every update sends the PC entries again. */
int kvm_set_msi_routes(struct machine *m, const struct kvm_msi_route *msi, unsigned nr_msi,
		       struct hyve_err *err)
{
	struct kvm_irq_routing *table;
	unsigned n = 0;
	int ret;

	table = calloc(1, sizeof(*table) + (48 + nr_msi) * sizeof(table->entries[0]));
	if (!table)
		return err_set(err, ENOMEM, "irq routing: out of memory");
	for (unsigned gsi = 0; gsi < 24; gsi++) {
		if (gsi == 2)
			continue;
		if (gsi < 16) {
			table->entries[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
					       gsi % 8 } };
		}
		table->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { KVM_IRQCHIP_IOAPIC, gsi == 0 ? 2 : gsi } };
	}
	for (unsigned i = 0; i < nr_msi; i++) {
		table->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = msi[i].gsi, .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)msi[i].addr,
				   .address_hi = (uint32_t)(msi[i].addr >> 32), .data = msi[i].data } };
	}
	table->nr = n;
	ret = ioctl(m->vm_fd, KVM_SET_GSI_ROUTING, table);
	free(table);
	if (ret < 0)
		return err_set(err, errno, "KVM_SET_GSI_ROUTING: %s", strerror(errno));
	return 0;
}

static int kvm_setup_routing(struct machine *m, struct hyve_err *err)
{
	return kvm_set_msi_routes(m, NULL, 0, err);
}

int kvm_irqfd(struct machine *m, int fd, unsigned gsi, bool assign)
{
	struct kvm_irqfd req = { .fd = (uint32_t)fd, .gsi = gsi, .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN };

	if (m->vm_fd < 0)
		return -ENODEV;
	return ioctl(m->vm_fd, KVM_IRQFD, &req) < 0 ? -errno : 0;
}

int kvm_ioeventfd(struct machine *m, int fd, uint64_t addr, unsigned len, bool assign)
{
	struct kvm_ioeventfd req = { .addr = addr, .len = len, .fd = fd,
				     .flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN };

	if (m->vm_fd < 0)
		return -ENODEV;
	return ioctl(m->vm_fd, KVM_IOEVENTFD, &req) < 0 ? -errno : 0;
}

int kvm_signal_msi(struct machine *m, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = { .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data };

	if (m->vm_fd < 0)
		return -ENODEV;
	return ioctl(m->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}

int kvm_create_vm(struct machine *m, struct hyve_err *err)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t ident = KVM_IDENTITY_MAP_ADDR;

	m->vm_fd = ioctl(m->kvm_fd, KVM_CREATE_VM, 0);
	if (m->vm_fd < 0)
		return err_set(err, errno, "KVM_CREATE_VM: %s", strerror(errno));
	if (ioctl(m->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0) {
		if (ioctl(m->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0 ||
		    ioctl(m->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
			return err_set(err, errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	}
	if (ioctl(m->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return err_set(err, errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if (ioctl(m->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return err_set(err, errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	return kvm_setup_routing(m, err);
}

int kvm_map_memory(struct machine *m, struct hyve_err *err)
{
	for (unsigned i = 0; i < m->mem.nr_ranges; i++) {
		const struct mem_range *r = &m->mem.ranges[i];
		struct kvm_userspace_memory_region region = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)(m->mem.host + r->offset),
		};

		if (ioctl(m->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
			return err_set(err, errno, "KVM_SET_USER_MEMORY_REGION slot %u: %s", i, strerror(errno));
	}
	return 0;
}

/* Dirty-page logging on every RAM slot (KVM API: KVM_MEM_LOG_DIRTY_PAGES
 * on KVM_SET_USER_MEMORY_REGION; the slot keeps its pages).  Off by
 * default: a VM that is never checkpointed pays nothing. */
int kvm_dirty_log_enable(struct machine *m, bool on, struct hyve_err *err)
{
	for (unsigned i = 0; i < m->mem.nr_ranges; i++) {
		const struct mem_range *r = &m->mem.ranges[i];
		struct kvm_userspace_memory_region region = {
			.slot = i,
			.flags = on ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)(m->mem.host + r->offset),
		};

		if (ioctl(m->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
			return err_set(err, errno, "dirty logging on slot %u: %s", i, strerror(errno));
	}
	return 0;
}

/* KVM_GET_DIRTY_LOG of slot `slot` (= RAM range index) into bitmap (one
 * bit per page of the range, rounded up to 64 bits).  Without
 * KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled KVM clears the log and
 * write-protects the pages again in the same call: each call returns the
 * pages written since the previous one. */
int kvm_dirty_log_get(struct machine *m, unsigned slot, uint64_t *bitmap, struct hyve_err *err)
{
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bitmap };

	if (ioctl(m->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
		return err_set(err, errno, "KVM_GET_DIRTY_LOG slot %u: %s", slot, strerror(errno));
	return 0;
}

int kvm_irq_line(struct machine *m, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (ioctl(m->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

void kvm_close(struct machine *m)
{
	if (m->vm_fd >= 0)
		close(m->vm_fd);
	if (m->kvm_fd >= 0)
		close(m->kvm_fd);
	m->vm_fd = m->kvm_fd = -1;
}
