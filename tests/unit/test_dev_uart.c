/* 16550A UART model (src/dev/uart.c) without KVM: registers through the
 * real bus, interrupt lines and fd watches through the fakes. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "dev_fake.h"

#define COM1 0x3f8
#define COM2 0x2f8
#define RBR  0
#define IER  1
#define IIR  2
#define FCR  2
#define LCR  3
#define MCR  4
#define LSR  5
#define MSR  6
#define SCR  7

static struct machine m;

static struct device *uart_setup(void)
{
	fake_machine_init(&m, 64 << 20);
	return fake_add(&m, "uart", 0);
}

static void test_uart_reset_values(void)
{
	CHECK(uart_setup() != NULL);
	CHECK_EQ(pio_read(&m, COM1 + IIR, 1), 0x01);
	CHECK_EQ(pio_read(&m, COM1 + LSR, 1), 0x60); /* THRE | TEMT */
	CHECK_EQ(pio_read(&m, COM1 + LCR, 1), 0x00);
	CHECK_EQ(pio_read(&m, COM1 + MSR, 1),
		 0xb0); /* CTS DSR DCD, no deltas */
	CHECK_EQ(pio_read(&m, COM1 + IER, 1), 0x00);
	fake_machine_destroy(&m);
}

static void test_uart_divisor_latch_and_scratch(void)
{
	CHECK(uart_setup() != NULL);
	pio_write(&m, COM1 + IER, 0x05, 1);
	pio_write(&m, COM1 + LCR, 0x83, 1);
	pio_write(&m, COM1 + RBR, 0x01, 1);
	pio_write(&m, COM1 + IER, 0x02, 1);
	CHECK_EQ(pio_read(&m, COM1 + RBR, 1), 0x01);
	CHECK_EQ(pio_read(&m, COM1 + IER, 1), 0x02);
	pio_write(&m, COM1 + LCR, 0x03, 1);
	CHECK_EQ(pio_read(&m, COM1 + IER, 1), 0x05); /* IER kept apart */
	CHECK_EQ(pio_read(&m, COM1 + LCR, 1), 0x03);
	pio_write(&m, COM1 + SCR, 0x5a, 1);
	CHECK_EQ(pio_read(&m, COM1 + SCR, 1), 0x5a);
	/* A 16-bit write at the base reaches DLL and DLM as two bytes. */
	pio_write(&m, COM1 + LCR, 0x80, 1);
	pio_write(&m, COM1 + RBR, 0x3412, 2);
	CHECK_EQ(pio_read(&m, COM1 + RBR, 2), 0x3412);
	fake_machine_destroy(&m);
}

static void test_uart_loopback_fifo_and_overrun(void)
{
	CHECK(uart_setup() != NULL);
	pio_write(&m, COM1 + FCR, 0x07,
		  1); /* FIFOs on and cleared, trigger 1 */
	CHECK_EQ(pio_read(&m, COM1 + IIR, 1), 0xc1);
	pio_write(&m, COM1 + MCR, 0x10, 1);
	for (unsigned i = 0; i < 17; i++)
		pio_write(&m, COM1 + RBR, 'a' + i, 1);
	CHECK_EQ(pio_read(&m, COM1 + LSR, 1), 0x63); /* DR | OE | THRE | TEMT */
	CHECK_EQ(pio_read(&m, COM1 + LSR, 1),
		 0x61); /* OE cleared by the read */
	for (unsigned i = 0; i < 16; i++)
		CHECK_EQ(pio_read(&m, COM1 + RBR, 1), 'a' + i);
	CHECK_EQ(pio_read(&m, COM1 + LSR, 1), 0x60);
	/* Without FIFOs the receiver holds one character. */
	pio_write(&m, COM1 + FCR, 0x00, 1);
	pio_write(&m, COM1 + RBR, 'x', 1);
	pio_write(&m, COM1 + RBR, 'y', 1);
	CHECK_EQ(pio_read(&m, COM1 + LSR, 1), 0x63);
	CHECK_EQ(pio_read(&m, COM1 + RBR, 1), 'x');
	CHECK_EQ(pio_read(&m, COM1 + IIR, 1), 0x01);
	fake_machine_destroy(&m);
}

