/* The PCI host bridge (bus 0) and its functions' configuration space.
 *
 * Configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2): a dword write
 * to 0xCF8 latches {enable, bus, device, function, register}; 0xCFC-0xCFF
 * then reach that dword of the function's space.  Byte and word accesses to
 * 0xCF8-0xCFB are not the address register: 0xCF9 is the chipset's Reset
 * Control register (src/dev/reset.c), whose bus range this file takes over
 * and forwards to.  ECAM (PCIe 5.0, 7.2.2) maps the same spaces at
 * PCI_ECAM_BASE, 4 KiB per function.
 *
 * BARs are not mapped on the machine's bus one by one (its table is fixed
 * once vCPUs run): this file owns the whole BAR windows and dispatches each
 * access to the function whose enabled BAR covers it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev_host.h"
#include "dev/pci_host.h"
#include "hyve/machine.h"
#include "hyve/pci.h"

#define PCI_HOST_VENDOR 0x8086 /* Intel Q35 DRAM controller: a PCIe host bridge */
#define PCI_HOST_DEVICE 0x29c0
#define PCI_CF9_PORT 0xCF9

static const char *const pci_emulations[] = {
	"virtio-rng", "virtio-blk", "virtio-console", "virtio-net",
};

struct pci_host *pci_host_of(struct machine *m)
{
	struct device *d = machine_find_device(m, "pci-host", 0);

	return d ? d->priv : NULL;
}

/* ---- configuration space ---- */

static uint8_t pci_cfg_read_byte(struct pci_host *h, struct pci_func *f, unsigned reg)
{
	uint8_t v = f->cfg[reg];

	if (reg == PCI_HEADER_TYPE && f->func == 0) {
		for (unsigned fn = 1; fn < PCI_NR_FUNCS; fn++)
			if (h->funcs[f->slot][fn])
				v |= 0x80; /* multi-function device */
	}
	return v;
}

/* One function's config access; reg < 4096, bytes never cross 4096. */
static void pci_cfg_access(struct pci_host *h, unsigned bus, unsigned slot, unsigned fn, unsigned reg,
			   uint8_t *data, unsigned len, bool is_write)
{
	struct pci_func *f = bus == 0 && slot < PCI_NR_SLOTS && fn < PCI_NR_FUNCS ? h->funcs[slot][fn] : NULL;
	bool remap = false, msix = false, intx = false;

	if (!f) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (f->cfg_hook_len && f->ops && f->ops->cfg_hook && reg >= f->cfg_hook_start &&
	    reg + len <= (unsigned)f->cfg_hook_start + f->cfg_hook_len) {
		f->ops->cfg_hook(f, reg, data, len, is_write);
		return;
	}
	pthread_mutex_lock(&f->lock);
	for (unsigned i = 0; i < len; i++) {
		unsigned r = reg + i;
		uint8_t old;

		if (r >= PCI_CFG_SIZE) {
			/* No extended capabilities: 0x100 reads 0 (PCIe 7.9.1). */
			if (!is_write)
				data[i] = 0;
			continue;
		}
		if (!is_write) {
			data[i] = pci_cfg_read_byte(h, f, r);
			continue;
		}
		old = f->cfg[r];
		f->cfg[r] = (uint8_t)((old & ~f->wmask[r]) | (data[i] & f->wmask[r]));
		if (f->cfg[r] == old)
			continue;
		if (r == PCI_COMMAND || (r >= PCI_BAR0 && r < PCI_BAR0 + 4 * PCI_NR_BARS))
			remap = true;
		if (r == PCI_COMMAND + 1)
			intx = true;
		if (f->msix_vectors && r >= f->msix_cap && r < f->msix_cap + 4)
			msix = true;
	}
	pthread_mutex_unlock(&f->lock);
	if (msix)
		pci_msix_cfg_written(f);
	if (intx)
		pci_intx_set(f, f->intx_level);
	if (remap && f->ops && f->ops->mapping_changed)
		f->ops->mapping_changed(f);
}

