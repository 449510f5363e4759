/* 16550A UART at COM1 (0x3f8, IRQ 4) and COM2 (0x2f8, IRQ 3).
 *
 * Transmission is instantaneous: a byte written to THR goes straight to the
 * backend (write(2) on the vCPU thread), so THR and the transmitter are
 * always empty (LSR THRE and TEMT stay set) and the TX FIFO never holds
 * anything.  Input is read from the backend on the main thread, at most as
 * many bytes as the RX FIFO has room for; while it is full the backend fd
 * is not watched, so pasted input waits in the host instead of overrunning.
 *
 * Register numbers, bits and interrupt priorities: National Semiconductor
 * PC16550D datasheet, tables II-IV. */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "dev/dev_host.h"
#include "hyve/machine.h"
#include "hyve/uart.h"

#define UART_FIFO_SIZE	  16
#define UART_FILE_POLL_NS 1000000ULL

#define UART_IER_RDI  0x01 /* received data available */
#define UART_IER_THRI 0x02 /* THR empty */
#define UART_IER_RLSI 0x04 /* receiver line status */
#define UART_IER_MSI  0x08 /* modem status */

#define UART_IIR_NONE	 0x01
#define UART_IIR_MSI	 0x00
#define UART_IIR_THRI	 0x02
#define UART_IIR_RDI	 0x04
#define UART_IIR_RLSI	 0x06
#define UART_IIR_TIMEOUT 0x0c
#define UART_IIR_FIFO	 0xc0

#define UART_FCR_ENABLE	  0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_KEPT	  0xc9 /* enable, DMA mode, trigger level */

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR  0x01
#define UART_MCR_RTS  0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR   0x01
#define UART_LSR_OE   0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_DCTS	0x01
#define UART_MSR_DDSR	0x02
#define UART_MSR_TERI	0x04
#define UART_MSR_DDCD	0x08
#define UART_MSR_DELTAS 0x0f
#define UART_MSR_CTS	0x10
#define UART_MSR_DSR	0x20
#define UART_MSR_RI	0x40
#define UART_MSR_DCD	0x80

/* The modelled chip: what a snapshot holds. */
struct uart_state {
	uint8_t rx_fifo[UART_FIFO_SIZE];
	uint8_t rx_head; /* oldest byte */
	uint8_t rx_count;
	uint8_t dll, dlm; /* divisor latch */
	uint8_t ier;
	uint8_t fcr; /* UART_FCR_KEPT bits of the last FCR write */
	uint8_t lcr;
	uint8_t mcr;
	uint8_t lsr_oe; /* overrun seen since LSR was last read */
	uint8_t msr;	/* lines (7:4) and delta bits (3:0) */
	uint8_t scr;
	bool thre_pending; /* THR-empty interrupt not yet acknowledged */
};

static const struct state_field uart_fields[] = {
    FIELD_BYTES(struct uart_state, rx_fifo, 1),
    FIELD_U8(struct uart_state, rx_head, 1),
    FIELD_U8(struct uart_state, rx_count, 1),
    FIELD_U8(struct uart_state, dll, 1),
    FIELD_U8(struct uart_state, dlm, 1),
    FIELD_U8(struct uart_state, ier, 1),
    FIELD_U8(struct uart_state, fcr, 1),
    FIELD_U8(struct uart_state, lcr, 1),
    FIELD_U8(struct uart_state, mcr, 1),
    FIELD_U8(struct uart_state, lsr_oe, 1),
    FIELD_U8(struct uart_state, msr, 1),
    FIELD_U8(struct uart_state, scr, 1),
    FIELD_BOOL(struct uart_state, thre_pending, 1),
    FIELD_END};

static const struct state_desc uart_state_desc =
    STATE_DESC("uart", struct uart_state, 1, uart_fields);

