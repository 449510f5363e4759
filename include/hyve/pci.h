/* PCI: one host bridge (bus 0), configuration mechanism #1 (ports
 * 0xCF8/0xCFC) and PCIe ECAM, BARs allocated in the 32-bit MMIO hole and a
 * high I/O port range, MSI-X through KVM irq routes + irqfd, INTx through
 * the IOAPIC (GSIs 16-23) as fallback.
 *
 * Every -s slot becomes one device of the emulation's type with
 * instance = slot * 8 + func and conf = "slot:func,emulation[,conf]", so a
 * restore rebuilds it from the snapshot's device list alone. */
#ifndef HYVE_PCI_H
#define HYVE_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hyve/err.h"
#include "hyve/state.h"

struct machine;

#define PCI_CONFIG_ADDRESS_PORT 0xCF8
#define PCI_CONFIG_DATA_PORT 0xCFC
/* ECAM (PCIe 5.0, 7.2.2): 1 MiB per bus; buses 0..PCI_ECAM_LAST_BUS. */
#define PCI_ECAM_BASE 0xE0000000ULL
#define PCI_ECAM_LAST_BUS 255
#define PCI_ECAM_SIZE ((uint64_t)(PCI_ECAM_LAST_BUS + 1) << 20)
/* Window for memory BARs: the bottom of the 32-bit hole, below ECAM. */
#define PCI_MMIO_BASE 0xC0000000ULL
#define PCI_MMIO_SIZE 0x20000000ULL
#define PCI_IO_BASE 0xC000
#define PCI_IO_SIZE 0x4000
/* INTx pins are swizzled over IOAPIC pins 16-23 (the DSDT's _PRT). */
#define PCI_INTX_GSI_BASE 16
#define PCI_NR_SLOTS 32
#define PCI_NR_FUNCS 8
#define PCI_CFG_SIZE 256
#define PCI_CAP_START 0x40
#define PCI_NR_BARS 6
#define PCI_MSIX_MAX 32

/* Standard header offsets (PCI Local Bus 3.0, 6.1) */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_LATENCY_TIMER 0x0d
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_COMMAND_IO 0x1
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_STATUS_INTERRUPT 0x08
#define PCI_CAP_ID_MSIX 0x11
#define PCI_CAP_ID_VNDR 0x09

static inline unsigned pci_intx_gsi(unsigned slot, unsigned pin)
{
	return PCI_INTX_GSI_BASE + ((slot + pin) & 7);
}

struct pci_func;

struct pci_func_ops {
	/* A guest access to BAR `bar` (not the MSI-X BAR). */
	void (*bar_access)(struct pci_func *f, unsigned bar, uint64_t offset, uint8_t *data, unsigned len,
			   bool is_write);
	/* BAR addresses or decode enables changed (config write, reset or
	 * load); called without any PCI lock held. */
	void (*mapping_changed)(struct pci_func *f);
	/* Config accesses wholly inside [cfg_hook_start, +cfg_hook_len) go
	 * here instead of the config bytes (a device-defined data window). */
	void (*cfg_hook)(struct pci_func *f, unsigned reg, uint8_t *data, unsigned len, bool is_write);
};

/* The saved state of one function: the writable header registers by
 * name, the capability area and the MSI-X table as byte areas. */
struct pci_func_state {
	uint16_t vendor_id, device_id;
	uint32_t class_code;
	uint16_t command, status;
	uint32_t bars[PCI_NR_BARS];
	uint8_t cache_line_size, latency_timer, interrupt_line;
	bool intx_level;
	uint8_t caps[PCI_CFG_SIZE - PCI_CAP_START];
	uint8_t msix_table[PCI_MSIX_MAX * 16];
	uint8_t msix_pba[PCI_MSIX_MAX / 8];
};
extern const struct state_desc pci_func_state_desc;

struct pci_msix_vector {
	int efd;        /* irqfd; -1 until first used */
	int route;      /* index in the host's MSI route table, -1 if none */
};

struct pci_func {
	struct machine *m;
	struct pci_host *host;
	unsigned slot, func;
	char name[32];
	pthread_mutex_t lock; /* cfg, MSI-X table */
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];
	uint8_t reset_cfg[PCI_CFG_SIZE]; /* power-on values, BARs assigned */
	uint64_t bar_size[PCI_NR_BARS];
	bool bar_io[PCI_NR_BARS];
	uint8_t cap_next; /* next free config offset for a capability */
	uint8_t cap_last; /* where the last capability's next pointer is */
	/* MSI-X (PCI 3.0, 6.8.2): table and PBA in BAR msix_bar. */
	unsigned msix_vectors, msix_bar, msix_cap;
	uint32_t msix_table_off, msix_pba_off;
	uint8_t msix_table[PCI_MSIX_MAX * 16];
	uint8_t msix_pba[PCI_MSIX_MAX / 8];
	struct pci_msix_vector vec[PCI_MSIX_MAX];
	bool intx_level;
	uint8_t cfg_hook_start, cfg_hook_len;
	const struct pci_func_ops *ops;
	void *opaque;
};

/* Creates the host bridge and one device per -s slot of m->cfg.  Called
 * once from machine_create (fresh boot and restore alike). */
int pci_machine_init(struct machine *m, struct hyve_err *err);

/* Function setup, in this order: init, BARs, capabilities, register. */
void pci_func_init(struct pci_func *f, struct machine *m, uint16_t vendor, uint16_t device, uint32_t class_code,
		   uint8_t revision, const struct pci_func_ops *ops, void *opaque);
int pci_func_add_bar(struct pci_func *f, unsigned bar, uint64_t size, bool io, struct hyve_err *err);
/* Appends a capability (cap[0] = id; cap[1] is filled with the next
 * pointer); returns its config offset or a negative errno. */
int pci_func_add_cap(struct pci_func *f, const uint8_t *cap, unsigned len, struct hyve_err *err);
int pci_msix_init(struct pci_func *f, unsigned bar, uint32_t table_off, uint32_t pba_off, unsigned vectors,
		  struct hyve_err *err);
/* Places the function at slot:func, allocates its BARs. */
int pci_func_register(struct pci_func *f, unsigned slot, unsigned func, struct hyve_err *err);
void pci_func_unregister(struct pci_func *f);
/* Power-on state (BARs as allocated, decode on, MSI-X off). */
void pci_func_reset(struct pci_func *f);

/* Guest address of a BAR; 0 when its decode is off or it is unassigned. */
uint64_t pci_bar_addr(struct pci_func *f, unsigned bar);
bool pci_msix_enabled(struct pci_func *f);
/* Interrupts: an MSI-X vector when MSI-X is on (pending bit if masked;
 * nothing for vector 0xffff), else nothing (callers use INTx). */
void pci_msix_notify(struct pci_func *f, unsigned vector);
void pci_intx_set(struct pci_func *f, bool level);

void pci_func_save(struct pci_func *f, struct pci_func_state *s);
int pci_func_check(const struct pci_func_state *s, struct hyve_err *err);
int pci_func_load(struct pci_func *f, const struct pci_func_state *s, struct hyve_err *err);

/* Parses "slot[:func],emulation[,conf]" as the device conf string. */
int pci_parse_location(const char *conf, unsigned *slot, unsigned *func, const char **rest, struct hyve_err *err);

/* Internal to src/dev/pci*.c */
void pci_msix_bar_access(struct pci_func *f, uint64_t off, uint8_t *data, unsigned len, bool is_write);
void pci_msix_cfg_written(struct pci_func *f);
void pci_msix_release(struct pci_func *f);

#endif