static void test_uart_loopback_modem_lines(void)
{
	CHECK(uart_setup() != NULL);
	pio_write(&m, COM1 + MCR, 0x10, 1);
	/* Entering loopback drops CTS/DSR/DCD: delta bits for each. */
	CHECK_EQ(pio_read(&m, COM1 + MSR, 1), 0x0b);
	CHECK_EQ(pio_read(&m, COM1 + MSR, 1), 0x00);
	pio_write(&m, COM1 + MCR, 0x1f, 1);
	CHECK_EQ(pio_read(&m, COM1 + MSR, 1), 0xfb);
	pio_write(&m, COM1 + MCR, 0x1b, 1); /* OUT1 off: RI trailing edge */
	CHECK_EQ(pio_read(&m, COM1 + MSR, 1), 0xb4);
	fake_machine_destroy(&m);
}

static void test_uart_interrupts_priority_and_out2_gate(void)
{
	CHECK(uart_setup() != NULL);
	pio_write(&m, COM1 + IER, 0x02, 1);
	CHECK_EQ(fake.irq[4], 0); /* OUT2 off: the PC's IRQ driver is off */
	CHECK_EQ(pio_read(&m, COM1 + IIR, 1), 0x02);
	CHECK_EQ(pio_read(&m, COM1 + IIR, 1), 0x01); /* read acknowledged it */
	pio_write(&m, COM1 + MCR, 0x08, 1);
	pio_write(&m, COM1 + RBR, 'z', 1); /* THR empties at once */
	CHECK_EQ(fake.irq[4], 1);
	CHECK_EQ(pio_read(&m, COM1 + IIR, 1), 0x02);
	CHECK_EQ(fake.irq[4], 0);
	/* Line status outranks received data, which outranks THRE. */
	pio_write(&m, COM1 + FCR, 0xc1, 1); /* trigger 14 */
	pio_write(&m, COM1 + IER, 0x0f, 1);
	pio_write(&m, COM1 + MCR, 0x18, 1);
	for (unsigned i = 0; i < 17; i++)
		pio_write(&m, COM1 + RBR, i, 1);
	CHECK_EQ(pio_read(&m, COM1 + IIR, 1), 0xc6);
	pio_read(&m, COM1 + LSR, 1);
	CHECK_EQ(pio_read(&m, COM1 + IIR, 1), 0xc4); /* 16 >= trigger 14 */
	for (unsigned i = 0; i < 10; i++)
		pio_read(&m, COM1 + RBR, 1);
	CHECK_EQ(pio_read(&m, COM1 + IIR, 1),
		 0xcc); /* below trigger: timeout */
	for (unsigned i = 0; i < 6; i++)
		pio_read(&m, COM1 + RBR, 1);
	CHECK_EQ(pio_read(&m, COM1 + IIR, 1), 0xc2);
	CHECK_EQ(pio_read(&m, COM1 + IIR, 1), 0xc0); /* modem status deltas */
	pio_read(&m, COM1 + MSR, 1);
	CHECK_EQ(pio_read(&m, COM1 + IIR, 1), 0xc1);
	CHECK_EQ(fake.irq[4], 0); /* loopback: IRQ off on a PC */
	fake_machine_destroy(&m);
}

