/* The PCI host bridge's own structure, shared by src/dev/pci*.c only. */
#ifndef HYVE_DEV_PCI_HOST_H
#define HYVE_DEV_PCI_HOST_H

#include "hyve/bus.h"
#include "hyve/kvm.h"
#include "hyve/pci.h"

#define PCI_MAX_MSI_ROUTES 256

struct pci_host_state {
	uint32_t config_address; /* the 0xCF8 latch */
	struct pci_func_state bridge;
};

struct pci_host {
	struct machine *m;
	pthread_mutex_t lock; /* state.config_address */
	struct pci_host_state state;
	struct pci_func bridge;
	struct pci_func *funcs[PCI_NR_SLOTS][PCI_NR_FUNCS];
	struct pci_func *list[PCI_NR_SLOTS * PCI_NR_FUNCS];
	unsigned nr_funcs; /* changes only while the machine is built */
	uint64_t mmio_next, io_next;
	bus_handler cf9_fn;
	void *cf9_opaque;
	pthread_mutex_t intx_lock;
	bool gsi_level[8];
	/* MSI routes of every function's vectors (GSI = base + index). */
	pthread_mutex_t route_lock;
	struct kvm_msi_route routes[PCI_MAX_MSI_ROUTES];
	unsigned nr_routes;
};

struct pci_host *pci_host_of(struct machine *m);

#endif