struct uart {
	pthread_mutex_t lock;
	struct machine *m;
	unsigned gsi;
	int out_fd, in_fd; /* -1: none */
	bool close_out;	   /* out_fd is ours (file backend) */
	bool in_watched;
	bool in_eof;
	/* A regular file cannot be watched with epoll (it is always
	 * "readable"): it is polled every UART_FILE_POLL_NS instead. */
	struct hyve_timer *in_poll;
	bool irq_level;
	struct uart_state s;
};

/* --- host terminal (stdio backend) --- */

static struct termios uart_saved_termios;
static volatile int uart_termios_saved;

void uart_restore_terminal(void)
{
	/* tcsetattr is async-signal-safe: callable from a signal handler. */
	if (uart_termios_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &uart_saved_termios);
}

static void uart_raw_terminal(void)
{
	struct termios t;

	if (uart_termios_saved || !isatty(STDIN_FILENO) ||
	    tcgetattr(STDIN_FILENO, &uart_saved_termios) < 0)
		return;
	t = uart_saved_termios;
	cfmakeraw(&t);
	/* Keep Ctrl-C ending hyve and "\n" starting a new line on the host
	 * terminal, as QEMU's stdio serial does; everything else is raw. */
	t.c_lflag |= ISIG;
	t.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) {
		uart_termios_saved = 1;
		atexit(uart_restore_terminal);
	}
}

/* --- registers --- */

static unsigned uart_rx_capacity(const struct uart_state *s)
{
	/* Without FIFOs the receiver holds one character (16450 mode). */
	return (s->fcr & UART_FCR_ENABLE) ? UART_FIFO_SIZE : 1;
}

static unsigned uart_rx_trigger(const struct uart_state *s)
{
	static const unsigned levels[4] = {1, 4, 8, 14};

	return levels[s->fcr >> 6];
}

