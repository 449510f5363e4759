#!/usr/bin/env bash
# Interrupt-driven UART receive: bytes written to hyve's stdin reach COM1's
# receive FIFO and raise IRQ 4, which the guest routes through IOAPIC pin 4
# (8259s masked); its handler echoes them and the guest ends at a newline.
# The guest reads the UART only in that handler, so without the interrupt
# it never finishes.
. "$(dirname "$0")/lib.sh"
sys_init uart_rx_irq_echo uart_rx_irq_while_ring3 uart_rx_irq_burst_no_loss uart_rx_stdin_regular_file

g=$(guest uart_rx)

# check_echo NAME TEXT [RING3_IRQS]: the guest echoed TEXT (then a newline)
# and counted it.
check_echo() {
	local n=$((${#2} + 1)) g
	if [ "$HYVE_STATUS" = 1 ] && out_has_line "$2" &&
		out_grep "^uart_rx: received $n bytes in [1-9][0-9]* interrupts \\(${3:-[0-9]+} in ring 3\\)$"; then
		pass "$1"
	else
		g=$(guest_failure)
		fail "$1" "expected the ${#2}-byte text echoed, 'received $n bytes' and status 1, got $(hyve_summary)${g:+; guest: $g}"
		dump_run "$1"
	fi
}

text="The quick brown fox jumps over the lazy dog 0123456789"
hyve_start --debug-exit -l com1,stdio --kernel "$g" "$VM"
wait_for_line "$HYVE_OUT" '^uart_rx: ready$' 30 && feed_input "$text"$'\n'
hyve_wait
check_echo uart_rx_irq_echo "$text" 0

# the CPU waits in a ring-3 loop with interrupts on: each IRQ interrupts
# CPL 3 (the guest fails if one did not)
hyve_start --debug-exit -l com1,stdio --kernel "$g" --cmdline "wait=user" "$VM"
wait_for_line "$HYVE_OUT" '^uart_rx: ready$' 30 && feed_input "$text"$'\n'
hyve_wait
check_echo uart_rx_irq_while_ring3 "$text" "[1-9][0-9]*"

# ~1 KiB at once: far more than the 16-byte FIFO holds, so the console
# backend must hold input back until there is room rather than drop it.
burst=$(for i in $(seq 1 18); do printf 'burst-line-%02d-abcdefghijklmnopqrstuvwxyz0123456789:' "$i"; done)
hyve_start --debug-exit -l com1,stdio --kernel "$g" "$VM"
wait_for_line "$HYVE_OUT" '^uart_rx: ready$' 30 && feed_input "$burst"$'\n'
hyve_wait
check_echo uart_rx_irq_burst_no_loss "$burst" 0

# stdin redirected from a regular file (which epoll cannot watch).  The
# bytes are there before the guest enables its FIFO, and enabling the FIFO
# clears it (16550A datasheet, FCR bit 0), so a padding prefix may be lost;
# the text after it must arrive.
text2="input from a regular file"
printf '%s%s\n' "................................" "$text2" >"$SYS_TMP/stdin.txt"
hyve_run --timeout 20 --stdin "$SYS_TMP/stdin.txt" --debug-exit -l com1,stdio --kernel "$g" "$VM"
if [ "$HYVE_STATUS" = 1 ] && out_grep "^\.*${text2}\$"; then
	pass uart_rx_stdin_regular_file
else
	fail uart_rx_stdin_regular_file "expected '$text2' echoed and status 1, got $(hyve_summary)"
	dump_run uart_rx_stdin_regular_file
fi
sys_done
