/* MSI-X (PCI Local Bus 3.0, 6.8.2) and the saved state of a PCI function.
 *
 * Each vector that fires gets a KVM MSI route (a GSI from
 * KVM_MSI_GSI_BASE) and an irqfd, so that a device thread raises it with
 * one eventfd write.  Routes are created and updated lazily, when a vector
 * fires with an address/data pair its route does not have yet: table writes
 * stay cheap, and a restored table needs no replay.  Without irqfd (a unit
 * test's fake machine, an old kernel) KVM_SIGNAL_MSI delivers instead. */
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dev/pci_host.h"
#include "hyve/machine.h"
#include "hyve/pci.h"

#define MSIX_CTRL_ENABLE 0x80   /* byte 3 of the capability */
#define MSIX_CTRL_FMASK 0x40
#define MSIX_ENTRY_SIZE 16
#define MSIX_ENTRY_CTRL 12
#define MSIX_VECTOR_MASKED 1

static const struct state_field pci_func_fields[] = {
	FIELD_U16(struct pci_func_state, vendor_id, 1),
	FIELD_U16(struct pci_func_state, device_id, 1),
	FIELD_U32(struct pci_func_state, class_code, 1),
	FIELD_U16(struct pci_func_state, command, 1),
	FIELD_U16(struct pci_func_state, status, 1),
	FIELD_ARRAY_U32(struct pci_func_state, bars, 1),
	FIELD_U8(struct pci_func_state, cache_line_size, 1),
	FIELD_U8(struct pci_func_state, latency_timer, 1),
	FIELD_U8(struct pci_func_state, interrupt_line, 1),
	FIELD_BOOL(struct pci_func_state, intx_level, 1),
	FIELD_BYTES(struct pci_func_state, caps, 1),
	FIELD_BYTES(struct pci_func_state, msix_table, 1),
	FIELD_BYTES(struct pci_func_state, msix_pba, 1),
	FIELD_END
};
const struct state_desc pci_func_state_desc = STATE_DESC("pci", struct pci_func_state, 1, pci_func_fields);

int pci_msix_init(struct pci_func *f, unsigned bar, uint32_t table_off, uint32_t pba_off, unsigned vectors,
		  struct hyve_err *err)
{
	uint8_t cap[12] = { PCI_CAP_ID_MSIX, 0 };
	int off;

	if (vectors == 0 || vectors > PCI_MSIX_MAX || bar >= PCI_NR_BARS || !f->bar_size[bar] ||
	    table_off % 8 || pba_off % 8 || table_off + vectors * MSIX_ENTRY_SIZE > f->bar_size[bar] ||
	    pba_off + 8 > f->bar_size[bar])
		return err_set(err, EINVAL, "MSI-X: bad layout (%u vectors in BAR %u)", vectors, bar);
	cap[2] = (uint8_t)(vectors - 1);
	cap[3] = (uint8_t)((vectors - 1) >> 8);
	memcpy(&cap[4], &(uint32_t){ table_off | bar }, 4);
	memcpy(&cap[8], &(uint32_t){ pba_off | bar }, 4);
	off = pci_func_add_cap(f, cap, sizeof(cap), err);
	if (off < 0)
		return off;
	f->msix_cap = (unsigned)off;
	f->msix_bar = bar;
	f->msix_vectors = vectors;
	f->msix_table_off = table_off;
	f->msix_pba_off = pba_off;
	f->wmask[off + 3] = MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK;
	for (unsigned v = 0; v < vectors; v++)
		f->msix_table[v * MSIX_ENTRY_SIZE + MSIX_ENTRY_CTRL] = MSIX_VECTOR_MASKED; /* 6.8.2.9 */
	return 0;
}

static bool pci_msix_on(const struct pci_func *f)
{
	return f->msix_vectors && (f->cfg[f->msix_cap + 3] & MSIX_CTRL_ENABLE);
}

bool pci_msix_enabled(struct pci_func *f)
{
	bool on;

	pthread_mutex_lock(&f->lock);
	on = pci_msix_on(f);
	pthread_mutex_unlock(&f->lock);
	return on;
}

