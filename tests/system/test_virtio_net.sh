#!/usr/bin/env bash
# virtio-net on a tap (issue 7), on this /dev/kvm: the test makes its own
# network namespace with a persistent tap hvtap0 (169.254.77.1/24, link-local,
# nothing leaves the namespace) and runs hyve inside it with
# tests/guest/virtio_net.c, a small stack at 169.254.77.2.  The guest ARPs
# for the host and sends it a UDP datagram; the host pings the guest and
# gets a UDP payload echoed (python3 sockets, no ping binary needed).  Then
# a checkpoint, SIGKILL, a restore that reattaches the tap by name, and the
# same traffic again.  A transmit header asking for an offload that was
# never negotiated must give NEEDS_RESET; bad options are refused.
set -u
. "$(dirname "$0")/lib.sh"

CASES="virtio_net_guest_to_host_arp_and_udp virtio_net_hostile_offload_header_needs_reset
virtio_net_host_pings_guest_and_udp_echo virtio_net_checkpoint_kill_restore_traffic_continues
virtio_net_bad_options_are_refused"
sys_init $CASES
HYVECTL=${HYVECTL:-$(dirname "$HYVE")/hyvectl}
REAL_HYVE=$HYVE
G=$(guest virtio_net)
CTL=$SYS_TMP/ctl
mkdir -m 700 "$CTL"
NS=hyvenet$$
TAP=hvtap0
HOST_IP=169.254.77.1
GUEST_IP=169.254.77.2

skip_all() {
	for c in $CASES; do echo "SKIP: $c: $1"; done
	exit 0
}
[ -e /dev/net/tun ] || skip_all "/dev/net/tun does not exist (no tun/tap driver)"
command -v ip >/dev/null || skip_all "the ip command (iproute2) is missing"
ip netns add "$NS" 2>"$SYS_TMP/netns.err" ||
	skip_all "cannot make a network namespace: $(head -1 "$SYS_TMP/netns.err") (needs root)"
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$SYS_TMP"' EXIT
ip -n "$NS" link set lo up
ip netns exec "$NS" ip tuntap add dev "$TAP" mode tap
ip -n "$NS" addr add "$HOST_IP/24" dev "$TAP"
ip -n "$NS" link set "$TAP" up

# hyve runs inside the namespace (exec all the way: the PID is hyve's).
cat >"$SYS_TMP/hyve-ns" <<EOF
#!/bin/sh
exec ip netns exec "$NS" "$REAL_HYVE" "\$@"
EOF
chmod +x "$SYS_TMP/hyve-ns"
HYVE=$SYS_TMP/hyve-ns

# The host's side, run in the namespace.  Every wait is bounded.
cat >"$SYS_TMP/peer.py" <<'EOF'
import os, socket, struct, sys, time
GUEST = '169.254.77.2'
HOST = '169.254.77.1'

def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def ping(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xffff
    ok = 0
    for seq in range(1, n + 1):
        payload = b'hyve-ping-%d' % seq
        h = struct.pack('!BBHHH', 8, 0, 0, ident, seq)
        pkt = struct.pack('!BBHHH', 8, 0, csum(h + payload), ident, seq) + payload
        got = False
        for attempt in range(3):
            s.sendto(pkt, (GUEST, 0))
            end = time.time() + 3
            while time.time() < end and not got:
                s.settimeout(max(0.05, end - time.time()))
                try:
                    d, a = s.recvfrom(2048)
                except socket.timeout:
                    break
                icmp = d[(d[0] & 15) * 4:]
                if a[0] == GUEST and icmp[0] == 0 and struct.unpack('!HH', icmp[4:8]) == (ident, seq) \
                        and icmp[8:] == payload and csum(icmp) == 0:
                    got = True
            if got:
                break
        print('ping %d %s' % (seq, 'reply' if got else 'lost'))
        ok += got
    return ok == n

def udp_echo():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    msg = b'echo me %d' % os.getpid()
    for attempt in range(3):
        s.sendto(msg, (GUEST, 7))
        s.settimeout(3)
        try:
            d, a = s.recvfrom(2048)
        except socket.timeout:
            continue
        if a[0] == GUEST and d == msg:
            print('udp echo ok')
            return True
    print('udp echo lost')
    return False

cmd = sys.argv[1]
if cmd == 'hello':
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, 5555))
    open(sys.argv[3], 'w').write('bound\n')
    s.settimeout(float(sys.argv[2]))
    try:
        d, a = s.recvfrom(2048)
        print('hello %s from %s' % (d.decode(errors='replace'), a[0]))
    except socket.timeout:
        print('no hello')
        sys.exit(1)
elif cmd == 'traffic':
    r = ping(3)
    r = udp_echo() and r
    sys.exit(0 if r else 1)
elif cmd == 'quit':
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'quit', (GUEST, 9))
EOF
peer() { ip netns exec "$NS" python3 "$SYS_TMP/peer.py" "$@"; }

