#!/usr/bin/env bash
# virtio-net under Debian's Linux (issue 7, 5), in the nested rig (tests/nested/:
# QEMU-TCG L1 with real KVM, hyve in L1, Linux as L2).  Runs ~2-3 minutes.
#
# L1 loads tun.ko and makes a persistent tap0 (busybox tunctl) at
# 169.254.99.1/24 (link-local: nothing leaves L1).  hyve boots L2 with
# -s 2,virtio-net,tap=tap0; L2 loads Debian's virtio_pci, failover,
# net_failover and virtio_net, takes 169.254.99.2/24, makes a 1 MiB random
# file and serves it over TCP (busybox nc).  From L1: ping, download the
# guest's file, upload one of L1's, and open a TCP connection that sends half
# a file now and the rest after the restore.  Then hyvectl --checkpoint,
# kill -9, hyve -r; ping, download and upload again, the held connection
# completes, and a TCP "stop" makes the restored guest power off (status 1).
# Every md5 is compared on both ends.
set -u
. "$(dirname "$0")/lib.sh"

CASES="virtio_net_linux_binds_and_configures virtio_net_linux_ping_and_tcp_before_checkpoint
virtio_net_linux_checkpoint_kill_restore_ping_and_tcp virtio_net_linux_restored_guest_answers_at_once
virtio_net_linux_tcp_connection_survives_restore virtio_net_linux_restored_guest_powers_off"
nested_prepare $CASES || exit 0
if [ "${HYVE_NESTED_VMM:-hyve}" != hyve ]; then
	for c in $CASES; do echo "SKIP: $c: hyve's devices and save/restore, not QEMU's (HYVE_NESTED_VMM=$HYVE_NESTED_VMM)"; done
	exit 0
fi

kit=${HYVE_KIT_DIR:-/var/cache/hyve-kit}
kmod=$kit/modules/$(cat "$kit/kver")/kernel
work=$(mktemp -d "${TMPDIR:-/tmp}/hyve-virtio-net-linux.XXXXXX")
trap 'rm -rf "$work"' EXIT
mods="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev
drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci net/core/failover drivers/net/net_failover
drivers/net/virtio_net"
args=()
for m in $mods drivers/net/tun; do
	if [ ! -e "$kmod/$m.ko" ]; then
		for c in $CASES; do nested_fail "$c" "guest kit lacks $m.ko"; done
		exit 1
	fi
done
for m in $mods; do
	args+=(--l2-file "$kmod/$m.ko:/lib/virtio/$(basename "$m").ko")
done
args+=(--l1-file "$kmod/drivers/net/tun.ko:/lib/net/tun.ko")

# L2: the rig's hyve.action=workload runs this; it powers off when it exits 0.
cat >"$work/l2" <<'EOF'
#!/bin/busybox sh
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover \
	net_failover virtio_net; do
	insmod /lib/virtio/$m.ko 2>/dev/null || echo "NL2-INSMOD-FAIL=$m"