static void test_uart_stdin_input_waits_when_fifo_full(void)
{
	int fds[2], saved = dup(STDIN_FILENO);
	const char msg[] = "0123456789abcdefghijklm"; /* 23 bytes */

	CHECK(pipe(fds) == 0);
	dup2(fds[0], STDIN_FILENO);
	fake_machine_init(&m, 64 << 20);
	m.cfg.com[0].backend = SERIAL_STDIO;
	m.cfg.com[1].backend = SERIAL_STDIO;
	CHECK(fake_add(&m, "uart", 0) != NULL);
	CHECK(fake_add(&m, "uart", 1) != NULL);
	CHECK_EQ(fake.watches, 1); /* only COM1 reads stdin */
	CHECK_EQ(fake.watch_fd, STDIN_FILENO);
	CHECK(write(fds[1], msg, sizeof(msg) - 1) == (ssize_t)sizeof(msg) - 1);
	pio_write(&m, COM1 + FCR, 0x01, 1);
	pio_write(&m, COM1 + IER, 0x01, 1);
	pio_write(&m, COM1 + MCR, 0x08, 1);
	fake.watch_fn(fake.watch_opaque, fake.watch_fd);
	CHECK_EQ(fake.irq[4], 1);
	CHECK(fake.watch_fn == NULL); /* full: stop reading the host */
	for (unsigned i = 0; i < 16; i++)
		CHECK_EQ(pio_read(&m, COM1 + RBR, 1), (uint8_t)msg[i]);
	CHECK_EQ(pio_read(&m, COM1 + LSR, 1) & 0x02, 0); /* nothing lost */
	CHECK_EQ(fake.irq[4], 0);
	CHECK(fake.watch_fn != NULL);
	fake.watch_fn(fake.watch_opaque, fake.watch_fd);
	for (unsigned i = 16; i < sizeof(msg) - 1; i++)
		CHECK_EQ(pio_read(&m, COM1 + RBR, 1), (uint8_t)msg[i]);
	close(fds[1]);
	fake.watch_fn(fake.watch_opaque, fake.watch_fd); /* EOF */
	CHECK(fake.watch_fn == NULL);
	fake_machine_destroy(&m);
	dup2(saved, STDIN_FILENO);
	close(saved);
	close(fds[0]);
}

static void test_uart_stdin_regular_file_is_polled(void)
{
	char path[] = "/tmp/hyve-test-uart-in-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDIN_FILENO);
	const char msg[] = "from a regular file, longer than 16 bytes";

	CHECK(fd >= 0);
	CHECK(write(fd, msg, sizeof(msg) - 1) == (ssize_t)sizeof(msg) - 1);
	lseek(fd, 0, SEEK_SET);
	dup2(fd, STDIN_FILENO);
	fake_machine_init(&m, 64 << 20);
	m.cfg.com[0].backend = SERIAL_STDIO;
	CHECK(fake_add(&m, "uart", 0) != NULL);
	CHECK_EQ(fake.watches, 0);
	pio_write(&m, COM1 + FCR, 0x01, 1);
	for (unsigned i = 0; i < sizeof(msg) - 1; i++) {
		fake_run_until(fake.now + 1000000);
		CHECK_EQ(pio_read(&m, COM1 + LSR, 1) & 0x01, 0x01);
		CHECK_EQ(pio_read(&m, COM1 + RBR, 1), (uint8_t)msg[i]);
	}
	fake_run_until(fake.now + 10000000);
	CHECK_EQ(pio_read(&m, COM1 + LSR, 1) & 0x01, 0);
	CHECK(fake_next_timer() == NULL); /* EOF: polling stopped */
	fake_machine_destroy(&m);
	dup2(saved, STDIN_FILENO);
	close(saved);
	close(fd);
	unlink(path);
}

static void test_uart_file_backend_appends(void)
{
	char path[] = "/tmp/hyve-test-uart-XXXXXX", buf[64] = {0};
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK(write(fd, "old:", 4) == 4);
	fake_machine_init(&m, 64 << 20);
	m.cfg.com[1].backend = SERIAL_FILE;
	snprintf(m.cfg.com[1].path, sizeof(m.cfg.com[1].path), "%s", path);
	CHECK(fake_add(&m, "uart", 1) != NULL);
	pio_write(&m, COM2 + RBR, 'h', 1);
	pio_write(&m, COM2 + RBR, 'i', 1);
	CHECK_EQ(fake.watches, 0);
	fake_machine_destroy(&m);
	CHECK(pread(fd, buf, sizeof(buf) - 1, 0) == 6);
	CHECK(strcmp(buf, "old:hi") == 0);
	close(fd);
	unlink(path);
	/* An unwritable path is a clear creation error. */
	fake_machine_init(&m, 64 << 20);
	m.cfg.com[0].backend = SERIAL_FILE;
	snprintf(m.cfg.com[0].path, sizeof(m.cfg.com[0].path),
		 "/nonexistent/dir/x");
	{
		struct hyve_err err = {0};

		CHECK(machine_add_device(&m, "uart", 0, NULL, NULL, &err) < 0);
		CHECK(strstr(err.msg, "/nonexistent/dir/x") != NULL);
	}
	fake_machine_destroy(&m);
}

