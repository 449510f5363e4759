/* The 8042 keyboard controller: its "pulse output port" command 0xFE at
 * port 0x64 resets the machine (the other reset path is port 0xCF9,
 * src/dev/reset.c).
 *
 * A controller without keyboard or mouse behind it: its own commands
 * answer as an IBM PC/AT controller does (self-test 0xAA gives 0x55,
 * interface tests pass, the command byte reads back), so Linux's i8042
 * probe finishes at once; a byte sent to either device comes back as 0xFE
 * with the time-out status bit, which is what a controller reports when
 * nothing answers on the line. */
#include <stdlib.h>
#include <string.h>

#include "dev/dev_host.h"
#include "hyve/machine.h"

/* --- 8042 keyboard controller (IBM PC/AT Technical Reference, 8042) --- */

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT	0x64

#define I8042_STR_OBF	  0x01
#define I8042_STR_SYS	  0x04
#define I8042_STR_CMD	  0x08 /* last write went to the command port */
#define I8042_STR_INH	  0x10 /* keyboard not inhibited */
#define I8042_STR_AUXOBF  0x20
#define I8042_STR_TIMEOUT 0x40
#define I8042_STR_KEPT	  (I8042_STR_SYS | I8042_STR_CMD | I8042_STR_TIMEOUT)

#define I8042_CTR_KBDINT 0x01
#define I8042_CTR_AUXINT 0x02
#define I8042_CTR_KBDDIS 0x10
#define I8042_CTR_AUXDIS 0x20

#define I8042_OUT_RESET 0x01 /* system reset line, active low */
#define I8042_OUT_A20	0x02

enum i8042_source {
	I8042_EMPTY = 0,
	I8042_FROM_CTRL,
	I8042_FROM_KBD,
	I8042_FROM_AUX
};

struct i8042_state {
	uint8_t status; /* I8042_STR_KEPT bits; the rest is derived */
	uint8_t ctr;	/* controller command byte (internal RAM 0) */
	uint8_t outport;
	uint8_t pending; /* command waiting for its data byte, 0 if none */
	uint8_t out_byte;
	uint8_t out_source; /* enum i8042_source */
};

static const struct state_field i8042_fields[] = {
    FIELD_U8(struct i8042_state, status, 1),
    FIELD_U8(struct i8042_state, ctr, 1),
    FIELD_U8(struct i8042_state, outport, 1),
    FIELD_U8(struct i8042_state, pending, 1),
    FIELD_U8(struct i8042_state, out_byte, 1),
    FIELD_U8(struct i8042_state, out_source, 1),
    FIELD_END};

static const struct state_desc i8042_desc =
    STATE_DESC("i8042", struct i8042_state, 1, i8042_fields);

struct i8042 {
	pthread_mutex_t lock;
	struct machine *m;
	bool irq1, irq12;
	struct i8042_state s;
};

static void i8042_update_irq(struct i8042 *k, bool force)
{
	bool irq1 =
	    k->s.out_source == I8042_FROM_KBD && (k->s.ctr & I8042_CTR_KBDINT);
	bool irq12 =
	    k->s.out_source == I8042_FROM_AUX && (k->s.ctr & I8042_CTR_AUXINT);

	if (irq1 != k->irq1 || force)
		dev_host->irq_set(k->m, 1, irq1);
	if (irq12 != k->irq12 || force)
		dev_host->irq_set(k->m, 12, irq12);
	k->irq1 = irq1;
	k->irq12 = irq12;
}

static void i8042_output(struct i8042 *k, uint8_t byte, enum i8042_source src)
{
	k->s.out_byte = byte;
	k->s.out_source = src;
}

/* A byte sent to the keyboard or the mouse: nobody answers. */
static void i8042_device_write(struct i8042 *k, enum i8042_source dev)
{
	k->s.status |= I8042_STR_TIMEOUT;
	i8042_output(k, 0xfe, dev);
}

