/* COM1 output (polled: wait for THR empty, LSR bit 5, 16550A datasheet),
 * a small printf, and the debug-exit port. */
#include "guest.h"

#define COM1		0x3f8
#define UART_LSR	5
#define LSR_THRE	0x20
#define DEBUG_EXIT_PORT 0xf4

static spinlock_t console_lock;

void serial_init(void)
{
	outb(COM1 + 1, 0x00); /* IER: no interrupts */
	outb(COM1 + 3, 0x80); /* LCR: DLAB to reach the divisor */
	outb(COM1 + 0, 0x01); /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8N1 */
	outb(COM1 + 2, 0x07); /* FCR: FIFOs on and cleared, RX trigger 1 */
	outb(COM1 + 4, 0x03); /* MCR: DTR, RTS; OUT2 (IRQ gate) off */
}

void serial_putc(char c)
{
	while (!(inb(COM1 + UART_LSR) & LSR_THRE))
		cpu_relax();
	outb(COM1, (u8)c);
}

/* The lock keeps lines from different CPUs apart.  A CPU that faults while
 * printing must still report, so the fatal path gives up waiting. */
static void console_write_ring0(const char *s, size_t len, bool fatal)
{
	unsigned tries = 0;

	while (__atomic_exchange_n(&console_lock.v, 1, __ATOMIC_ACQUIRE)) {
		if (fatal && ++tries > 100000)
			break;
		cpu_relax();
	}
	while (len--)
		serial_putc(*s++);
	spin_unlock(&console_lock);
}

void console_write(const char *s, size_t len)
{
	if (cpu_ring() == 0)
		console_write_ring0(s, len, false);
	else
		user_request(UREQ_PUTS, (u64)s, len, 0);
}

void gputs(const char *s)
{
	console_write(s, strlen(s));
}

struct fmt_out {
	char *buf;
	size_t size, len;
};

static void fmt_putc(struct fmt_out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void fmt_number(struct fmt_out *o, u64 v, unsigned base, bool upper,
		       bool negative, int width, char pad)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	if (negative)
		width--;
	if (negative && pad == '0')
		fmt_putc(o, '-');
	for (; width > n; width--)
		fmt_putc(o, pad);
	if (negative && pad != '0')
		fmt_putc(o, '-');
	while (n)
		fmt_putc(o, tmp[--n]);
}

/* %[0#][width][l|ll|z](d|i|u|x|X|c|s|p|%) */
int gvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct fmt_out o = {buf, size, 0};

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			fmt_putc(&o, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, lng = 0;
		bool alt = false;
		for (;; fmt++) {
			if (*fmt == '0')
				pad = '0';
			else if (*fmt == '#')
				alt = true;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z')
			lng++, fmt++;
		switch (*fmt) {
		case 'd':
		case 'i': {
			long long v =
			    lng ? va_arg(ap, long long) : va_arg(ap, int);
			fmt_number(&o, v < 0 ? -(u64)v : (u64)v, 10, false,
				   v < 0, width, pad);
			break;
		}
		case 'u':
			fmt_number(&o,
				   lng ? va_arg(ap, u64) : va_arg(ap, unsigned),
				   10, false, false, width, pad);
			break;
		case 'x':
		case 'X':
			if (alt) {
				fmt_putc(&o, '0');
				fmt_putc(&o, 'x');
			}
			fmt_number(&o,
				   lng ? va_arg(ap, u64) : va_arg(ap, unsigned),
				   16, *fmt == 'X', false, width, pad);
			break;
		case 'p':
			fmt_putc(&o, '0');
			fmt_putc(&o, 'x');
			fmt_number(&o, (u64)va_arg(ap, void *), 16, false,
				   false, width, pad);
			break;
		case 'c':
			fmt_putc(&o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int n = (int)strlen(s);
			for (; width > n; width--)
				fmt_putc(&o, ' ');
			while (*s)
				fmt_putc(&o, *s++);
			break;
		}
		case '%':
			fmt_putc(&o, '%');
			break;
		case '\0':
			fmt--;
			break;
		default:
			fmt_putc(&o, '%');
			fmt_putc(&o, *fmt);
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int gsnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = gvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void gprintf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = gvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	console_write(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Used by the exception path: no lock wait beyond a bound. */
void console_fatal(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = gvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	console_write_ring0(
	    buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1, true);
}

void exit_guest(u32 v)
{
	if (cpu_ring() != 0)
		user_request(UREQ_EXIT, v, 0, 0);
	outl(DEBUG_EXIT_PORT, v);
	for (;;)
		__asm__ volatile("cli; hlt");
}

void guest_fail(const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	gvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	gprintf("FAIL: guest: %s\n", buf);
	exit_guest(GUEST_EXIT_FAIL);
}
