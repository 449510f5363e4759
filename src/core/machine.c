/* The machine: builds a VM from a vm_config (KVM, RAM, vCPUs, devices),
 * runs it, and ends it with one exit status. */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/internal.h"
#include "hyve/evloop.h"
#include "hyve/kvm.h"
#include "hyve/machine.h"
#include "hyve/pci.h"
#include "hyve/timer.h"
#include "hyve/vcpu.h"

#define HALT_PROBE_INTERVAL_NS (250ULL * 1000 * 1000)

void machine_request_exit(struct machine *m, int status, const char *fmt, ...)
{
	int expected = 0;
	va_list ap;

	if (!atomic_compare_exchange_strong(&m->exit_requested, &expected, 1))
		return;
	m->exit_status = status;
	va_start(ap, fmt);
	vsnprintf(m->exit_reason, sizeof(m->exit_reason), fmt, ap);
	va_end(ap);
	/* Wake parked vCPUs so that they leave, and the main loop. */
	pthread_mutex_lock(&m->pause_lock);
	pthread_cond_broadcast(&m->pause_cond);
	pthread_mutex_unlock(&m->pause_lock);
	if (m->loop)
		evloop_stop(m->loop);
}

int machine_irq_set(struct machine *m, unsigned gsi, int level)
{
	return kvm_irq_line(m, gsi, level);
}

int machine_irq_pulse(struct machine *m, unsigned gsi)
{
	int ret = kvm_irq_line(m, gsi, 1);

	return ret ? ret : kvm_irq_line(m, gsi, 0);
}

int machine_add_device(struct machine *m, const char *type_name, unsigned instance,
		       const char *conf, struct device **out, struct hyve_err *err)
{
	const struct device_type *type = device_type_find(type_name);
	struct dev_opts opts = { .conf = conf };
	struct device *dev, **tail;
	int ret;

	if (!type)
		return err_set(err, ENOENT, "no device model named '%s'", type_name);
	if (machine_find_device(m, type_name, instance))
		return err_set(err, EEXIST, "device %s.%u exists already", type_name, instance);
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return err_set(err, ENOMEM, "device %s: out of memory", type_name);
	dev->type = type;
	dev->machine = m;
	dev->instance = instance;
	if (conf)
		snprintf(dev->conf, sizeof(dev->conf), "%s", conf);
	ret = type->create ? type->create(m, dev, &opts, err) : 0;
	if (ret) {
		err_prefix(err, "%s.%u: ", type_name, instance);
		free(dev);
		return ret;
	}
	for (tail = &m->devices; *tail; tail = &(*tail)->next)
		;
	*tail = dev;
	if (out)
		*out = dev;
	return 0;
}

struct device *machine_find_device(struct machine *m, const char *type_name, unsigned instance)
{
	for (struct device *d = m->devices; d; d = d->next)
		if (d->instance == instance && strcmp(d->type->name, type_name) == 0)
			return d;
	return NULL;
}

static int machine_add_builtin_devices(struct machine *m, struct hyve_err *err)
{
	const struct device_type *type;

	for (unsigned i = 0; (type = device_type_at(i)) != NULL; i++) {
		unsigned n = type->builtin_count ? type->builtin_count(m) : 0;

		for (unsigned inst = 0; inst < n; inst++) {
			int ret = machine_add_device(m, type->name, inst, NULL, NULL, err);

			if (ret)
				return ret;
		}
	}
	return 0;
}

static void machine_signal(void *opaque, int fd)
{
	struct machine *m = opaque;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == sizeof(si))
		machine_request_exit(m, HYVE_EXIT_ERROR, "terminated by signal %s", strsignal((int)si.ssi_signo));
}

static int machine_setup_signals(struct machine *m, struct hyve_err *err)
{
	sigset_t set;

	vcpu_loop_init_signals();
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Blocked before any thread exists, so every thread inherits it and
	 * the signals arrive only through the signalfd. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	m->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (m->signal_fd < 0)
		return err_set(err, errno, "signalfd: %s", strerror(errno));
	return evloop_add_fd(m->loop, m->signal_fd, machine_signal, m, err);
}

int machine_create(struct machine *m, const struct vm_config *cfg, struct hyve_err *err)
{
	int ret, max;

	memset(m, 0, sizeof(*m));
	m->kvm_fd = m->vm_fd = m->signal_fd = -1;
	m->mem.fd = -1;
	m->cfg = *cfg;
	pthread_mutex_init(&m->pause_lock, NULL);
	pthread_cond_init(&m->pause_cond, NULL);
	bus_init(&m->pio, "port I/O");
	bus_init(&m->mmio, "MMIO");
	m->loop = evloop_new(err);
	if (!m->loop)
		return -err->code;
	ret = machine_setup_signals(m, err);
	if (ret)
		return ret;
	ret = kvm_open(m, err);
	if (ret)
		return ret;
	max = kvm_max_vcpus(m->kvm_fd);
	if (cfg->nr_vcpus < 1 || cfg->nr_vcpus > HYVE_MAX_VCPUS || (int)cfg->nr_vcpus > max)
		return err_set(err, EINVAL, "%u vCPUs requested; this host's KVM allows 1 to %d (hyve: %d)",
			       cfg->nr_vcpus, max, HYVE_MAX_VCPUS);
	ret = kvm_create_vm(m, err);
	if (ret)
		return ret;
	ret = guest_mem_create(&m->mem, cfg->mem_size, err);
	if (ret)
		return ret;
	ret = kvm_map_memory(m, err);
	if (ret)
		return ret;
	m->nr_vcpus = cfg->nr_vcpus;
	m->vcpus = calloc(m->nr_vcpus, sizeof(*m->vcpus));
	if (!m->vcpus)
		return err_set(err, ENOMEM, "vcpus: out of memory");
	for (unsigned i = 0; i < m->nr_vcpus; i++)
		m->vcpus[i].fd = -1;
	for (unsigned i = 0; i < m->nr_vcpus; i++) {
		ret = vcpu_create(m, i, err);
		if (!ret)
			ret = vcpu_setup_cpuid(&m->vcpus[i], err);
		if (ret)
			return ret;
	}
	ret = machine_add_builtin_devices(m, err);
	return ret ? ret : pci_machine_init(m, err); /* host bridge, then the -s slots */
}