static void pci_port_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct pci_host *h = opaque;
	uint32_t addr;

	if (offset < 4) {
		if (offset == 0 && len == 4) {
			pthread_mutex_lock(&h->lock);
			if (is_write)
				h->state.config_address = (uint32_t)dev_bytes_get(data, 4) & 0x80fffffcu;
			else
				dev_bytes_put(data, 4, h->state.config_address);
			pthread_mutex_unlock(&h->lock);
		} else if (offset == 1 && len == 1 && h->cf9_fn) {
			h->cf9_fn(h->cf9_opaque, 0, data, 1, is_write);
		}
		return;
	}
	pthread_mutex_lock(&h->lock);
	addr = h->state.config_address;
	pthread_mutex_unlock(&h->lock);
	if (!(addr & 0x80000000u)) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_cfg_access(h, (addr >> 16) & 0xff, (addr >> 11) & 0x1f, (addr >> 8) & 7,
		       (addr & 0xfc) + (unsigned)(offset - 4), data, len, is_write);
}

static void pci_ecam_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	unsigned reg = offset & 0xfff;

	if (reg + len > 0x1000)
		len = 0x1000 - reg;
	pci_cfg_access(opaque, (unsigned)(offset >> 20), (offset >> 15) & 0x1f, (offset >> 12) & 7, reg, data, len,
		       is_write);
}

/* ---- BAR windows ---- */

uint64_t pci_bar_addr(struct pci_func *f, unsigned bar)
{
	uint64_t addr, size = bar < PCI_NR_BARS ? f->bar_size[bar] : 0;
	uint16_t cmd;
	uint32_t v;

	if (!size)
		return 0;
	pthread_mutex_lock(&f->lock);
	memcpy(&v, &f->cfg[PCI_BAR0 + 4 * bar], 4);
	cmd = (uint16_t)(f->cfg[PCI_COMMAND] | f->cfg[PCI_COMMAND + 1] << 8);
	pthread_mutex_unlock(&f->lock);
	if (f->bar_io[bar]) {
		addr = v & ~3u;
		if (!(cmd & PCI_COMMAND_IO) || addr < PCI_IO_BASE || addr + size > PCI_IO_BASE + PCI_IO_SIZE)
			return 0;
	} else {
		addr = v & ~0xfu;
		/* A BAR outside the window (e.g. all ones while being sized)
		 * decodes nothing here: the window is all the bridge routes. */
		if (!(cmd & PCI_COMMAND_MEMORY) || addr < PCI_MMIO_BASE || addr + size > PCI_MMIO_BASE + PCI_MMIO_SIZE)
			return 0;
	}
	return addr;
}

static void pci_window_access(struct pci_host *h, bool io, uint64_t addr, uint8_t *data, unsigned len,
			      bool is_write)
{
	for (unsigned i = 0; i < h->nr_funcs; i++) {
		struct pci_func *f = h->list[i];

		for (unsigned bar = 0; bar < PCI_NR_BARS; bar++) {
			uint64_t base;

			if (!f->bar_size[bar] || f->bar_io[bar] != io)
				continue;
			base = pci_bar_addr(f, bar);
			if (!base || addr < base || addr - base >= f->bar_size[bar])
				continue;
			if (len > base + f->bar_size[bar] - addr)
				len = (unsigned)(base + f->bar_size[bar] - addr);
			if (f->msix_vectors && bar == f->msix_bar)
				pci_msix_bar_access(f, addr - base, data, len, is_write);
			else if (f->ops && f->ops->bar_access)
				f->ops->bar_access(f, bar, addr - base, data, len, is_write);
			return;
		}
	}
}

static void pci_mmio_window(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	pci_window_access(opaque, false, PCI_MMIO_BASE + offset, data, len, is_write);
}

static void pci_io_window(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	pci_window_access(opaque, true, PCI_IO_BASE + offset, data, len, is_write);
}

/* ---- INTx ---- */

