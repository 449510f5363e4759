/* Thin wrappers over /dev/kvm for the VM as a whole.  vCPU ioctls live in
 * src/kvm/vcpu.c; saved KVM-held state in src/kvm/vcpu_state.c and the
 * src/dev/ files for LAPIC, IOAPIC, PIC, PIT and the clock. */
#ifndef HYVE_KVM_H
#define HYVE_KVM_H

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
/* Largest vCPU count KVM allows (KVM_CAP_MAX_VCPUS). */
int kvm_max_vcpus(int kvm_fd);
void kvm_close(struct machine *m);

#endif
