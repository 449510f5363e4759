/* The 16550A UARTs (src/dev/uart.c). */
#ifndef HYVE_UART_H
#define HYVE_UART_H

/* Puts the host terminal back the way it was before a stdio backend made it
 * raw.  Registered with atexit(); also async-signal-safe, so a SIGINT or
 * SIGTERM handler may call it before ending hyve.  No-op when stdin was
 * never changed. */
void uart_restore_terminal(void);

#endif