static uint8_t uart_iir(const struct uart_state *s)
{
	uint8_t fifo = (s->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO : 0;

	if ((s->ier & UART_IER_RLSI) && s->lsr_oe)
		return fifo | UART_IIR_RLSI;
	if ((s->ier & UART_IER_RDI) && s->rx_count) {
		/* Below the trigger level the 16550 reports a character
		 * timeout after four idle character times; input arrives in
		 * host-sized bursts, so the line counts as idle at once. */
		if (fifo && s->rx_count < uart_rx_trigger(s))
			return fifo | UART_IIR_TIMEOUT;
		return fifo | UART_IIR_RDI;
	}
	if ((s->ier & UART_IER_THRI) && s->thre_pending)
		return fifo | UART_IIR_THRI;
	if ((s->ier & UART_IER_MSI) && (s->msr & UART_MSR_DELTAS))
		return fifo | UART_IIR_MSI;
	return fifo | UART_IIR_NONE;
}

static void uart_update_irq(struct uart *u, bool force)
{
	const struct uart_state *s = &u->s;
	/* On a PC, OUT2 enables the IRQ driver; in loopback the OUT pins are
	 * forced inactive (datasheet 8.6), so the IRQ is off as well. */
	bool level = !(uart_iir(s) & UART_IIR_NONE) &&
		     (s->mcr & UART_MCR_OUT2) && !(s->mcr & UART_MCR_LOOP);

	if (level != u->irq_level || force) {
		u->irq_level = level;
		dev_host->irq_set(u->m, u->gsi, level);
	}
}

static void uart_update_msr(struct uart_state *s)
{
	uint8_t lines, old = s->msr & 0xf0, delta = 0;

	if (s->mcr & UART_MCR_LOOP) {
		lines = 0;
		if (s->mcr & UART_MCR_RTS)
			lines |= UART_MSR_CTS;
		if (s->mcr & UART_MCR_DTR)
			lines |= UART_MSR_DSR;
		if (s->mcr & UART_MCR_OUT1)
			lines |= UART_MSR_RI;
		if (s->mcr & UART_MCR_OUT2)
			lines |= UART_MSR_DCD;
	} else {
		/* A backend is always "connected": CTS, DSR and DCD on. */
		lines = UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
	}
	if ((lines ^ old) & UART_MSR_CTS)
		delta |= UART_MSR_DCTS;
	if ((lines ^ old) & UART_MSR_DSR)
		delta |= UART_MSR_DDSR;
	if ((old & UART_MSR_RI) && !(lines & UART_MSR_RI))
		delta |= UART_MSR_TERI;
	if ((lines ^ old) & UART_MSR_DCD)
		delta |= UART_MSR_DDCD;
	s->msr = lines | (s->msr & UART_MSR_DELTAS) | delta;
}

static void uart_input_ready(void *opaque, int fd);
static void uart_input_poll(void *opaque);

/* Watch the backend only while the FIFO has room and the receiver listens
 * to the line (not in loopback). */
static void uart_update_watch(struct uart *u)
{
	bool want = u->in_fd >= 0 && !u->in_eof &&
		    !(u->s.mcr & UART_MCR_LOOP) &&
		    u->s.rx_count < uart_rx_capacity(&u->s);

	if (want == u->in_watched)
		return;
	if (want && u->in_poll) {
		dev_host->timer_arm(u->in_poll, dev_host->clock_ns(u->m) +
						    UART_FILE_POLL_NS);
	} else if (want) {
		int ret = dev_host->watch_fd(u->m, u->in_fd, uart_input_ready,
					     u, NULL);

		if (ret == -EPERM)
			u->in_poll =
			    dev_host->timer_new(u->m, uart_input_poll, u);
		if (u->in_poll)
			dev_host->timer_arm(u->in_poll,
					    dev_host->clock_ns(u->m));
		else if (ret < 0)
			return;
	} else if (u->in_poll) {
		dev_host->timer_disarm(u->in_poll);
	} else {
		dev_host->unwatch_fd(u->m, u->in_fd);
	}
	u->in_watched = want;
}

static void uart_rx_push(struct uart_state *s, uint8_t byte)
{
	if (s->rx_count >= uart_rx_capacity(s)) {
		/* The character in the shift register is lost. */
		s->lsr_oe = 1;
		return;
	}
	s->rx_fifo[(s->rx_head + s->rx_count) % UART_FIFO_SIZE] = byte;
	s->rx_count++;
}

static void uart_rx_clear(struct uart_state *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
}

static void uart_input_ready(void *opaque, int fd)
{
	struct uart *u = opaque;
	uint8_t buf[UART_FIFO_SIZE];
	unsigned room;
	ssize_t n;

	pthread_mutex_lock(&u->lock);
	room = uart_rx_capacity(&u->s) - u->s.rx_count;
	if (room && u->in_watched && fd == u->in_fd) {
		n = read(fd, buf, room);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			u->in_eof = true; /* closed stdin: stop listening */
		for (ssize_t i = 0; i < n; i++)
			uart_rx_push(&u->s, buf[i]);
	}
	uart_update_watch(u);
	uart_update_irq(u, false);
	pthread_mutex_unlock(&u->lock);
}

static void uart_input_poll(void *opaque)
{
	struct uart *u = opaque;

	uart_input_ready(u, u->in_fd);
	pthread_mutex_lock(&u->lock);
	if (u->in_watched)
		dev_host->timer_arm(u->in_poll, dev_host->clock_ns(u->m) +
						    UART_FILE_POLL_NS);
	pthread_mutex_unlock(&u->lock);
}

static void uart_transmit(struct uart *u, uint8_t byte)
{
	if (u->s.mcr & UART_MCR_LOOP) {
		uart_rx_push(&u->s, byte);
	} else if (u->out_fd >= 0) {
		ssize_t n;

		do {
			n = write(u->out_fd, &byte, 1);
		} while (n < 0 && errno == EINTR);
		/* A failing backend drops the byte, as a disconnected line. */
	}
	u->s.thre_pending = true;
}

static uint8_t uart_read(struct uart *u, unsigned reg)
{
	struct uart_state *s = &u->s;
	uint8_t v = 0;

	switch (reg) {
	case 0:
		if (s->lcr & UART_LCR_DLAB)
			return s->dll;
		if (s->rx_count) {
			v = s->rx_fifo[s->rx_head];
			s->rx_head = (s->rx_head + 1) % UART_FIFO_SIZE;
			s->rx_count--;
		}
		return v;
	case 1:
		return (s->lcr & UART_LCR_DLAB) ? s->dlm : s->ier;
	case 2:
		v = uart_iir(s);
		/* Reading IIR while it reports THR empty acknowledges it. */
		if ((v & 0x0f) == UART_IIR_THRI)
			s->thre_pending = false;
		return v;
	case 3:
		return s->lcr;
	case 4:
		return s->mcr;
	case 5:
		v = UART_LSR_THRE | UART_LSR_TEMT;
		if (s->rx_count)
			v |= UART_LSR_DR;
		if (s->lsr_oe)
			v |= UART_LSR_OE;
		s->lsr_oe = 0;
		return v;
	case 6:
		v = s->msr;
		s->msr &= ~UART_MSR_DELTAS;
		return v;
	default:
		return s->scr;
	}
}

static void uart_write(struct uart *u, unsigned reg, uint8_t v)
{
	struct uart_state *s = &u->s;

	switch (reg) {
	case 0:
		if (s->lcr & UART_LCR_DLAB)
			s->dll = v;
		else
			uart_transmit(u, v);
		break;
	case 1:
		if (s->lcr & UART_LCR_DLAB) {
			s->dlm = v;
			break;
		}
		/* Enabling the THRE interrupt while THR is empty raises it. */
		if ((v & UART_IER_THRI) && !(s->ier & UART_IER_THRI))
			s->thre_pending = true;
		s->ier = v & 0x0f;
		break;
	case 2:
		/* Changing FIFO enable clears both FIFOs; the other bits are
		 * only written together with FIFO enable (datasheet 8.5). */
		if ((v ^ s->fcr) & UART_FCR_ENABLE)
			uart_rx_clear(s);
		if (v & UART_FCR_ENABLE) {
			if (v & UART_FCR_CLEAR_RX)
				uart_rx_clear(s);
			s->fcr = v & UART_FCR_KEPT;
		} else {
			s->fcr = 0;
		}
		break;
	case 3:
		s->lcr = v;
		break;
	case 4:
		s->mcr = v & 0x1f;
		uart_update_msr(s);
		break;
	case 7:
		s->scr = v;
		break;
	default:
		break; /* LSR and MSR: factory test writes, ignored */
	}
}

static void uart_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
		     bool is_write)
{
	struct uart *u = opaque;

	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < len && offset + i < 8; i++) {
		if (is_write)
			uart_write(u, (unsigned)offset + i, data[i]);
		else
			data[i] = uart_read(u, (unsigned)offset + i);
	}
	uart_update_watch(u);
	uart_update_irq(u, false);
	pthread_mutex_unlock(&u->lock);
}