/* Raises the message now; route/irqfd set up or refreshed on the way. */
static void pci_msix_deliver(struct pci_func *f, unsigned v, uint64_t addr, uint32_t data)
{
	struct pci_host *h = f->host;
	struct pci_msix_vector *vec = &f->vec[v];
	int efd = -1;

	if (h) {
		pthread_mutex_lock(&h->route_lock);
		if (vec->route < 0 && vec->efd < 0 && h->nr_routes < PCI_MAX_MSI_ROUTES && f->m->vm_fd >= 0) {
			unsigned idx = h->nr_routes;

			h->routes[idx] = (struct kvm_msi_route){ KVM_MSI_GSI_BASE + idx, addr, data };
			vec->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (vec->efd >= 0 && kvm_set_msi_routes(f->m, h->routes, idx + 1, NULL) == 0 &&
			    kvm_irqfd(f->m, vec->efd, KVM_MSI_GSI_BASE + idx, true) == 0) {
				vec->route = (int)idx;
				h->nr_routes++;
			} else if (vec->efd >= 0) {
				close(vec->efd);
				vec->efd = -1;
			}
		}
		if (vec->route >= 0) {
			struct kvm_msi_route *r = &h->routes[vec->route];

			if (r->addr != addr || r->data != data) {
				r->addr = addr;
				r->data = data;
				efd = vec->efd;
				if (kvm_set_msi_routes(f->m, h->routes, h->nr_routes, NULL)) {
					/* Retried at the next message; this one goes directly. */
					r->addr = r->data = 0;
					efd = -1;
				}
			} else {
				efd = vec->efd;
			}
		}
		pthread_mutex_unlock(&h->route_lock);
	}
	if (efd >= 0 && eventfd_write(efd, 1) == 0)
		return;
	kvm_signal_msi(f->m, addr, data);
}

/* With f->lock held: the vector's message if it may fire now, else marks
 * it pending.  Returns true when the message (addr, data) is to be sent. */
static bool pci_msix_take(struct pci_func *f, unsigned v, bool set_pending, uint64_t *addr, uint32_t *data)
{
	const uint8_t *e = &f->msix_table[v * MSIX_ENTRY_SIZE];
	bool pending = f->msix_pba[v / 8] & (1u << (v % 8));

	if ((f->cfg[f->msix_cap + 3] & MSIX_CTRL_FMASK) || (e[MSIX_ENTRY_CTRL] & MSIX_VECTOR_MASKED)) {
		if (set_pending)
			f->msix_pba[v / 8] |= (uint8_t)(1u << (v % 8));
		return false;
	}
	if (!set_pending && !pending)
		return false;
	f->msix_pba[v / 8] &= (uint8_t)~(1u << (v % 8));
	memcpy(addr, e, 8);
	memcpy(data, e + 8, 4);
	return true;
}

void pci_msix_notify(struct pci_func *f, unsigned vector)
{
	uint64_t addr;
	uint32_t data;
	bool fire;

	pthread_mutex_lock(&f->lock);
	fire = vector < f->msix_vectors && pci_msix_on(f) && pci_msix_take(f, vector, true, &addr, &data);
	pthread_mutex_unlock(&f->lock);
	if (fire)
		pci_msix_deliver(f, vector, addr, data);
}

/* Pending vectors that became deliverable (unmasked, or MSI-X enabled). */
static void pci_msix_flush_pending(struct pci_func *f)
{
	for (unsigned v = 0; v < f->msix_vectors; v++) {
		uint64_t addr;
		uint32_t data;
		bool fire;

		pthread_mutex_lock(&f->lock);
		fire = pci_msix_on(f) && pci_msix_take(f, v, false, &addr, &data);
		pthread_mutex_unlock(&f->lock);
		if (fire)
			pci_msix_deliver(f, v, addr, data);
	}
}

void pci_msix_cfg_written(struct pci_func *f)
{
	pci_intx_set(f, f->intx_level);
	pci_msix_flush_pending(f);
}

void pci_msix_bar_access(struct pci_func *f, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	uint64_t tend = f->msix_table_off + (uint64_t)f->msix_vectors * MSIX_ENTRY_SIZE;
	uint64_t pend = f->msix_pba_off + (f->msix_vectors + 63) / 64 * 8;
	bool unmask = false;

	pthread_mutex_lock(&f->lock);
	for (unsigned i = 0; i < len; i++) {
		uint64_t o = off + i;

		if (o >= f->msix_table_off && o < tend) {
			uint64_t t = o - f->msix_table_off;
			uint8_t *b = &f->msix_table[t];

			if (!is_write) {
				data[i] = *b;
			} else if (t % MSIX_ENTRY_SIZE == MSIX_ENTRY_CTRL) {
				/* Only the mask bit of Vector Control is defined. */
				unmask |= (*b & MSIX_VECTOR_MASKED) && !(data[i] & MSIX_VECTOR_MASKED);
				*b = data[i] & MSIX_VECTOR_MASKED;
			} else if (t % MSIX_ENTRY_SIZE < MSIX_ENTRY_CTRL) {
				*b = data[i];
			}
		} else if (o >= f->msix_pba_off && o < pend) {
			uint64_t p = o - f->msix_pba_off;

			if (!is_write)
				data[i] = p < sizeof(f->msix_pba) ? f->msix_pba[p] : 0;
		} else if (!is_write) {
			data[i] = 0;
		}
	}
	pthread_mutex_unlock(&f->lock);
	if (unmask)
		pci_msix_flush_pending(f);
}

