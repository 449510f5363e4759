/* Thin wrappers over /dev/kvm for the VM as a whole.  vCPU ioctls live in
 * src/kvm/vcpu.c; saved KVM-held state in src/kvm/vcpu_state.c and the
 * src/dev/ files for LAPIC, IOAPIC, PIC, PIT and the clock. */
#ifndef HYVE_KVM_H
#define HYVE_KVM_H

#include <stdbool.h>
#include <stdint.h>

#include "hyve/err.h"

struct machine;

/* Opens /dev/kvm, checks the API version and the capabilities hyve needs. */
int kvm_open(struct machine *m, struct hyve_err *err);
/* KVM_CREATE_VM with the in-kernel irqchip (LAPIC, IOAPIC, 8259 PIC),
 * the PIT (KVM_CREATE_PIT2) and PC interrupt routing. */
int kvm_create_vm(struct machine *m, struct hyve_err *err);
/* One memory slot per guest RAM range. */
int kvm_map_memory(struct machine *m, struct hyve_err *err);
int kvm_irq_line(struct machine *m, unsigned gsi, int level);
/* Dirty-page logging of guest RAM (incremental and live checkpoints). */
int kvm_dirty_log_enable(struct machine *m, bool on, struct hyve_err *err);
int kvm_dirty_log_get(struct machine *m, unsigned slot, uint64_t *bitmap, struct hyve_err *err);
/* Largest vCPU count KVM allows (KVM_CAP_MAX_VCPUS). */
int kvm_max_vcpus(int kvm_fd);
void kvm_close(struct machine *m);

/* MSI routes for PCI MSI-X vectors: GSIs from KVM_MSI_GSI_BASE up.  The
 * table given replaces every earlier MSI route; the PC routes of GSIs
 * 0-23 are always kept. */
#define KVM_MSI_GSI_BASE 24
struct kvm_msi_route {
	unsigned gsi;
	uint64_t addr;
	uint32_t data;
};
int kvm_set_msi_routes(struct machine *m, const struct kvm_msi_route *msi, unsigned nr_msi,
		       struct hyve_err *err);
/* KVM_IRQFD: a write to eventfd `fd` raises `gsi`.  -errno on failure. */
int kvm_irqfd(struct machine *m, int fd, unsigned gsi, bool assign);
/* KVM_IOEVENTFD on MMIO: a guest write of `len` bytes (0 = any) at addr
 * signals `fd` without leaving the kernel. */
int kvm_ioeventfd(struct machine *m, int fd, uint64_t addr, unsigned len, bool assign);
/* KVM_SIGNAL_MSI: one MSI without a route. */
int kvm_signal_msi(struct machine *m, uint64_t addr, uint32_t data);

#endif
