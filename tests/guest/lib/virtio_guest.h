/* PCI configuration mechanism #1 and the virtio 1.2 split-virtqueue layout,
 * for the test guests that drive hyve's virtio devices (virtio_io.c,
 * virtio_net.c).  Ring 0 only (port I/O).  QSIZE is the guest's queue size,
 * defined before including this file. */
#ifndef GUEST_VIRTIO_GUEST_H
#define GUEST_VIRTIO_GUEST_H

#include "guest.h"

#ifndef QSIZE
#error "define QSIZE before including virtio_guest.h"
#endif

#define VENDOR_VIRTIO 0x1af4
#define ST_ACK 1
#define ST_DRIVER 2
#define ST_DRIVER_OK 4
#define ST_FEATURES_OK 8
#define ST_NEEDS_RESET 0x40

struct desc {
	u64 addr;
	u32 len;
	u16 flags, next;
};

struct vq {
	struct desc desc[QSIZE] __attribute__((aligned(16)));
	struct {
		u16 flags, idx, ring[QSIZE], used_event;
	} avail __attribute__((aligned(2)));
	struct {
		u16 flags, idx;
		struct {
			u32 id, len;
		} ring[QSIZE];
		u16 avail_event;
	} used __attribute__((aligned(4)));
	u16 last_used;
};

/* Bus 0, function 0 of `slot`. */
static inline u32 cfg_addr(unsigned s, unsigned r) { return 0x80000000u | s << 11 | (r & 0xfc); }
static inline u32 pci_r32(unsigned s, unsigned r) { outl(0xcf8, cfg_addr(s, r)); return inl(0xcfc); }
static inline u8 pci_r8(unsigned s, unsigned r) { outl(0xcf8, cfg_addr(s, r)); return inb(0xcfc + (r & 3)); }
static inline u16 pci_r16(unsigned s, unsigned r) { outl(0xcf8, cfg_addr(s, r)); return inw(0xcfc + (r & 2)); }
static inline void pci_w32(unsigned s, unsigned r, u32 v) { outl(0xcf8, cfg_addr(s, r)); outl(0xcfc, v); }
static inline void pci_w16(unsigned s, unsigned r, u16 v) { outl(0xcf8, cfg_addr(s, r)); outw(0xcfc + (r & 2), v); }

static inline u8 r8(u64 a) { return *(volatile u8 *)a; }
static inline u16 r16(u64 a) { return *(volatile u16 *)a; }
static inline void w8(u64 a, u8 v) { *(volatile u8 *)a = v; }
static inline void w16(u64 a, u16 v) { *(volatile u16 *)a = v; }
#define r32 mmio_read32
#define w32 mmio_write32

static inline u64 bar_addr(unsigned slot, unsigned bar) { return pci_r32(slot, 0x10 + 4 * bar) & ~0xfu; }

#endif