name=virtio_net_checkpoint_kill_restore_traffic_continues
snap=$SYS_TMP/net.snap
peer hello 40 "$SYS_TMP/bound" >"$SYS_TMP/hello.out" 2>&1 &
hello_pid=$!
# The guest sends its hello once: the listener must be bound before.
for i in $(seq 100); do [ -s "$SYS_TMP/bound" ] && break; sleep 0.1; done
hyve_start --debug-exit -l com1,stdio --control "$CTL/n.sock" --kernel "$G" \
	--cmdline "ip=$GUEST_IP peer=$HOST_IP hostile=1" -s 3,virtio-net,tap=$TAP,mac=02:00:00:68:79:01 "$VM"
wait "$hello_pid"
if grep -qx "hello hello from the guest from $GUEST_IP" "$SYS_TMP/hello.out" &&
	wait_for_line "$HYVE_OUT" '^virtio-net: sent UDP hello$' 5 &&
	out_has_line "virtio-net: at 3:0, mac 02:00:00:68:79:01, link 1, mtu 1500"; then
	pass virtio_net_guest_to_host_arp_and_udp
else
	fail virtio_net_guest_to_host_arp_and_udp "host got '$(cat "$SYS_TMP/hello.out")' ($(guest_failure))"
	dump_run virtio_net_guest_to_host_arp_and_udp
fi
if out_has_line "virtio-net: offload header refused (NEEDS_RESET)" &&
	grep -q "checksum offload that was not negotiated" "$HYVE_ERR"; then
	pass virtio_net_hostile_offload_header_needs_reset
else
	fail virtio_net_hostile_offload_header_needs_reset "no NEEDS_RESET for a NEEDS_CSUM header ($(guest_failure))"
fi
if peer traffic >"$SYS_TMP/traffic1.out" 2>&1 && wait_for_line "$HYVE_OUT" '^udp echo [0-9]+ bytes \(1\)$' 5 &&
	out_has_line "icmp echo 3"; then
	pass virtio_net_host_pings_guest_and_udp_echo
else
	fail virtio_net_host_pings_guest_and_udp_echo "$(tr '\n' '|' <"$SYS_TMP/traffic1.out") ($(guest_failure))"
	dump_run virtio_net_host_pings_guest_and_udp_echo
fi

if ! "$HYVECTL" --socket="$CTL/n.sock" --checkpoint="$snap" >"$SYS_TMP/ctl.out" 2>&1; then
	fail "$name" "checkpoint failed: $(tail -1 "$SYS_TMP/ctl.out")"
	kill -KILL "$HYVE_PID" 2>/dev/null
	hyve_wait
else
	# Still alive after the checkpoint, then killed: the tap outlives it.
	peer traffic >"$SYS_TMP/traffic2.out" 2>&1
	after_ckpt=$?
	pkill -KILL -P "$HYVE_PID" 2>/dev/null
	kill -KILL "$HYVE_PID" 2>/dev/null
	hyve_wait 2>/dev/null
	cp "$HYVE_OUT" "$SYS_TMP/first.out"
	hyve_start -r "$snap" -l com1,stdio --control "$CTL/n-r.sock"
	sleep 1
	peer traffic >"$SYS_TMP/traffic3.out" 2>&1
	after_restore=$?
	peer quit
	hyve_wait
	cp "$HYVE_OUT" "$SYS_TMP/restored.out"
	if [ "$after_ckpt" != 0 ]; then
		fail "$name" "no traffic after the checkpoint: $(tr '\n' '|' <"$SYS_TMP/traffic2.out")"
	elif [ "$after_restore" != 0 ]; then
		fail "$name" "no traffic after the restore: $(tr '\n' '|' <"$SYS_TMP/traffic3.out") ($(hyve_summary); $(guest_failure))"
		dump_run "$name"
	elif ! out_grep '^icmp echo [0-9]+$' || out_has_line "icmp echo 1" || ! out_grep '^udp echo .* \(2\)$'; then
		# The restored guest counts on from the checkpoint: echoes 4..6
		# after the 3 it had answered, and its second UDP echo.
		fail "$name" "the restored guest did not continue its counts"
		dump_run "$name"
	else
		expect_run "$name" 1 "icmp echo 6"
	fi
fi

# Bad options: status 4 with a message naming the problem, before the
# guest runs.
bad=
for spec in "tap=nosuch0:does not exist" "tap=lo:not a tap device" "tap=$TAP,mac=01:00:00:00:00:01:multicast" \
	"tap=$TAP,mac=02:00:00:00:00:zz:six hex pairs" "tap=$TAP,speed=10:unknown option" ":needs a tap" \
	"tap=averyveryverylongname:not an interface name"; do
	opts=${spec%:*}
	want=${spec##*:}
	hyve_run --timeout 20 --debug-exit -l com1,stdio --kernel "$G" -s "3,virtio-net${opts:+,$opts}" "$VM"
	if [ "$HYVE_STATUS" != 4 ] || ! grep -q -- "$want" "$HYVE_ERR" || [ -s "$HYVE_OUT" ]; then
		bad="$bad [$opts: $(hyve_summary)]"
	fi
done
if [ -z "$bad" ]; then
	pass virtio_net_bad_options_are_refused
else
	fail virtio_net_bad_options_are_refused "accepted or unclear:$bad"
fi
# NET_DEBUG=DIR keeps the run's files (outputs, peer logs) for a look afterwards.
[ -n "${NET_DEBUG:-}" ] && cp -r "$SYS_TMP" "$NET_DEBUG"
sys_done
