#!/usr/bin/env bash
# virtio over PCI on this /dev/kvm (issue 7): tests/guest/virtio_io.c finds
# virtio-rng and virtio-blk through 0xCF8/0xCFC (cross-checked with ECAM),
# sizes a BAR, gets random bytes with an MSI-X interrupt (irqfd), writes,
# reads back and re-verifies disk sectors with INTx interrupts, and checks
# that a hostile driver (descriptor loop, buffer outside RAM) only gets
# DEVICE_NEEDS_RESET; virtio-console to a file and over a UNIX socket.  The disk file is then checked from the host, also
# after a checkpoint taken mid-I/O, a SIGKILL and a restore.
set -u
. "$(dirname "$0")/lib.sh"

CASES="virtio_rng_msix_and_blk_intx_io virtio_hostile_driver_gets_needs_reset virtio_blk_disk_holds_guest_writes
virtio_checkpoint_kill_restore_blk_continues virtio_restore_without_disk_fails_cleanly
virtio_bad_slot_options_are_refused virtio_console_file_output virtio_console_socket_both_ways"
sys_init $CASES
HYVECTL=${HYVECTL:-$(dirname "$HYVE")/hyvectl}
G=$(guest virtio_io)
CTL=$SYS_TMP/ctl
mkdir -m 700 "$CTL"

# new_disk PATH: 1 MiB, sector 0 starts with a text the guest prints.
new_disk() {
	printf 'hyve-disk-sector-0 hello' >"$1"
	truncate -s 1M "$1"
}

# disk_ok PATH N: sectors 1..N hold the guest's pattern, sector 0 its text.
disk_ok() {
	python3 - "$1" "$2" <<'EOF'
import sys
data = open(sys.argv[1], 'rb').read()
n = int(sys.argv[2])
if not data.startswith(b'hyve-disk-sector-0 hello'):
    sys.exit('sector 0 was changed')
for s in range(1, n + 1):
    want = bytes((s * 7 + i * 13 + (i >> 5)) & 0xff for i in range(512))
    if data[s * 512:(s + 1) * 512] != want:
        sys.exit('sector %d does not hold the pattern' % s)
if data[(n + 1) * 512:].count(0) != len(data) - (n + 1) * 512:
    sys.exit('bytes past sector %d were written' % n)
EOF
}

disk=$SYS_TMP/disk.img
new_disk "$disk"
hyve_run --debug-exit -l com1,stdio --kernel "$G" --cmdline "iters=8 hostile=1" \
	-s 3,virtio-blk,"$disk" -s 4,virtio-rng "$VM"
expect_run virtio_rng_msix_and_blk_intx_io 1 "pci: virtio-rng at 4:0, virtio-blk at 3:0" \
	"virtio-rng: 32 bytes, msi-x interrupts 1" "virtio-blk: sector 0 says 'hyve-disk-sector-0 hello'" \
	"virtio-blk: 8 sectors verified, flushed, intx interrupts 27"
if [ "$HYVE_STATUS" = 1 ] && out_has_line "virtio-rng: descriptor loop refused (NEEDS_RESET)" &&
	out_has_line "virtio-rng: buffer outside RAM refused (NEEDS_RESET)" &&
	out_has_line "virtio-rng: 32 bytes, msi-x interrupts 2" &&
	grep -q "descriptor chain is longer than the queue" "$HYVE_ERR"; then
	pass virtio_hostile_driver_gets_needs_reset
else
	fail virtio_hostile_driver_gets_needs_reset "expected both refusals and a working device after reset, got $(hyve_summary)"
	dump_run virtio_hostile_driver_gets_needs_reset
fi
if why=$(disk_ok "$disk" 8 2>&1); then
	pass virtio_blk_disk_holds_guest_writes
else
	fail virtio_blk_disk_holds_guest_writes "$why"
fi

# Checkpoint while the guest is between writes, SIGKILL, restore: the
# restored guest finishes its iterations and re-verifies every sector.
name=virtio_checkpoint_kill_restore_blk_continues
disk2=$SYS_TMP/disk2.img
new_disk "$disk2"
snap=$SYS_TMP/virtio.snap
hyve_start --debug-exit -l com1,stdio --control "$CTL/v.sock" --kernel "$G" \
	--cmdline "iters=16 pause_ms=150" -s 3,virtio-blk,"$disk2" -s 4,virtio-rng "$VM"
if ! wait_for_line "$HYVE_OUT" '^blk iter 4$' 30; then
	fail "$name" "the guest did not reach iteration 4 ($(guest_failure))"
	dump_run "$name"
elif ! "$HYVECTL" --socket="$CTL/v.sock" --checkpoint="$snap" >"$SYS_TMP/ctl.out" 2>&1; then
	fail "$name" "checkpoint failed: $(tail -1 "$SYS_TMP/ctl.out")"