void pci_intx_set(struct pci_func *f, bool level)
{
	struct pci_host *h = f->host;
	unsigned gsi;
	bool any = false;

	if (!h)
		return;
	pthread_mutex_lock(&h->intx_lock);
	pthread_mutex_lock(&f->lock);
	f->intx_level = level;
	if (level)
		f->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		f->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
	gsi = pci_intx_gsi(f->slot, 0);
	pthread_mutex_unlock(&f->lock);
	/* Functions sharing a line: it is high while any of them drives it. */
	for (unsigned i = 0; i < h->nr_funcs; i++) {
		struct pci_func *o = h->list[i];

		if (pci_intx_gsi(o->slot, 0) != gsi || !o->cfg[PCI_INTERRUPT_PIN])
			continue;
		pthread_mutex_lock(&o->lock);
		/* INTx disabled, or MSI-X on (PCI 3.0, 6.8.2): the pin is idle. */
		if (o->intx_level && !(o->cfg[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8)) &&
		    !(o->msix_vectors && (o->cfg[o->msix_cap + 3] & 0x80)))
			any = true;
		pthread_mutex_unlock(&o->lock);
	}
	if (any != h->gsi_level[gsi - PCI_INTX_GSI_BASE]) {
		h->gsi_level[gsi - PCI_INTX_GSI_BASE] = any;
		dev_host->irq_set(f->m, gsi, any);
	}
	pthread_mutex_unlock(&h->intx_lock);
}

/* ---- function setup ---- */

static void pci_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void pci_func_init(struct pci_func *f, struct machine *m, uint16_t vendor, uint16_t device, uint32_t class_code,
		   uint8_t revision, const struct pci_func_ops *ops, void *opaque)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->m = m;
	f->ops = ops;
	f->opaque = opaque;
	for (unsigned i = 0; i < PCI_MSIX_MAX; i++)
		f->vec[i] = (struct pci_msix_vector){ .efd = -1, .route = -1 };
	pci_put16(&f->reset_cfg[PCI_VENDOR_ID], vendor);
	pci_put16(&f->reset_cfg[PCI_DEVICE_ID], device);
	f->reset_cfg[PCI_REVISION_ID] = revision;
	f->reset_cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	pci_put16(&f->reset_cfg[PCI_CLASS_PROG + 1], (uint16_t)(class_code >> 8));
	pci_put16(&f->reset_cfg[PCI_SUBSYSTEM_VENDOR_ID], vendor);
	pci_put16(&f->reset_cfg[PCI_SUBSYSTEM_ID], device);
	f->wmask[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	f->wmask[PCI_COMMAND + 1] = PCI_COMMAND_INTX_DISABLE >> 8;
	f->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	f->wmask[PCI_LATENCY_TIMER] = 0xff;
	f->wmask[PCI_INTERRUPT_LINE] = 0xff;
	f->cap_next = PCI_CAP_START;
	memcpy(f->cfg, f->reset_cfg, sizeof(f->cfg));
}

int pci_func_add_bar(struct pci_func *f, unsigned bar, uint64_t size, bool io, struct hyve_err *err)
{
	uint32_t mask;

	if (bar >= PCI_NR_BARS || size < (io ? 4u : 16u) || (size & (size - 1)) || size > (io ? 256u : 1u << 30))
		return err_set(err, EINVAL, "BAR %u: bad size 0x%" PRIx64, bar, size);
	f->bar_size[bar] = size;
	f->bar_io[bar] = io;
	/* Size probing (PCI 3.0, 6.2.5.1): the address bits below the size
	 * are hard-wired zero, so writing all ones reads back ~(size - 1). */
	mask = (uint32_t)~(size - 1) & (io ? ~3u : ~0xfu);
	for (unsigned i = 0; i < 4; i++)
		f->wmask[PCI_BAR0 + 4 * bar + i] = (uint8_t)(mask >> (8 * i));
	f->reset_cfg[PCI_BAR0 + 4 * bar] = io ? 1 : 0;
	return 0;
}

int pci_func_add_cap(struct pci_func *f, const uint8_t *cap, unsigned len, struct hyve_err *err)
{
	unsigned off = f->cap_next;

	if (len < 2 || off + len > PCI_CFG_SIZE)
		return err_set(err, ENOSPC, "no room for a %u-byte capability", len);
	memcpy(&f->reset_cfg[off], cap, len);
	f->reset_cfg[off + 1] = 0;
	if (off == PCI_CAP_START) {
		f->reset_cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
		f->reset_cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	} else {
		f->reset_cfg[f->cap_last] = (uint8_t)off;
	}
	f->cap_last = (uint8_t)(off + 1);
	f->cap_next = (uint8_t)((off + len + 3) & ~3u);
	if (off + len + 3 >= PCI_CFG_SIZE)
		f->cap_next = 0xfc;
	memcpy(f->cfg, f->reset_cfg, sizeof(f->cfg));
	return (int)off;
}

