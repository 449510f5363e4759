#!/bin/busybox sh
# /init of the host-root L1 (tools/in-rig): Debian's kernel under QEMU-TCG
# with emulated AMD SVM.  Loads the modules the rig baked in, mounts the
# host's root (9p, read-only) under a tmpfs overlay, mounts the writable
# shares over their own paths, the scratch disk on /tmp and /var/tmp, loads
# KVM, then runs /rig/command in a chroot of that root with the caller's
# working directory and environment.  Its output goes to the virtio console
# (the host prints it); its status to /rig-out/status.  Then powers off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec 0</dev/console 1>/dev/console 2>&1
echo "RIG-L1-UP uptime=$(cut -d' ' -f1 /proc/uptime)"

# rig/modules lists "FILE ARGS..." in dependency order (tools/in-rig).
while read -r m args; do
	[ -n "$m" ] || continue
	# shellcheck disable=SC2086
	insmod "/lib/modules/$m" $args || echo "RIG-L1-INSMOD-FAILED=$m"
done </rig/modules

fail() { echo "RIG-L1-FAILED: $*"; poweroff -f; sleep 5; }

mkdir -p /lower /upper /newroot /rig-out
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /lower ||
	fail "mounting the host's root over 9p"
mount -t tmpfs -o mode=755 tmpfs /upper || fail "tmpfs for the overlay"
mkdir -p /upper/u /upper/w
mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w overlay /newroot ||
	fail "overlay on the host's root"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 rigout /rig-out || fail "the rig's output share"

for d in proc sys dev tmp run var/tmp; do mkdir -p "/newroot/$d"; done
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /newroot/dev/pts
ln -sf pts/ptmx /newroot/dev/ptmx 2>/dev/null
mount -t tmpfs tmpfs /newroot/run
mount -t tmpfs tmpfs /newroot/dev/shm
# A disk-backed /tmp and /var/tmp (ext4 on a sparse host file): tests that
# write snapshots with O_DIRECT need a real filesystem, tmpfs has no O_DIRECT.
if [ -b /dev/vda ] && mount -t ext4 -o noatime /dev/vda /newroot/tmp; then
	chmod 1777 /newroot/tmp
	mkdir -p /newroot/tmp/.var-tmp
	chmod 1777 /newroot/tmp/.var-tmp
	mount --bind /newroot/tmp/.var-tmp /newroot/var/tmp
else
	echo "RIG-L1: no scratch disk; /tmp and /var/tmp are tmpfs (no O_DIRECT)"
	mount -t tmpfs tmpfs /newroot/tmp
	mount -t tmpfs tmpfs /newroot/var/tmp
fi
mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup 2>/dev/null

# Writable shares: tag rwN goes on the path on line N of rig/rw-paths (after
# /tmp, so that a share under /tmp is not hidden by it).
n=0
while read -r p; do
	[ -n "$p" ] || continue
	mkdir -p "/newroot$p"
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 "rw$n" "/newroot$p" ||
		fail "writable share rw$n on $p"
	n=$((n + 1))
done </rig/rw-paths
# L1 starts with no network at all; tests that make taps and namespaces
# want loopback up in the root namespace.
ip link set lo up 2>/dev/null

if [ -c /dev/kvm ]; then
	echo "RIG-L1-KVM-OK"
else
	echo "RIG-L1-KVM-FAILED"
	dmesg | grep -i -E 'kvm|svm' | tail -5
fi
cp /rig/command /newroot/run/rig-command
cp /rig/env /newroot/run/rig-env
echo "RIG-L1-READY uptime=$(cut -d' ' -f1 /proc/uptime)"

# A heartbeat for the host (tools/in-rig): an L1 whose kernel stops making
# progress (QEMU-TCG starved, a wedged vCPU) is told apart from a quiet test.
(while :; do cut -d' ' -f1 /proc/uptime >/rig-out/heartbeat.tmp && mv /rig-out/heartbeat.tmp /rig-out/heartbeat; sleep 5; done) &

# The kernel's text symbols, for naming where a wedged L1 stood.
(nice -n 19 awk '$2 == "t" || $2 == "T"' /proc/kallsyms >/rig-out/kallsyms) &

# The command's own output goes to the virtio console, the host's stdout;
# the serial console keeps the kernel's messages and these markers apart.
out=/dev/hvc0
[ -c "$out" ] || out=/dev/console
# Bytes as the command wrote them: no CR added before each LF.
stty -F "$out" raw -echo 2>/dev/null
chroot /newroot /bin/bash -c '. /run/rig-env; cd "$RIG_CWD" 2>/dev/null || cd /; exec /bin/bash /run/rig-command' \
	</dev/null >"$out" 2>&1
rc=$?
echo "$rc" >/rig-out/status
echo "RIG-L1-STATUS=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
poweroff -f