static void test_uart_state_round_trip(void)
{
	struct device *a, *b;
	void *state = NULL;

	CHECK((a = uart_setup()) != NULL);
	pio_write(&m, COM1 + FCR, 0x81, 1);
	pio_write(&m, COM1 + MCR, 0x1b, 1);
	pio_write(&m, COM1 + RBR, 'q', 1);
	pio_write(&m, COM1 + RBR, 'r', 1);
	pio_read(&m, COM1 + RBR, 1);
	pio_write(&m, COM1 + IER, 0x0b, 1);
	pio_write(&m, COM1 + SCR, 0x77, 1);
	pio_write(&m, COM1 + LCR, 0x9b, 1);
	pio_write(&m, COM1 + RBR, 0x30, 1);
	pio_write(&m, COM1 + LCR, 0x1b, 1);
	CHECK(fake_save_check(a, &state) == 0);
	CHECK(fake_wire_roundtrip(a->type->state, state));
	CHECK((b = fake_add(&m, "uart", 1)) != NULL);
	CHECK(fake_load(b, state) == 0);
	for (unsigned reg = 1; reg < 8; reg++)
		CHECK_EQ(pio_read(&m, COM2 + reg, 1),
			 pio_read(&m, COM1 + reg, 1));
	CHECK_EQ(pio_read(&m, COM2 + RBR, 1), 'r');
	CHECK_EQ(pio_read(&m, COM1 + RBR, 1), 'r');
	/* check() refuses impossible states. */
	{
		struct hyve_err err = {0};
		uint8_t *bad = state;

		bad[17] = 17; /* rx_count > 16 */
		CHECK(a->type->check(state, &err) < 0);
	}
	free(state);
	fake_machine_destroy(&m);
}

static void test_uart_random_writes_keep_state_valid(void)
{
	struct device *devs[2];

	fake_machine_init(&m, 64 << 20);
	CHECK((devs[0] = fake_add(&m, "uart", 0)) != NULL);
	CHECK((devs[1] = fake_add(&m, "uart", 1)) != NULL);
	for (unsigned i = 0; i < 200000; i++) {
		uint64_t r = fake_rand();
		uint64_t port = (r & 1 ? COM1 : COM2) + ((r >> 1) % 10) - 1;
		unsigned len = 1u << ((r >> 8) % 4);

		if ((r >> 12) & 1)
			pio_write(&m, port, fake_rand(), len);
		else
			pio_read(&m, port, len);
		if (i % 1000 == 0) {
			CHECK(fake_save_check(devs[0], NULL) == 0);
			CHECK(fake_save_check(devs[1], NULL) == 0);
		}
	}
	CHECK(fake_save_check(devs[0], NULL) == 0);
	CHECK(fake_save_check(devs[1], NULL) == 0);
	fake_machine_destroy(&m);
}

int main(void)
{
	RUN_TEST(test_uart_reset_values);
	RUN_TEST(test_uart_divisor_latch_and_scratch);
	RUN_TEST(test_uart_loopback_fifo_and_overrun);
	RUN_TEST(test_uart_loopback_modem_lines);
	RUN_TEST(test_uart_interrupts_priority_and_out2_gate);
	RUN_TEST(test_uart_stdin_input_waits_when_fifo_full);
	RUN_TEST(test_uart_stdin_regular_file_is_polled);
	RUN_TEST(test_uart_file_backend_appends);
	RUN_TEST(test_uart_state_round_trip);
	RUN_TEST(test_uart_random_writes_keep_state_valid);
	return CHECK_DONE();
}