static void i8042_reset_line(struct i8042 *k)
{
	dev_host->request_exit(k->m, HYVE_EXIT_REBOOT, "guest reset (8042)");
}

static void i8042_command(struct i8042 *k, uint8_t cmd)
{
	struct i8042_state *s = &k->s;

	s->pending = 0;
	if (cmd >= 0x20 && cmd <= 0x3f) { /* read internal RAM */
		i8042_output(k, cmd == 0x20 ? s->ctr : 0, I8042_FROM_CTRL);
		return;
	}
	if ((cmd >= 0x60 && cmd <= 0x7f) || cmd == 0xd1 || cmd == 0xd2 ||
	    cmd == 0xd3 || cmd == 0xd4) {
		s->pending = cmd;
		return;
	}
	if (cmd >= 0xf0) {
		/* Pulse the output port bits whose mask bit is 0: bit 0 is
		 * the reset line (0xFE: the classic reboot). */
		if (!(cmd & 1))
			i8042_reset_line(k);
		return;
	}
	switch (cmd) {
	case 0xa7:
		s->ctr |= I8042_CTR_AUXDIS;
		break;
	case 0xa8:
		s->ctr &= ~I8042_CTR_AUXDIS;
		break;
	case 0xa9: /* aux interface test: lines OK */
	case 0xab: /* keyboard interface test: lines OK */
		i8042_output(k, 0x00, I8042_FROM_CTRL);
		break;
	case 0xaa: /* self-test passed; sets the system flag */
		s->status |= I8042_STR_SYS;
		i8042_output(k, 0x55, I8042_FROM_CTRL);
		break;
	case 0xad:
		s->ctr |= I8042_CTR_KBDDIS;
		break;
	case 0xae:
		s->ctr &= ~I8042_CTR_KBDDIS;
		break;
	case 0xc0: /* input port: keyboard not locked */
		i8042_output(k, 0x80, I8042_FROM_CTRL);
		break;
	case 0xd0:
		i8042_output(k, s->outport, I8042_FROM_CTRL);
		break;
	default:
		break; /* other commands do nothing here */
	}
}

static void i8042_data(struct i8042 *k, uint8_t v)
{
	struct i8042_state *s = &k->s;
	uint8_t cmd = s->pending;

	s->pending = 0;
	s->status &= ~I8042_STR_TIMEOUT;
	if (cmd == 0x60) {
		s->ctr = v;
	} else if (cmd > 0x60 && cmd <= 0x7f) {
		/* internal RAM beyond the command byte: not kept */
	} else if (cmd == 0xd1) {
		s->outport = v;
		if (!(v & I8042_OUT_RESET))
			i8042_reset_line(k);
	} else if (cmd == 0xd2) {
		i8042_output(k, v, I8042_FROM_KBD);
	} else if (cmd == 0xd3) {
		i8042_output(k, v, I8042_FROM_AUX);
	} else if (cmd == 0xd4) {
		i8042_device_write(k, I8042_FROM_AUX);
	} else {
		i8042_device_write(k, I8042_FROM_KBD);
	}
}

static uint8_t i8042_status(const struct i8042_state *s)
{
	uint8_t v = (s->status & I8042_STR_KEPT) | I8042_STR_INH;

	if (s->out_source != I8042_EMPTY)
		v |= I8042_STR_OBF;
	if (s->out_source == I8042_FROM_AUX)
		v |= I8042_STR_AUXOBF;
	return v;
}

static void i8042_data_pio(void *opaque, uint64_t offset, uint8_t *data,
			   unsigned len, bool is_write)
{
	struct i8042 *k = opaque;

	(void)offset;
	(void)len;
	pthread_mutex_lock(&k->lock);
	if (is_write) {
		k->s.status &= ~I8042_STR_CMD;
		i8042_data(k, data[0]);
	} else {
		/* An empty buffer reads as the last byte, as on hardware. */
		data[0] = k->s.out_byte;
		k->s.out_source = I8042_EMPTY;
	}
	i8042_update_irq(k, false);
	pthread_mutex_unlock(&k->lock);
}