static int pci_host_add_func(struct pci_host *h, struct pci_func *f, unsigned slot, unsigned func,
			     struct hyve_err *err)
{
	if (slot >= PCI_NR_SLOTS || func >= PCI_NR_FUNCS)
		return err_set(err, EINVAL, "PCI slot %u:%u is outside 0..31:0..7", slot, func);
	if (h->funcs[slot][func])
		return err_set(err, EEXIST, "PCI slot %u:%u is taken by %s", slot, func, h->funcs[slot][func]->name);
	for (unsigned bar = 0; bar < PCI_NR_BARS; bar++) {
		uint64_t size = f->bar_size[bar], *next = f->bar_io[bar] ? &h->io_next : &h->mmio_next;
		uint64_t end = f->bar_io[bar] ? PCI_IO_BASE + PCI_IO_SIZE : PCI_MMIO_BASE + PCI_MMIO_SIZE;
		uint64_t addr;
		uint32_t v;

		if (!size)
			continue;
		addr = (*next + size - 1) & ~(size - 1);
		if (addr + size > end)
			return err_set(err, ENOSPC, "PCI %u:%u: BAR %u does not fit in the %s window", slot, func,
				       bar, f->bar_io[bar] ? "I/O" : "memory");
		*next = addr + size;
		memcpy(&v, &f->reset_cfg[PCI_BAR0 + 4 * bar], 4);
		v |= (uint32_t)addr;
		memcpy(&f->reset_cfg[PCI_BAR0 + 4 * bar], &v, 4);
	}
	if (slot != 0 || func != 0) {
		f->reset_cfg[PCI_INTERRUPT_PIN] = 1; /* INTA# */
		f->reset_cfg[PCI_INTERRUPT_LINE] = (uint8_t)pci_intx_gsi(slot, 0);
	}
	/* What firmware leaves: BARs assigned, decode on, bus mastering off. */
	f->reset_cfg[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY;
	f->slot = slot;
	f->func = func;
	f->host = h;
	if (!f->name[0])
		snprintf(f->name, sizeof(f->name), "pci %u:%u", slot, func);
	memcpy(f->cfg, f->reset_cfg, sizeof(f->cfg));
	h->funcs[slot][func] = f;
	h->list[h->nr_funcs++] = f;
	return 0;
}

int pci_func_register(struct pci_func *f, unsigned slot, unsigned func, struct hyve_err *err)
{
	struct pci_host *h = pci_host_of(f->m);

	if (!h)
		return err_set(err, ENODEV, "no PCI host bridge");
	return pci_host_add_func(h, f, slot, func, err);
}

void pci_func_unregister(struct pci_func *f)
{
	struct pci_host *h = f->host;

	pci_msix_release(f);
	if (!h)
		return;
	h->funcs[f->slot][f->func] = NULL;
	for (unsigned i = 0; i < h->nr_funcs; i++) {
		if (h->list[i] == f) {
			memmove(&h->list[i], &h->list[i + 1], (h->nr_funcs - i - 1) * sizeof(h->list[0]));
			h->nr_funcs--;
			break;
		}
	}
	f->host = NULL;
}

void pci_func_reset(struct pci_func *f)
{
	pthread_mutex_lock(&f->lock);
	memcpy(f->cfg, f->reset_cfg, sizeof(f->cfg));
	memset(f->msix_pba, 0, sizeof(f->msix_pba));
	memset(f->msix_table, 0, sizeof(f->msix_table));
	for (unsigned v = 0; v < f->msix_vectors; v++)
		f->msix_table[16 * v + 12] = 1; /* masked (PCI 3.0, 6.8.2.9) */
	pthread_mutex_unlock(&f->lock);
	pci_intx_set(f, false);
	if (f->ops && f->ops->mapping_changed)
		f->ops->mapping_changed(f);
}

int pci_parse_location(const char *conf, unsigned *slot, unsigned *func, const char **rest, struct hyve_err *err)
{
	char *end;
	unsigned long s, fn = 0;

	if (!conf)
		return err_set(err, EINVAL, "a PCI device needs its slot (\"slot[:func],emulation[,conf]\")");
	s = strtoul(conf, &end, 10);
	if (end == conf)
		return err_set(err, EINVAL, "'%s': no slot number", conf);
	if (*end == ':') {
		const char *p = end + 1;

		fn = strtoul(p, &end, 10);
		if (end == p)
			return err_set(err, EINVAL, "'%s': no function number", conf);
	}
	if (s >= PCI_NR_SLOTS || fn >= PCI_NR_FUNCS)
		return err_set(err, EINVAL, "'%s': slot %lu:%lu is outside 0..31:0..7", conf, s, fn);
	if (*end != ',')
		return err_set(err, EINVAL, "'%s': expected \"slot[:func],emulation[,conf]\"", conf);
	*slot = (unsigned)s;
	*func = (unsigned)fn;
	*rest = end + 1;
	return 0;
}

int pci_machine_init(struct machine *m, struct hyve_err *err)
{
	int ret = machine_add_device(m, "pci-host", 0, NULL, NULL, err);

	for (unsigned i = 0; !ret && i < m->cfg.nr_slots; i++) {
		const struct slot_config *sc = &m->cfg.slots[i];
		char conf[sizeof(sc->conf) + 64];
		bool known = false;

		if (sc->slot == 0 && sc->func == 0 && strcmp(sc->emulation, "hostbridge") == 0)
			continue; /* bhyve's explicit host bridge: always present here */
		for (size_t k = 0; k < sizeof(pci_emulations) / sizeof(pci_emulations[0]); k++)
			known |= strcmp(sc->emulation, pci_emulations[k]) == 0;
		if (!known || !device_type_find(sc->emulation))
			return err_set(err, ENOTSUP, "-s %u:%u: unknown PCI emulation '%s'", sc->slot, sc->func,
				       sc->emulation);
		if (sc->slot == 0 || sc->slot >= PCI_NR_SLOTS || sc->func >= PCI_NR_FUNCS)
			return err_set(err, EINVAL, "-s %u:%u,%s: slot must be 1..31, function 0..7", sc->slot,
				       sc->func, sc->emulation);
		snprintf(conf, sizeof(conf), "%u:%u,%s%s%s", sc->slot, sc->func, sc->emulation,
			 sc->conf[0] ? "," : "", sc->conf);
		if (strlen(conf) >= sizeof(((struct device *)0)->conf))
			return err_set(err, E2BIG, "-s %u:%u: configuration too long", sc->slot, sc->func);
		ret = machine_add_device(m, sc->emulation, sc->slot * PCI_NR_FUNCS + sc->func, conf, NULL, err);
	}
	return ret;
}

/* ---- the host bridge device ---- */

static const struct state_field pci_host_fields[] = {
	FIELD_U32(struct pci_host_state, config_address, 1),
	FIELD_STRUCT(struct pci_host_state, bridge, struct pci_func_state, pci_func_state_desc, 1),
	FIELD_END
};
static const struct state_desc pci_host_desc = STATE_DESC("pci-host", struct pci_host_state, 1, pci_host_fields);

/* Takes over reset.c's one-byte range at 0xCF9 so that 0xCF8 can decode
 * dword accesses; byte accesses to 0xCF9 are forwarded to it. */
static int pci_claim_ports(struct machine *m, struct pci_host *h, struct hyve_err *err)
{
	struct bus *pio = &m->pio;

	for (unsigned i = 0; i < pio->nr; i++) {
		if (pio->ranges[i].base == PCI_CF9_PORT && pio->ranges[i].len == 1) {
			h->cf9_fn = pio->ranges[i].fn;
			h->cf9_opaque = pio->ranges[i].opaque;
			memmove(&pio->ranges[i], &pio->ranges[i + 1], (pio->nr - i - 1) * sizeof(pio->ranges[0]));
			pio->nr--;
			break;
		}
	}
	return bus_register(pio, PCI_CONFIG_ADDRESS_PORT, 8, pci_port_access, h, "pci-config", err);
}

static int pci_host_create(struct machine *m, struct device *dev, const struct dev_opts *opts,
			   struct hyve_err *err)
{
	struct pci_host *h = calloc(1, sizeof(*h));
	int ret;