else
	seen=$(tr -d '\r' <"$HYVE_OUT" | sed -n 's/^blk iter //p' | tail -1)
	pkill -KILL -P "$HYVE_PID" 2>/dev/null
	kill -KILL "$HYVE_PID" 2>/dev/null
	hyve_wait
	hyve_run --timeout 60 -r "$snap" -l com1,stdio --control "$CTL/v-r.sock"
	first=$(tr -d '\r' <"$HYVE_OUT" | sed -n 's/^blk iter //p' | head -1)
	if [ -z "$first" ] || [ "$first" -lt 5 ] || [ "$first" -gt $((seen + 2)) ]; then
		fail "$name" "restored guest's first iteration is '$first', expected 5..$((seen + 2)) ($(hyve_summary); $(guest_failure))"
		dump_run "$name"
	elif ! why=$(disk_ok "$disk2" 16 2>&1); then
		fail "$name" "after the restored run: $why"
	else
		expect_run "$name" 1 "blk iter 16"
	fi
fi
kill -KILL "$HYVE_PID" 2>/dev/null

# The snapshot names its disk; without it the restore must fail with a
# message naming the file, not start a half-built machine.
mv "$disk2" "$disk2.moved"
hyve_run --timeout 30 -r "$snap" -l com1,stdio --control "$CTL/v-r2.sock"
if [ "$HYVE_STATUS" = 4 ] && grep -q "disk $disk2: No such file or directory" "$HYVE_ERR"; then
	pass virtio_restore_without_disk_fails_cleanly
else
	fail virtio_restore_without_disk_fails_cleanly "expected status 4 naming the missing disk, got $(hyve_summary)"
fi

# virtio-console: to a file, then both ways over a UNIX socket whose peer
# (a small listener here) sends a line the guest echoes back.
con=$SYS_TMP/console.txt
hyve_run --debug-exit -l com1,stdio --kernel "$G" --cmdline "iters=1" -s 3,virtio-blk,"$disk" \
	-s 4,virtio-rng -s 5,virtio-console,"$con" "$VM"
if [ "$HYVE_STATUS" = 1 ] && [ "$(cat "$con" 2>/dev/null)" = "virtio-console: hello from the guest" ]; then
	pass virtio_console_file_output
else
	fail virtio_console_file_output "expected the guest's line in $con, got '$(head -c 200 "$con" 2>/dev/null)' ($(hyve_summary))"
	dump_run virtio_console_file_output
fi
cat >"$SYS_TMP/peer.py" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1); s.settimeout(30)
c, _ = s.accept(); c.settimeout(30)
buf = b''
try:
    while b'hello from the guest\n' not in buf:
        d = c.recv(4096)
        if not d: break
        buf += d
    time.sleep(0.3)
    c.sendall(b'ping from host\n')
    while b'echo ping from host\n' not in buf:
        d = c.recv(4096)
        if not d: break
        buf += d
finally:
    open(sys.argv[2], 'wb').write(buf)
EOF
python3 "$SYS_TMP/peer.py" "$SYS_TMP/con.sock" "$SYS_TMP/peer.out" &
peer=$!
for i in $(seq 50); do [ -S "$SYS_TMP/con.sock" ] && break; sleep 0.1; done
hyve_run --debug-exit -l com1,stdio --kernel "$G" --cmdline "iters=1 con_rx=1" -s 3,virtio-blk,"$disk" \
	-s 4,virtio-rng -s 5,virtio-console,socket="$SYS_TMP/con.sock" "$VM"
wait "$peer"
if [ "$HYVE_STATUS" = 1 ] && out_has_line "virtio-console: got 'ping from host'" &&
	grep -qx "virtio-console: echo ping from host" "$SYS_TMP/peer.out"; then
	pass virtio_console_socket_both_ways
else
	fail virtio_console_socket_both_ways "expected the host's line in the guest and its echo back, got $(hyve_summary); peer saw '$(tr '\n' '|' <"$SYS_TMP/peer.out" 2>/dev/null)'"
	dump_run virtio_console_socket_both_ways
fi

# Bad -s options: each a clear error and status 4, before the guest runs.
bad=
for spec in "3,virtio-blk,$SYS_TMP/none.img" "3,virtio-blk" "3,virtio-blk,$disk,sectorsize=300" \
	"3,virtio-blk,$disk,bogus" "0,virtio-rng" "3,virtio-nonesuch" "3,rtc" "3,virtio-rng,extra" "3,virtio-console" \
	"3,virtio-console,socket=$SYS_TMP/nobody.sock" "3,virtio-net,tap=hyve-no-such-tap0"; do
	hyve_run --timeout 20 --debug-exit -l com1,stdio --kernel "$G" -s "$spec" "$VM"
	if [ "$HYVE_STATUS" != 4 ] || [ ! -s "$HYVE_ERR" ] || [ -s "$HYVE_OUT" ]; then
		bad="$bad [-s $spec: $(hyve_summary)]"
	fi
done
if [ -z "$bad" ]; then
	pass virtio_bad_slot_options_are_refused
else
	fail virtio_bad_slot_options_are_refused "accepted or unclear:$bad"
fi