/* --- lifecycle --- */

static void uart_reset_state(struct uart_state *s)
{
	memset(s, 0, sizeof(*s));
	s->dll = 12; /* 9600 baud: what a PC BIOS leaves */
	uart_update_msr(s);
	s->msr &= ~UART_MSR_DELTAS;
}

static void uart_reset(struct device *dev)
{
	struct uart *u = dev->priv;

	pthread_mutex_lock(&u->lock);
	uart_reset_state(&u->s);
	uart_update_watch(u);
	uart_update_irq(u, true);
	pthread_mutex_unlock(&u->lock);
}

static int uart_open_backend(struct uart *u, const struct machine *m,
			     unsigned instance, struct hyve_err *err)
{
	const struct serial_config *c = &m->cfg.com[instance];

	switch (c->backend) {
	case SERIAL_STDIO:
		u->out_fd = STDOUT_FILENO;
		/* One reader of stdin: COM2 on stdio only listens if COM1
		 * does not. */
		if (instance == 0 || m->cfg.com[0].backend != SERIAL_STDIO) {
			u->in_fd = STDIN_FILENO;
			uart_raw_terminal();
		}
		return 0;
	case SERIAL_FILE:
		u->out_fd = open(
		    c->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (u->out_fd < 0)
			return err_set(err, errno, "com%u: cannot open %s: %s",
				       instance + 1, c->path, strerror(errno));
		u->close_out = true;
		return 0;
	default:
		return 0;
	}
}

static void uart_destroy(struct device *dev)
{
	struct uart *u = dev->priv;

	if (!u)
		return;
	if (u->in_poll)
		dev_host->timer_free(u->in_poll);
	else if (u->in_watched)
		dev_host->unwatch_fd(u->m, u->in_fd);
	if (u->close_out)
		close(u->out_fd);
	pthread_mutex_destroy(&u->lock);
	free(u);
	dev->priv = NULL;
}

static int uart_create(struct machine *m, struct device *dev,
		       const struct dev_opts *opts, struct hyve_err *err)
{
	static const char *const names[] = {"com1", "com2"};
	static const uint16_t bases[] = {0x3f8, 0x2f8};
	static const uint8_t irqs[] = {4, 3};
	struct uart *u;
	int ret;

	(void)opts;
	if (dev->instance >= HYVE_NR_COM)
		return err_set(err, EINVAL, "uart: no COM port %u",
			       dev->instance + 1);
	u = calloc(1, sizeof(*u));
	if (!u)
		return err_set(err, ENOMEM, "uart: out of memory");
	pthread_mutex_init(&u->lock, NULL);
	u->m = m;
	u->gsi = irqs[dev->instance];
	u->out_fd = u->in_fd = -1;
	dev->priv = u;
	ret = uart_open_backend(u, m, dev->instance, err);
	if (ret < 0)
		goto out_free;
	ret = bus_register(&m->pio, bases[dev->instance], 8, uart_pio, u,
			   names[dev->instance], err);
	if (ret < 0)
		goto out_free;
	uart_reset_state(&u->s);
	uart_update_watch(u);
	return 0;
out_free:
	uart_destroy(dev);
	return ret;
}

static int uart_save(struct device *dev, void *state, struct hyve_err *err)
{
	struct uart *u = dev->priv;

	(void)err;
	pthread_mutex_lock(&u->lock);
	memcpy(state, &u->s, sizeof(u->s));
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static int uart_check(const void *staged, struct hyve_err *err)
{
	const struct uart_state *s = staged;

	if (s->rx_head >= UART_FIFO_SIZE || s->rx_count > uart_rx_capacity(s))
		return err_set(err, EINVAL,
			       "uart: RX FIFO head %u count %u out of range",
			       s->rx_head, s->rx_count);
	if (s->ier & ~0x0f || s->mcr & ~0x1f || s->fcr & ~UART_FCR_KEPT ||
	    s->lsr_oe > 1)
		return err_set(
		    err, EINVAL,
		    "uart: reserved bits set (IER 0x%x MCR 0x%x FCR 0x%x)",
		    s->ier, s->mcr, s->fcr);
	return 0;
}

static int uart_load(struct device *dev, const void *staged,
		     struct hyve_err *err)
{
	struct uart *u = dev->priv;

	(void)err;
	pthread_mutex_lock(&u->lock);
	memcpy(&u->s, staged, sizeof(u->s));
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static int uart_post_load(struct device *dev, struct hyve_err *err)
{
	struct uart *u = dev->priv;

	(void)err;
	pthread_mutex_lock(&u->lock);
	uart_update_watch(u);
	uart_update_irq(u, true);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static unsigned uart_builtin_count(const struct machine *m)
{
	(void)m;
	return HYVE_NR_COM;
}

static const struct device_type uart_type = {
    .name = "uart",
    .create = uart_create,
    .destroy = uart_destroy,
    .reset = uart_reset,
    .state = &uart_state_desc,
    .save = uart_save,
    .check = uart_check,
    .load = uart_load,
    .post_load = uart_post_load,
    .builtin_count = uart_builtin_count,
};

DEVICE_TYPE_REGISTER(uart_type);