	(void)opts;
	if (!h)
		return err_set(err, ENOMEM, "pci-host: out of memory");
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->intx_lock, NULL);
	pthread_mutex_init(&h->route_lock, NULL);
	h->m = m;
	h->mmio_next = PCI_MMIO_BASE;
	h->io_next = PCI_IO_BASE;
	dev->priv = h;
	ret = pci_claim_ports(m, h, err);
	if (!ret)
		ret = bus_register(&m->mmio, PCI_ECAM_BASE, PCI_ECAM_SIZE, pci_ecam_access, h, "pci-ecam", err);
	if (!ret)
		ret = bus_register(&m->mmio, PCI_MMIO_BASE, PCI_MMIO_SIZE, pci_mmio_window, h, "pci-mmio", err);
	if (!ret)
		ret = bus_register(&m->pio, PCI_IO_BASE, PCI_IO_SIZE, pci_io_window, h, "pci-io", err);
	if (ret)
		goto out_free;
	pci_func_init(&h->bridge, m, PCI_HOST_VENDOR, PCI_HOST_DEVICE, 0x060000, 0, NULL, NULL);
	snprintf(h->bridge.name, sizeof(h->bridge.name), "host bridge");
	ret = pci_host_add_func(h, &h->bridge, 0, 0, err);
	if (ret)
		goto out_free;
	return 0;
out_free:
	/* The bus keeps no pointer past a failed machine: it is torn down. */
	dev->priv = NULL;
	free(h);
	return ret;
}

