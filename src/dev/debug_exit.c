/* Debug-exit port 0xf4, as QEMU's isa-debug-exit: a write of V (any width)
 * ends hyve with exit status (V << 1) | 1, so a test guest can report a
 * result that cannot be mistaken for a normal power-off (status 1 only for
 * V = 0) or reboot.  Present only with --debug-exit. */
#include <stdio.h>
#include <stdlib.h>

#include "dev/dev_host.h"
#include "hyve/machine.h"

#define DEBUG_EXIT_PORT 0xf4

struct debug_exit {
	struct machine *m;
};

static void debug_exit_pio(void *opaque, uint64_t offset, uint8_t *data,
			   unsigned len, bool is_write)
{
	struct debug_exit *d = opaque;
	uint64_t v;
	char reason[64];

	/* Reads see the bus's all-ones; only a write starting at the port
	 * itself counts (an `outl` to 0xf5 is not a debug exit). */
	if (!is_write || offset != 0)
		return;
	v = dev_bytes_get(data, len);
	snprintf(reason, sizeof(reason),
		 "guest wrote 0x%llx to the debug-exit port",
		 (unsigned long long)v);
	dev_host->request_exit(d->m, (int)((v << 1) | 1), reason);
}

static int debug_exit_create(struct machine *m, struct device *dev,
			     const struct dev_opts *opts, struct hyve_err *err)
{
	struct debug_exit *d = calloc(1, sizeof(*d));
	int ret;

	(void)opts;
	if (!d)
		return err_set(err, ENOMEM, "debug-exit: out of memory");
	d->m = m;
	/* Four ports so that outw/outl at 0xf4 reach us whole. */
	ret = bus_register(&m->pio, DEBUG_EXIT_PORT, 4, debug_exit_pio, d,
			   "debug-exit", err);
	if (ret < 0) {
		free(d);
		return ret;
	}
	dev->priv = d;
	return 0;
}

static void debug_exit_destroy(struct device *dev)
{
	free(dev->priv);
	dev->priv = NULL;
}

static unsigned debug_exit_builtin_count(const struct machine *m)
{
	return m->cfg.debug_exit ? 1 : 0;
}

/* No state: the port only acts on writes. */
static const struct device_type debug_exit_type = {
    .name = "debug-exit",
    .create = debug_exit_create,
    .destroy = debug_exit_destroy,
    .builtin_count = debug_exit_builtin_count,
};

DEVICE_TYPE_REGISTER(debug_exit_type);