done
sleep 1
for d in /sys/bus/pci/devices/*; do
	echo "NL2-PCI=$(cat $d/vendor):$(cat $d/device) $(basename "$(readlink $d/driver)")"
done
echo "NL2-NETDEVS=$(ls /sys/class/net | tr '\n' ' ')"
ip link set lo up
ip addr add 169.254.99.2/24 dev eth0 && ip link set eth0 up && echo "NL2-ETH0-UP $(cat /sys/class/net/eth0/address)"
head -c 1048576 /dev/urandom >/tmp/down
set -- $(md5sum </tmp/down)
echo "NL2-DOWN-MD5=$1"
# A FIFO opened read-write is a stdin that never ends: busybox nc exits when
# the network side closes, not when its stdin runs dry.
mkfifo /tmp/hold
# Download: the file goes out, then nc shuts its sending half and exits when
# the peer closes.
(while :; do nc -l -p 5001 </tmp/down >/dev/null; done) &
# Upload: what arrives is checksummed on the console.
(while :; do
	nc -l -p 5002 0<>/tmp/hold >/tmp/up
	set -- $(md5sum </tmp/up)
	echo "NL2-UP $(wc -c </tmp/up) $1"
done) &
# The connection held open across the checkpoint.
(nc -l -p 5004 0<>/tmp/hold >/tmp/long
	set -- $(md5sum </tmp/long)
	echo "NL2-LONG $(wc -c </tmp/long) $1") &
echo NL2-READY
nc -l -p 5003 0<>/tmp/hold >/tmp/stop
echo "NL2-STOP=$(cat /tmp/stop)"
exit 0
EOF

# L1: tap, hyve, traffic, checkpoint, kill -9, restore, traffic again.
# Prints NL1-* verdict lines; every wait is bounded.
cat >"$work/l1" <<'EOF'
#!/bin/sh
G=169.254.99.2
# wait_for FILE PATTERN TENTHS: 0 once PATTERN is in FILE.
wait_for() {
	n=0
	while ! tr -d '\r' <"$1" | grep -q "$2"; do
		[ $n -ge "$3" ] && return 1
		sleep 0.1; n=$((n + 1))
	done
}
# pings TAG: three echo requests must all be answered.
pings() {
	r=$(ping -c 3 -W 3 $G 2>&1 | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')
	echo "NL1-PING-$1=${r:-0}"
}
# download TAG: fetch the guest's file, compare with its md5.
download() {
	t0=$(cut -d' ' -f1 /proc/uptime)
	timeout 60 nc $G 5001 0<>/tmp/hold >/tmp/got-$1
	t1=$(cut -d' ' -f1 /proc/uptime)
	set -- "$1" $(md5sum </tmp/got-$1) "$(wc -c </tmp/got-$1)"
	want=$(tr -d '\r' </tmp/out1 | sed -n 's/^NL2-DOWN-MD5=\([0-9a-f]*\).*/\1/p' | head -1)
	if [ "$2" = "$want" ] && [ "$4" = 1048576 ]; then v=ok; else v=bad; fi
	echo "NL1-DOWN-$1=$v bytes=$4 md5=$2 want=$want t=$t0..$t1"
}
# upload TAG: send a fresh 1 MiB file; the guest prints its size and md5
# (on this hyve run's console, $OUT).
upload() {
	head -c 1048576 /dev/urandom >/tmp/upfile
	set -- "$1" $(md5sum </tmp/upfile); upmd5=$2
	timeout 60 nc $G 5002 </tmp/upfile >/dev/null
	if wait_for "$OUT" "^NL2-UP 1048576 $upmd5" 150; then v=ok; else v=bad; fi
	echo "NL1-UP-$1=$v want=$upmd5 got=$(tr -d '\r' <"$OUT" | grep '^NL2-UP' | tr '\n' ' ')"
}