static void pci_host_destroy(struct device *dev)
{
	struct pci_host *h = dev->priv;

	if (!h)
		return;
	/* Functions destroyed after the bridge must not reach it. */
	for (unsigned i = 0; i < h->nr_funcs; i++)
		h->list[i]->host = NULL;
	pci_msix_release(&h->bridge);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->intx_lock);
	pthread_mutex_destroy(&h->route_lock);
	free(h);
}

static void pci_host_reset(struct device *dev)
{
	struct pci_host *h = dev->priv;

	h->state.config_address = 0;
	pci_func_reset(&h->bridge);
}

static int pci_host_save(struct device *dev, void *state, struct hyve_err *err)
{
	struct pci_host *h = dev->priv;
	struct pci_host_state *s = state;

	(void)err;
	pthread_mutex_lock(&h->lock);
	s->config_address = h->state.config_address;
	pthread_mutex_unlock(&h->lock);
	pci_func_save(&h->bridge, &s->bridge);
	return 0;
}

static int pci_host_check(const void *staged, struct hyve_err *err)
{
	const struct pci_host_state *s = staged;

	if (s->config_address & ~0x80fffffcu)
		return err_set(err, EINVAL, "config_address 0x%x has reserved bits set", s->config_address);
	if (s->bridge.vendor_id != PCI_HOST_VENDOR || s->bridge.device_id != PCI_HOST_DEVICE)
		return err_set(err, EINVAL, "host bridge is %04x:%04x, expected %04x:%04x", s->bridge.vendor_id,
			       s->bridge.device_id, PCI_HOST_VENDOR, PCI_HOST_DEVICE);
	return pci_func_check(&s->bridge, err);
}

static int pci_host_load(struct device *dev, const void *staged, struct hyve_err *err)
{
	struct pci_host *h = dev->priv;
	const struct pci_host_state *s = staged;

	h->state.config_address = s->config_address;
	return pci_func_load(&h->bridge, &s->bridge, err);
}

static const struct device_type pci_host_type = {
	.name = "pci-host",
	.create = pci_host_create,
	.destroy = pci_host_destroy,
	.reset = pci_host_reset,
	.state = &pci_host_desc,
	.save = pci_host_save,
	.check = pci_host_check,
	.load = pci_host_load,
};
DEVICE_TYPE_REGISTER(pci_host_type);