int machine_boot(struct machine *m, struct hyve_err *err)
{
	struct boot_entry entry;
	int ret;

	memset(&entry, 0, sizeof(entry));
	ret = acpi_build(&m->mem, m->nr_vcpus, err);
	if (!ret)
		ret = boot_load_kernel(&m->mem, &m->cfg, &entry, err);
	for (unsigned i = 0; !ret && i < m->nr_vcpus; i++)
		ret = vcpu_setup_boot(&m->vcpus[i], &entry, err);
	for (struct device *d = m->devices; !ret && d; d = d->next)
		if (d->type->reset)
			d->type->reset(d);
	return ret;
}

/* Detects a machine that can never run again: every vCPU halted with
 * interrupts off (or never started).  Such vCPUs make no exits, so a vCPU
 * is only asked (kicked out of KVM_RUN to read its own MP state) after an
 * interval in which no vCPU exited at all. */
static void machine_halt_probe(void *opaque)
{
	struct machine *m = opaque;
	unsigned long exits = 0;
	bool all_dead = true;

	for (unsigned i = 0; i < m->nr_vcpus; i++)
		exits += atomic_load(&m->vcpus[i].nr_exits);
	if (m->pause_depth == 0) {
		if (m->halt_probe_pending) {
			for (unsigned i = 0; i < m->nr_vcpus; i++)
				if (atomic_load(&m->vcpus[i].probe_requested) ||
				    !atomic_load(&m->vcpus[i].probe_dead))
					all_dead = false;
			if (all_dead && exits == m->halt_probe_exits)
				machine_request_exit(m, HYVE_EXIT_HALT, "every vCPU halted with interrupts disabled");
			m->halt_probe_pending = false;
		} else if (exits == m->halt_probe_exits) {
			for (unsigned i = 0; i < m->nr_vcpus; i++) {
				atomic_store(&m->vcpus[i].probe_dead, 0);
				atomic_store(&m->vcpus[i].probe_requested, 1);
				vcpu_kick(&m->vcpus[i]);
			}
			m->halt_probe_pending = true;
		}
	}
	m->halt_probe_exits = exits;
	timer_arm(m->halt_probe, vm_clock_ns(m) + HALT_PROBE_INTERVAL_NS);
}

int machine_run(struct machine *m)
{
	struct hyve_err err = {0};
	int ret;

	m->halt_probe = timer_new(m, machine_halt_probe, m);
	if (m->halt_probe)
		timer_arm(m->halt_probe, vm_clock_ns(m) + HALT_PROBE_INTERVAL_NS);
	/* A machine restored asleep holds its vCPUs before they first run. */
	if (machine_power_start(m, &err))
		machine_request_exit(m, HYVE_EXIT_ERROR, "%s", err.msg);
	pthread_mutex_lock(&m->pause_lock);
	for (unsigned i = 0; i < m->nr_vcpus; i++) {
		struct vcpu *v = &m->vcpus[i];

		if (pthread_create(&v->thread, NULL, vcpu_thread_main, v) != 0) {
			machine_request_exit(m, HYVE_EXIT_ERROR, "cannot start vcpu %u thread", i);
			break;
		}
		v->thread_started = true;
		m->nr_threads++;
	}
	pthread_mutex_unlock(&m->pause_lock);
	ret = atomic_load(&m->exit_requested) ? 0 : evloop_run(m->loop);
	if (ret)
		machine_request_exit(m, HYVE_EXIT_ERROR, "event loop: %s", strerror(-ret));
	for (unsigned i = 0; i < m->nr_vcpus; i++)
		vcpu_kick(&m->vcpus[i]);
	for (unsigned i = 0; i < m->nr_vcpus; i++) {
		if (m->vcpus[i].thread_started) {
			pthread_join(m->vcpus[i].thread, NULL);
			m->vcpus[i].thread_started = false;
		}
	}
	timer_free(m->halt_probe);
	m->halt_probe = NULL;
	machine_power_stop(m);
	return m->exit_status;
}

void machine_destroy(struct machine *m)
{
	struct device *d = m->devices;

	if (!m->loop)
		return; /* machine_create never got far enough to own anything */
	while (d) {
		struct device *next = d->next;

		if (d->type->destroy)
			d->type->destroy(d);
		free(d);
		d = next;
	}
	m->devices = NULL;
	for (unsigned i = 0; m->vcpus && i < m->nr_vcpus; i++)
		vcpu_destroy(&m->vcpus[i]);
	free(m->vcpus);
	m->vcpus = NULL;
	guest_mem_destroy(&m->mem);
	kvm_close(m);
	if (m->signal_fd >= 0)
		close(m->signal_fd);
	evloop_free(m->loop);
	m->loop = NULL;
	pthread_mutex_destroy(&m->pause_lock);
	pthread_cond_destroy(&m->pause_cond);
}