insmod /lib/net/tun.ko || echo "NL1-TUN-INSMOD-FAILED"
n=0; while [ ! -c /dev/net/tun ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
tunctl -t tap0 >/dev/null && ip addr add 169.254.99.1/24 dev tap0 && ip link set tap0 up &&
	echo "NL1-TAP-OK" || echo "NL1-TAP-FAILED"
mkfifo /tmp/hold
head -c 1048576 /dev/urandom >/tmp/longfile
set -- $(md5sum </tmp/longfile); longmd5=$1
head -c 524288 /tmp/longfile >/tmp/long1
tail -c 524288 /tmp/longfile >/tmp/long2
echo "NL1-LONG-WANT=$longmd5"

mkdir -m 700 /tmp/ctl
OUT=/tmp/out1
hyve -c 1 -m 256M --kernel /vmlinuz --initrd /l2.cpio.gz -l com1,stdio \
	--cmdline 'console=ttyS0 quiet loglevel=1 panic=-1 hyve.action=workload' \
	-s 2,virtio-net,tap=tap0 --control /tmp/ctl/a.sock vn >/tmp/out1 2>&1 &
pid=$!
if ! wait_for /tmp/out1 '^NL2-READY' 1200; then
	kill -9 $pid
	tr -d '\r' </tmp/out1 | sed 's/^/NL1-OUT1: /'
	echo "NL1-NOT-READY"
	exit 1
fi
echo "NL1-READY"
pings 1
download 1
upload 1
# Half a file now; the other half once /tmp/go appears (after the restore).
(cat /tmp/long1; touch /tmp/sent1
	n=0; while [ ! -e /tmp/go ] && [ $n -lt 1500 ]; do sleep 0.1; n=$((n + 1)); done
	cat /tmp/long2) | timeout 200 nc $G 5004 >/dev/null &
lpid=$!
# The connection must be quiet when the checkpoint is taken: bytes the guest
# acknowledged after it would be gone from the restored guest and from L1's
# send queue alike (any VM restored under a live peer; not a hyve matter).
# So: the first half is written and L1's send queue for it is empty, twice.
wait_for_quiet() {
	n=0 q=0
	while [ $n -lt 300 ]; do
		sq=$(netstat -tn 2>/dev/null | awk '$5 ~ /:5004$/ { print $3 }')
		if [ -e /tmp/sent1 ] && [ "$sq" = 0 ]; then
			q=$((q + 1)); [ $q -ge 3 ] && return 0
		else
			q=0
		fi
		sleep 0.2; n=$((n + 1))
	done
	return 1
}
wait_for_quiet && echo "NL1-LONG-HALF-ACKED after=$n" || echo "NL1-LONG-HALF-NOT-ACKED sendq=$sq"
echo "NL1-CTL=$(hyvectl --socket=/tmp/ctl/a.sock --checkpoint=/tmp/snap 2>&1 | tr '\n' ' ')"
kill -9 $pid
wait $pid
tr -d '\r' </tmp/out1 | sed 's/^/NL1-OUT1: /'
if [ ! -e /tmp/snap ]; then
	echo "NL1-NO-SNAPSHOT"
	exit 1
fi
OUT=/tmp/out2
timeout 150 hyve -r /tmp/snap -l com1,stdio --control /tmp/ctl/b.sock >/tmp/out2 2>&1 &
pid=$!
ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
t0=$(ms)
# The restored guest prints nothing by itself: its control socket answering
# says hyve is running it; then wait for its first answer to a ping.
n=0
while ! hyvectl --socket=/tmp/ctl/b.sock --status >/dev/null 2>&1 && [ $n -lt 600 ]; do
	sleep 0.1; n=$((n + 1))
done
t1=$(ms)
n=0
while ! ping -c 1 -W 1 $G >/dev/null 2>&1 && [ $n -lt 40 ]; do n=$((n + 1)); done
t2=$(ms)
echo "NL1-FIRST-REPLY control_after_ms=$((t1 - t0)) reply_after_control_ms=$((t2 - t1)) tries=$n"
if [ $n -ge 40 ]; then
	# No network after the restore: the rest would only wait out its bounds.
	echo "NL1-NO-REPLY-AFTER-RESTORE"
	kill -9 $lpid $pid
	wait $pid
	tr -d '\r' </tmp/out2 | sed 's/^/NL1-OUT2: /'
	exit 1
fi
pings 2
download 2
upload 2
touch /tmp/go
if wait_for /tmp/out2 "^NL2-LONG" 600; then
	echo "NL1-LONG=$(tr -d '\r' </tmp/out2 | grep '^NL2-LONG' | head -1)"
else
	echo "NL1-LONG=none"
	kill $lpid
fi
wait $lpid
echo "NL1-LONG-NC=$?"
echo stop | timeout 30 nc $G 5003 >/dev/null
wait $pid
echo "NL1-EXIT2=$?"
tr -d '\r' </tmp/out2 | sed 's/^/NL1-OUT2: /'
EOF

chmod 755 "$work/l2" "$work/l1"
args+=(--l2-file "$work/l2:/bin/l2-workload" --l1-file "$work/l1:/bin/vnet-l1")

nested_rig virtio-net-linux "${args[@]}" --run-timeout 240 --timeout 320 --l1-cmd 'sh /bin/vnet-l1'
if ! nested_rig_ok; then
	for c in $CASES; do nested_fail "$c" "the rig failed (status $nested_rig_status; log $nested_log)"; done
	exit 1
fi
out() { tr -d '\r' <"$nested_log" | grep -E "^$1"; }
ok() { out "$1" >/dev/null; }

if ok 'NL1-TAP-OK' && ok 'NL1-OUT1: NL2-PCI=0x1af4:0x1041 virtio-pci$' && ok 'NL1-OUT1: NL2-ETH0-UP ' &&
	ok 'NL1-READY' && ! ok 'NL1-OUT1: NL2-INSMOD-FAIL'; then
	nested_pass virtio_net_linux_binds_and_configures
else
	nested_fail virtio_net_linux_binds_and_configures "$(out 'NL1-(TAP|READY)|NL1-OUT1: NL2-(PCI|NETDEVS|ETH0|INSMOD)' | tr '\n' ' ')"
	nested_show 1
fi
if ok 'NL1-PING-1=3$' && ok 'NL1-DOWN-1=ok ' && ok 'NL1-UP-1=ok '; then
	nested_pass virtio_net_linux_ping_and_tcp_before_checkpoint
else
	nested_fail virtio_net_linux_ping_and_tcp_before_checkpoint "$(out 'NL1-(PING|DOWN|UP)-1' | tr '\n' ' ')"
fi
if ok 'NL1-CTL=.*checkpoint written' && ok 'NL1-PING-2=3$' && ok 'NL1-DOWN-2=ok ' && ok 'NL1-UP-2=ok '; then
	nested_pass virtio_net_linux_checkpoint_kill_restore_ping_and_tcp
else
	nested_fail virtio_net_linux_checkpoint_kill_restore_ping_and_tcp "$(out 'NL1-(CTL|PING-2|DOWN-2|UP-2)' | tr '\n' ' ')"
	nested_show 1
fi
# A restored guest answers as soon as it runs: requests it made available
# before the save must not wait for the driver's next notification (or its
# transmit watchdog, 5 s).  Normally ~1 s; the bound allows for a busy host.
gap=$(out 'NL1-FIRST-REPLY ' | sed -n 's/.*reply_after_control_ms=\([0-9]*\).*/\1/p')
if [ -n "$gap" ] && [ "$gap" -le 4000 ]; then
	nested_pass virtio_net_linux_restored_guest_answers_at_once
else
	nested_fail virtio_net_linux_restored_guest_answers_at_once "$(out 'NL1-FIRST-REPLY')"
fi
want=$(out 'NL1-LONG-WANT=' | sed 's/.*=//' | head -1)
if [ -n "$want" ] && ok "NL1-LONG=NL2-LONG 1048576 $want\$" && ok 'NL1-LONG-NC=0$'; then
	nested_pass virtio_net_linux_tcp_connection_survives_restore
else
	nested_fail virtio_net_linux_tcp_connection_survives_restore "want $want: $(out 'NL1-LONG' | tr '\n' ' ')"
fi
if ok 'NL1-OUT2: NL2-STOP=stop' && ok 'NL1-EXIT2=1$'; then
	nested_pass virtio_net_linux_restored_guest_powers_off
else
	nested_fail virtio_net_linux_restored_guest_powers_off "$(out 'NL1-EXIT2|NL1-OUT2: NL2-STOP' | tr '\n' ' ')"
fi
exit $nested_failed
