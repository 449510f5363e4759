/* Interrupt-driven receive on COM1: IRQ 4 through IOAPIC pin 4 (the 8259s
 * masked) to vector 0x24.  Echoes every byte it receives and ends at a
 * newline (or after count=N bytes), reporting bytes and interrupts.
 * Bytes are only ever read in the interrupt handler, so a guest that gets
 * no interrupt never finishes.  With wait=user the CPU waits in a ring-3
 * loop with interrupts on (not hlt in ring 0), so every interrupt arrives
 * in ring 3 and goes through TSS.RSP0 and back. */
#include "guest.h"

#define COM1	 0x3f8
#define UART_IER 1
#define UART_FCR 2
#define UART_MCR 4
#define UART_LSR 5
#define LSR_DR	 0x01
#define IRQ_COM1 4
#define VEC_COM1 0x24

static volatile u64 rx_bytes, rx_irqs, rx_limit;
static volatile bool done;

static volatile u64 user_irqs;

static void com1_irq(struct irq_frame *f)
{
	rx_irqs++;
	if ((f->cs & 3) == 3)
		user_irqs++;
	/* drain the FIFO: the UART drops its interrupt once it is empty */
	while (inb(COM1 + UART_LSR) & LSR_DR) {
		char c = (char)inb(COM1);
		serial_putc(c);
		rx_bytes++;
		if (c == '\n' || rx_bytes == rx_limit)
			done = true;
	}
}

static u64 wait_in_user(u64 arg)
{
	(void)arg;
	while (!done)
		cpu_relax();
	return cpu_ring();
}

int guest_main(void)
{
	char wait[8] = "hlt";

	mb_arg("wait", wait, sizeof(wait));
	rx_limit = mb_arg_u64("count", 0);
	lapic_enable();
	if (ioapic_pins() <= IRQ_COM1)
		guest_fail("the IOAPIC has only %u pins", ioapic_pins());
	irq_register(VEC_COM1, com1_irq);
	ioapic_route(IRQ_COM1, VEC_COM1, lapic_id(), false,
		     false);	     /* ISA: edge, active high */
	outb(COM1 + UART_FCR, 0x07); /* FIFOs on, cleared, RX trigger level 1 */
	outb(COM1 + UART_MCR,
	     0x0B); /* DTR, RTS, OUT2: OUT2 gates the IRQ line on a PC */
	outb(COM1 + UART_IER, 0x01); /* received-data-available interrupt */
	gprintf("uart_rx: ready\n");
	if (!strcmp(wait, "user")) {
		irq_enable();
		u64 ring = run_user(wait_in_user, 0);
		irq_disable();
		if (ring != 3)
			guest_fail("the wait loop ran at CPL %lu", ring);
		if (user_irqs != rx_irqs)
			guest_fail(
			    "%lu of %lu interrupts arrived outside ring 3",
			    rx_irqs - user_irqs, rx_irqs);
	} else {
		while (!done)
			irq_wait();
	}
	outb(COM1 + UART_IER, 0x00);
	gprintf(
	    "\nuart_rx: received %lu bytes in %lu interrupts (%lu in ring 3)\n",
	    rx_bytes, rx_irqs, user_irqs);
	return GUEST_EXIT_PASS;
}
