#!/usr/bin/env bash
# Interrupt-driven UART receive: bytes written to hyve's stdin reach COM1's
# receive FIFO and raise IRQ 4, which the guest routes through IOAPIC pin 4
# (8259s masked); its handler echoes them.  The guest reads the UART only in
# that handler, so without the interrupt it never finishes.
. "$(dirname "$0")/lib.sh"
sys_init uart_rx_irq_echo uart_rx_irq_burst_no_loss

g=$(guest uart_rx)
text="The quick brown fox jumps over the lazy dog 0123456789"
hyve_start --debug-exit -l com1,stdio --kernel "$g" vm1
if wait_for_line "$HYVE_OUT" '^uart_rx: ready$' 30; then
	feed_input "$text"$'\n'
fi
hyve_wait
expect_run uart_rx_irq_echo 1 "$text" >"$SYS_TMP/r"
if ! grep -q '^FAIL' "$SYS_TMP/r" && ! tr -d '\r' <"$HYVE_OUT" | grep -qE "^uart_rx: received ${#text}+1 bytes in [1-9][0-9]* interrupts$"; then
	n=$((${#text} + 1))
	tr -d '\r' <"$HYVE_OUT" | grep -qE "^uart_rx: received $n bytes in [1-9][0-9]* interrupts$" && pass uart_rx_irq_echo ||
		fail uart_rx_irq_echo "no 'uart_rx: received $n bytes in N interrupts' line"
else
	cat "$SYS_TMP/r"
fi

# 1000 bytes at once, before the guest is even ready: more than the 16-byte
# FIFO holds, so the console backend must hold back input until there is
# room rather than drop it.
burst=$(for i in $(seq 1 20); do printf 'burst-line-%02d-abcdefghijklmnopqrstuvwxyz0123456789==\n' "$i"; done | tr '\n' ':')
printf '%s\n' "$burst" >"$SYS_TMP/burst.txt"
hyve_run --stdin "$SYS_TMP/burst.txt" --debug-exit -l com1,stdio --kernel "$g" vm1
expect_run uart_rx_irq_burst_no_loss 1 "$burst" "uart_rx: received $((${#burst} + 1)) bytes in $(tr -d '\r' <"$HYVE_OUT" | sed -n 's/^uart_rx: received [0-9]* bytes in \([0-9]*\) interrupts$/\1/p' | head -1) interrupts"
