#!/bin/busybox sh
# /init of L1: the Debian kernel that QEMU-TCG boots with emulated AMD SVM.
# Loads KVM, then runs the commands the rig baked into /rig/run.sh (hyve, or
# QEMU-KVM when validating the rig itself) and powers L1 off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# No /dev/console node in the initramfs: take the console from devtmpfs.
exec 0</dev/console 1>/dev/console 2>&1
mkdir -p /tmp /run /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t devpts devpts /dev/pts 2>/dev/null
echo "HYVE-L1-UP uptime=$(cut -d' ' -f1 /proc/uptime)"

# The order matters: each needs symbols of the one before.  nrips=0: QEMU's
# emulated SVM gets the next-RIP field wrong for some exits; AVIC is not
# emulated at all.
kvm_ok=1
for m in irqbypass kvm ccp "kvm-amd nrips=0 avic=0"; do
	set -- $m
	if ! insmod "/lib/modules/$1.ko" ${2:+"$2"} ${3:+"$3"}; then
		echo "HYVE-L1-INSMOD-FAILED=$1"
		kvm_ok=0
	fi
done
if [ "$kvm_ok" = 1 ] && [ -c /dev/kvm ]; then
	echo "HYVE-L1-KVM-OK"
else
	echo "HYVE-L1-KVM-FAILED"
	dmesg | grep -i -E 'kvm|svm' | tail -5
fi

# run.sh defines rig_run; each run prints HYVE-RUN-BEGIN/HYVE-EXIT markers.
if [ -f /rig/run.sh ]; then
	. /rig/run.sh
else
	echo "HYVE-L1-NO-RUN-SCRIPT"
fi
echo "HYVE-L1-DONE"
poweroff -f
