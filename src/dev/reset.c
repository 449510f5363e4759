/* The chipset's Reset Control register at port 0xCF9 (the FADT's
 * RESET_REG): one of the two ways a PC guest resets itself; the other is
 * the 8042's pulse command (src/dev/i8042.c). */
#include <stdlib.h>
#include <string.h>

#include "dev/dev_host.h"
#include "hyve/machine.h"

#define RESET_CF9_PORT	   0xcf9
#define RESET_CF9_SYS_RST  0x02
#define RESET_CF9_RST_CPU  0x04
#define RESET_CF9_FULL_RST 0x08

/* --- Reset Control register (Intel ICH/PCH datasheets: RST_CNT) --- */

struct reset_cf9_state {
	uint8_t value; /* SYS_RST and FULL_RST; RST_CPU is a trigger */
};

static const struct state_field reset_cf9_fields[] = {
    FIELD_U8(struct reset_cf9_state, value, 1), FIELD_END};

static const struct state_desc reset_cf9_desc =
    STATE_DESC("reset-control", struct reset_cf9_state, 1, reset_cf9_fields);

struct reset_cf9 {
	pthread_mutex_t lock;
	struct machine *m;
	struct reset_cf9_state s;
};

static void reset_cf9_pio(void *opaque, uint64_t offset, uint8_t *data,
			  unsigned len, bool is_write)
{
	struct reset_cf9 *r = opaque;

	(void)offset;
	(void)len;
	pthread_mutex_lock(&r->lock);
	if (!is_write) {
		data[0] = r->s.value;
	} else {
		r->s.value = data[0] & (RESET_CF9_SYS_RST | RESET_CF9_FULL_RST);
		/* RST_CPU going to 1 starts the reset; a guest only sets it
		 * to reset, so any write with it set counts. */
		if (data[0] & RESET_CF9_RST_CPU)
			dev_host->request_exit(r->m, HYVE_EXIT_REBOOT,
					       "guest reset (port 0xcf9)");
	}
	pthread_mutex_unlock(&r->lock);
}

static int reset_cf9_create(struct machine *m, struct device *dev,
			    const struct dev_opts *opts, struct hyve_err *err)
{
	struct reset_cf9 *r = calloc(1, sizeof(*r));
	int ret;

	(void)opts;
	if (!r)
		return err_set(err, ENOMEM, "reset-control: out of memory");
	pthread_mutex_init(&r->lock, NULL);
	r->m = m;
	ret = bus_register(&m->pio, RESET_CF9_PORT, 1, reset_cf9_pio, r,
			   "reset-control", err);
	if (ret < 0) {
		pthread_mutex_destroy(&r->lock);
		free(r);
		return ret;
	}
	dev->priv = r;
	return 0;
}

static void reset_cf9_destroy(struct device *dev)
{
	struct reset_cf9 *r = dev->priv;

	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
	dev->priv = NULL;
}

static void reset_cf9_reset(struct device *dev)
{
	struct reset_cf9 *r = dev->priv;

	pthread_mutex_lock(&r->lock);
	r->s.value = 0;
	pthread_mutex_unlock(&r->lock);
}

static int reset_cf9_save(struct device *dev, void *state, struct hyve_err *err)
{
	struct reset_cf9 *r = dev->priv;

	(void)err;
	pthread_mutex_lock(&r->lock);
	memcpy(state, &r->s, sizeof(r->s));
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static int reset_cf9_check(const void *staged, struct hyve_err *err)
{
	const struct reset_cf9_state *s = staged;

	if (s->value & ~(RESET_CF9_SYS_RST | RESET_CF9_FULL_RST))
		return err_set(err, EINVAL,
			       "reset-control: value 0x%x has reserved bits",
			       s->value);
	return 0;
}

static int reset_cf9_load(struct device *dev, const void *staged,
			  struct hyve_err *err)
{
	struct reset_cf9 *r = dev->priv;

	(void)err;
	pthread_mutex_lock(&r->lock);
	memcpy(&r->s, staged, sizeof(r->s));
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static unsigned reset_builtin_one(const struct machine *m)
{
	(void)m;
	return 1;
}

static const struct device_type reset_cf9_type = {
    .name = "reset-control",
    .create = reset_cf9_create,
    .destroy = reset_cf9_destroy,
    .reset = reset_cf9_reset,
    .state = &reset_cf9_desc,
    .save = reset_cf9_save,
    .check = reset_cf9_check,
    .load = reset_cf9_load,
    .builtin_count = reset_builtin_one,
};

DEVICE_TYPE_REGISTER(reset_cf9_type);