static void i8042_cmd_pio(void *opaque, uint64_t offset, uint8_t *data,
			  unsigned len, bool is_write)
{
	struct i8042 *k = opaque;

	(void)offset;
	(void)len;
	pthread_mutex_lock(&k->lock);
	if (is_write) {
		k->s.status |= I8042_STR_CMD;
		i8042_command(k, data[0]);
	} else {
		data[0] = i8042_status(&k->s);
	}
	i8042_update_irq(k, false);
	pthread_mutex_unlock(&k->lock);
}

static void i8042_reset_state(struct i8042_state *s)
{
	memset(s, 0, sizeof(*s));
	/* As a BIOS leaves it: POST done (system flag), keyboard interrupt
	 * on, scan-code translation on, A20 enabled, reset line high. */
	s->status = I8042_STR_SYS;
	s->ctr = 0x45;
	s->outport = I8042_OUT_RESET | I8042_OUT_A20;
}

static void i8042_reset(struct device *dev)
{
	struct i8042 *k = dev->priv;

	pthread_mutex_lock(&k->lock);
	i8042_reset_state(&k->s);
	i8042_update_irq(k, true);
	pthread_mutex_unlock(&k->lock);
}

static void i8042_destroy(struct device *dev)
{
	struct i8042 *k = dev->priv;

	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
	dev->priv = NULL;
}

static int i8042_create(struct machine *m, struct device *dev,
			const struct dev_opts *opts, struct hyve_err *err)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	int ret;

	(void)opts;
	if (!k)
		return err_set(err, ENOMEM, "i8042: out of memory");
	pthread_mutex_init(&k->lock, NULL);
	k->m = m;
	dev->priv = k;
	i8042_reset_state(&k->s);
	ret = bus_register(&m->pio, I8042_DATA_PORT, 1, i8042_data_pio, k,
			   "i8042", err);
	if (ret == 0)
		ret = bus_register(&m->pio, I8042_CMD_PORT, 1, i8042_cmd_pio, k,
				   "i8042", err);
	if (ret < 0)
		i8042_destroy(dev);
	return ret;
}

static int i8042_save(struct device *dev, void *state, struct hyve_err *err)
{
	struct i8042 *k = dev->priv;

	(void)err;
	pthread_mutex_lock(&k->lock);
	memcpy(state, &k->s, sizeof(k->s));
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static int i8042_check(const void *staged, struct hyve_err *err)
{
	const struct i8042_state *s = staged;

	if (s->out_source > I8042_FROM_AUX || (s->status & ~I8042_STR_KEPT))
		return err_set(
		    err, EINVAL,
		    "i8042: output source %u or status 0x%x out of range",
		    s->out_source, s->status);
	return 0;
}

static int i8042_load(struct device *dev, const void *staged,
		      struct hyve_err *err)
{
	struct i8042 *k = dev->priv;

	(void)err;
	pthread_mutex_lock(&k->lock);
	memcpy(&k->s, staged, sizeof(k->s));
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static int i8042_post_load(struct device *dev, struct hyve_err *err)
{
	struct i8042 *k = dev->priv;

	(void)err;
	pthread_mutex_lock(&k->lock);
	i8042_update_irq(k, true);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static unsigned i8042_builtin_one(const struct machine *m)
{
	(void)m;
	return 1;
}

static const struct device_type i8042_type = {
    .name = "i8042",
    .create = i8042_create,
    .destroy = i8042_destroy,
    .reset = i8042_reset,
    .state = &i8042_desc,
    .save = i8042_save,
    .check = i8042_check,
    .load = i8042_load,
    .post_load = i8042_post_load,
    .builtin_count = i8042_builtin_one,
};

DEVICE_TYPE_REGISTER(i8042_type);