void pci_msix_release(struct pci_func *f)
{
	for (unsigned v = 0; v < PCI_MSIX_MAX; v++) {
		if (f->vec[v].efd >= 0) {
			if (f->vec[v].route >= 0 && f->host)
				kvm_irqfd(f->m, f->vec[v].efd, KVM_MSI_GSI_BASE + (unsigned)f->vec[v].route, false);
			close(f->vec[v].efd);
		}
		f->vec[v] = (struct pci_msix_vector){ .efd = -1, .route = -1 };
	}
}

/* ---- saved state ---- */

void pci_func_save(struct pci_func *f, struct pci_func_state *s)
{
	pthread_mutex_lock(&f->lock);
	memcpy(&s->vendor_id, &f->cfg[PCI_VENDOR_ID], 2);
	memcpy(&s->device_id, &f->cfg[PCI_DEVICE_ID], 2);
	s->class_code = (uint32_t)f->cfg[PCI_CLASS_PROG] | (uint32_t)f->cfg[PCI_CLASS_PROG + 1] << 8 |
			(uint32_t)f->cfg[PCI_CLASS_PROG + 2] << 16;
	memcpy(&s->command, &f->cfg[PCI_COMMAND], 2);
	memcpy(&s->status, &f->cfg[PCI_STATUS], 2);
	memcpy(s->bars, &f->cfg[PCI_BAR0], sizeof(s->bars));
	s->cache_line_size = f->cfg[PCI_CACHE_LINE_SIZE];
	s->latency_timer = f->cfg[PCI_LATENCY_TIMER];
	s->interrupt_line = f->cfg[PCI_INTERRUPT_LINE];
	s->intx_level = f->intx_level;
	memcpy(s->caps, &f->cfg[PCI_CAP_START], sizeof(s->caps));
	memcpy(s->msix_table, f->msix_table, sizeof(s->msix_table));
	memcpy(s->msix_pba, f->msix_pba, sizeof(s->msix_pba));
	pthread_mutex_unlock(&f->lock);
}

int pci_func_check(const struct pci_func_state *s, struct hyve_err *err)
{
	if (s->command & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE))
		return err_set(err, EINVAL, "pci: command 0x%x has bits no function implements", s->command);
	if (s->class_code >> 24)
		return err_set(err, EINVAL, "pci: class code 0x%x is wider than 24 bits", s->class_code);
	for (unsigned i = 0; i < PCI_MSIX_MAX; i++)
		if (s->msix_table[16 * i + MSIX_ENTRY_CTRL] & ~MSIX_VECTOR_MASKED)
			return err_set(err, EINVAL, "pci: MSI-X vector %u control has reserved bits", i);
	return 0;
}

/* The read-only parts (ids, BAR types and sizes, capability layout) must
 * be those of the function hyve built from the same configuration: a
 * snapshot cannot turn a device into another one. */
int pci_func_load(struct pci_func *f, const struct pci_func_state *s, struct hyve_err *err)
{
	uint8_t cfg[PCI_CFG_SIZE];
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	if (memcmp(&s->vendor_id, &f->reset_cfg[PCI_VENDOR_ID], 2) ||
	    memcmp(&s->device_id, &f->reset_cfg[PCI_DEVICE_ID], 2) ||
	    memcmp(&s->class_code, &f->reset_cfg[PCI_CLASS_PROG], 3)) {
		pthread_mutex_unlock(&f->lock);
		return err_set(err, EINVAL, "%s: saved function is %04x:%04x class %06x, not this device", f->name,
			       s->vendor_id, s->device_id, s->class_code);
	}
	memcpy(cfg, f->reset_cfg, sizeof(cfg));
	memcpy(&cfg[PCI_COMMAND], &s->command, 2);
	memcpy(&cfg[PCI_BAR0], s->bars, sizeof(s->bars));
	cfg[PCI_CACHE_LINE_SIZE] = s->cache_line_size;
	cfg[PCI_LATENCY_TIMER] = s->latency_timer;
	cfg[PCI_INTERRUPT_LINE] = s->interrupt_line;
	memcpy(&cfg[PCI_CAP_START], s->caps, sizeof(s->caps));
	for (unsigned r = 0; r < PCI_CFG_SIZE; r++) {
		if (r == PCI_STATUS)
			continue;
		if ((cfg[r] & ~f->wmask[r]) != (f->reset_cfg[r] & ~f->wmask[r])) {
			ret = err_set(err, EINVAL, "%s: config byte 0x%02x is 0x%02x, this device has 0x%02x there",
				      f->name, r, cfg[r], f->reset_cfg[r]);
			break;
		}
	}
	if (!ret) {
		memcpy(f->cfg, cfg, sizeof(cfg));
		memcpy(f->msix_table, s->msix_table, sizeof(f->msix_table));
		memcpy(f->msix_pba, s->msix_pba, sizeof(f->msix_pba));
	}
	pthread_mutex_unlock(&f->lock);
	if (ret)
		return ret;
	pci_intx_set(f, s->intx_level);
	if (f->ops && f->ops->mapping_changed)
		f->ops->mapping_changed(f);
	return 0;
}
