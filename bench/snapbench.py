#!/usr/bin/env python3
"""Snapshot benchmark: hyve against QEMU on the same Multiboot guest and the
same /dev/kvm (issue 8).  Run through bench/snapshot-vs-qemu.sh, which
builds everything first.

For each (guest size, filled MiB) it boots tests/guest/snapcount.c under
each VMM, waits for its ticks, saves it stopped (hyve: hyvectl --suspend;
QEMU: stop + migrate "exec:cat > FILE" with max-bandwidth lifted), then
restores it and times process start -> the first "tick" line the restored
guest prints.  Everything is measured from outside (wall clock of this
script) except hyve's pause, which hyve itself reports (paused_seconds).

Output: a text table on stdout, and with --data FILE the plot series.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HYVE = os.path.join(TOP, "bin", "hyve")
HYVECTL = os.path.join(TOP, "bin", "hyvectl")
GUEST = os.path.join(TOP, "tests", "guest", "build", "snapcount.elf")
GUEST_QEMU = os.path.join(TOP, "tests", "guest", "build", "snapcount.qemu.elf")
QMP = os.path.join(TOP, "bench", "qmp.py")
TICK = re.compile(rb"^tick (\d+) ")
BIG_VMA = 128 << 20  # VMAs this large are guest RAM in both VMMs
# Bounds on waits grow where everything runs under emulation (the rig's L1,
# where bench/snapshot-vs-qemu.sh sets BENCH_SCALE); the figures are ratios.
SCALE = int(os.environ.get("BENCH_SCALE", "1"))


class Vm:
    """A VMM process whose serial console is its stdout; lines are
    timestamped as they arrive."""

    def __init__(self, argv, cwd):
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=open(os.path.join(cwd, "stderr.log"), "ab"), cwd=cwd)
        self.lines = []
        self.cv = threading.Condition()
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        for line in self.p.stdout:
            with self.cv:
                self.lines.append((time.monotonic(), line.replace(b"\r", b"")))
                self.cv.notify_all()
        with self.cv:
            self.lines.append((time.monotonic(), None))
            self.cv.notify_all()

    def wait_tick(self, after=0, timeout=120):
        """Time (since start) of the first tick line numbered > after."""
        timeout *= SCALE
        end = time.monotonic() + timeout
        i = 0
        with self.cv:
            while True:
                while i < len(self.lines):
                    t, line = self.lines[i]
                    i += 1
                    if line is None:
                        raise RuntimeError("VMM exited: " + self.tail())
                    m = TICK.match(line)
                    if m and int(m.group(1)) > after:
                        return t - self.t0, int(m.group(1))
                    if line.startswith(b"FAIL"):
                        raise RuntimeError(line.decode(errors="replace"))
                left = end - time.monotonic()
                if left <= 0:
                    raise RuntimeError("no tick within %ds: %s" % (timeout, self.tail()))
                self.cv.wait(left)

    def tail(self):
        return b" | ".join(l for _, l in self.lines[-3:] if l).decode(errors="replace").strip()

    def rss_kib(self):
        """(total RSS, RSS outside guest-RAM-sized mappings) in KiB."""
        total = other = 0
        size = 0
        with open("/proc/%d/smaps" % self.p.pid) as f:
            for line in f:
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    a, b = line.split()[0].split("-")
                    size = int(b, 16) - int(a, 16)
                elif line.startswith("Rss:"):
                    kib = int(line.split()[1])
                    total += kib
                    if size < BIG_VMA:
                        other += kib
        return total, other

    def kill(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
        self.p.wait()


def file_bytes(*paths):
    app = alloc = 0
    for p in paths:
        st = os.stat(p)
        app += st.st_size
        alloc += st.st_blocks * 512
    return app, alloc


def drop(*paths):
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


def tick_ms(fill):
    """The guest re-verifies 1/16 of its fill per tick and fails if a tick
    comes 40 periods late: short ticks for a precise first-tick time, but
    long enough for that verification on a loaded host."""
    return 10


def cache(paths, hot):
    """Puts the snapshot files into the page cache (hot) or evicts them
    (cold: as after a reboot), for these files only."""
    for p in paths:
        with open(p, "rb") as f:
            if hot:
                while f.read(8 << 20):
                    pass
            else:
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def warm(d, nbytes):
    """This host backs its own RAM lazily: the first write to a page the
    kernel has not used lately costs several times a warm one.  Every save
    is preceded by writing and deleting as many bytes, so that no VMM pays
    for another's (or the previous run's) cold memory."""
    out = os.path.join(d, "warm.out")
    subprocess.run(["dd", "if=/dev/zero", "of=" + out, "bs=8M",
                    "count=%d" % max(1, (nbytes + (8 << 20) - 1) >> 23), "status=none"], check=True)
    drop(out)


REPEATS = 3  # restores per VMM and size; the median is reported


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def bench_hyve(d, mem, fill, modes, io="direct"):
    r = {}
    sock = os.path.join(d, "h.sock")
    snap = os.path.join(d, "h.snap")
    drop(snap, snap + ".mem")
    os.environ["HYVE_SNAPSHOT_IO"] = io
    warm(d, 2 * (fill << 20))
    vm = Vm([HYVE, "--debug-exit", "-c", "1", "-m", "%dM" % mem, "-l", "com1,stdio",
             "--control", sock, "--kernel", GUEST,
             "--cmdline", "mb=%d ticks=1000000 tick_ms=%d" % (fill, tick_ms(fill)), "bench"], d)
    try:
        vm.wait_tick(1)
        t = time.monotonic()
        out = subprocess.run([HYVECTL, "--socket=" + sock, "--suspend=" + snap, "--json"],
                             capture_output=True, text=True)
        r["save_durable"] = time.monotonic() - t
        if out.returncode:
            raise RuntimeError("hyvectl: " + out.stderr.strip())
        reply = json.loads(out.stdout.strip().splitlines()[-1])
        r["pause"] = reply["paused_seconds"]
        r["save"] = reply["paused_seconds"]  # all data written (page cache)
        vm.p.wait(timeout=60 * SCALE)
    finally:
        vm.kill()
    r["bytes"], r["alloc"] = file_bytes(snap, snap + ".mem")
    if modes:
        cache([snap, snap + ".mem"], False)
        vm = Vm([HYVE, "-r", snap, "-l", "com1,stdio", "--control", os.path.join(d, "r.sock")], d)
        try:
            r["restore_cold"] = vm.wait_tick()[0]
        finally:
            vm.kill()
        cache([snap, snap + ".mem"], True)
    for mode in modes:
        ts = []
        for i in range(REPEATS):
            vm = Vm([HYVE, "-r", snap, "--restore-mode=" + mode, "-l", "com1,stdio",
                     "--control", os.path.join(d, "r.sock")], d)
            try:
                t, n = vm.wait_tick()
                ts.append(t)
                if i == 0:
                    time.sleep(0.3)
                    r["rss_" + mode] = vm.rss_kib()
            finally:
                vm.kill()
        r["restore_" + mode] = median(ts)
    if modes:
        r["restore"] = r["restore_" + modes[0]]
        r["rss"] = r["rss_" + modes[0]]
    return r, snap


def qemu_argv(d, mem, fill, extra):
    return ["qemu-system-x86_64", "-accel", "kvm", "-cpu", "kvm64,-arch-capabilities",
            "-m", "%d" % mem, "-smp", "1", "-display", "none", "-serial", "stdio", "-net", "none",
            "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
            "-kernel", GUEST_QEMU, "-append", "mb=%d ticks=1000000 tick_ms=%d" % (fill, tick_ms(fill)),
            "-qmp", "unix:%s,server=on,wait=off" % os.path.join(d, "qmp.sock"),
            # The stream would otherwise record "stopped" (we stop before
            # migrating) and the restored QEMU would wait for "cont".
            "-global", "migration.store-global-state=off"] + extra


def qmp(d, *args):
    out = subprocess.run([sys.executable, QMP, os.path.join(d, "qmp.sock")] + list(args),
                         capture_output=True, text=True, timeout=300 * SCALE)
    if out.returncode:
        raise RuntimeError("qmp.py: " + (out.stderr or out.stdout).strip())
    return out.stdout.split()


def bench_qemu(d, mem, fill, live):
    r = {}
    mig = os.path.join(d, "q.mig")
    drop(mig, os.path.join(d, "qmp.sock"))
    warm(d, 2 * (fill << 20))
    vm = Vm(qemu_argv(d, mem, fill, []), d)
    try:
        vm.wait_tick(1)
        r["save"] = r["pause"] = float(qmp(d, "save", mig)[0])
        t = time.monotonic()
        fd = os.open(mig, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        r["save_durable"] = r["save"] + time.monotonic() - t
        qmp(d, "quit")
        vm.p.wait(timeout=30 * SCALE)
    finally:
        vm.kill()
    r["bytes"], r["alloc"] = file_bytes(mig)
    drop(os.path.join(d, "qmp.sock"))
    cache([mig], False)
    drop(os.path.join(d, "qmp.sock"))
    vm = Vm(qemu_argv(d, mem, fill, ["-incoming", "exec:cat " + mig]), d)
    try:
        r["restore_cold"] = vm.wait_tick()[0]
    finally:
        vm.kill()
    cache([mig], True)
    ts = []
    for i in range(REPEATS):
        drop(os.path.join(d, "qmp.sock"))
        vm = Vm(qemu_argv(d, mem, fill, ["-incoming", "exec:cat " + mig]), d)
        try:
            t, n = vm.wait_tick()
            ts.append(t)
            if i == 0:
                time.sleep(0.3)
                r["rss"] = vm.rss_kib()
        finally:
            vm.kill()
    r["restore"] = median(ts)
    if live:
        drop(os.path.join(d, "qmp.sock"), mig)
        warm(d, 2 * (fill << 20))
        vm = Vm(qemu_argv(d, mem, fill, []), d)
        try:
            vm.wait_tick(1)
            try:
                _, downtime = qmp(d, "live", mig)
                r["live_downtime"] = float(downtime) / 1000.0
                qmp(d, "quit")
                vm.p.wait(timeout=30 * SCALE)
            except RuntimeError as e:
                # The guest's own clock check may fail while a live
                # migration competes with it for the host's cores.
                print("bench: QEMU live migration: %s" % str(e).splitlines()[-1], file=sys.stderr)
        finally:
            vm.kill()
    drop(mig)
    return r


def dd_limit(d, nbytes):
    """Seconds for dd to write nbytes of zeroes into the page cache, and
    the same plus fsync."""
    out = os.path.join(d, "dd.out")
    res = []
    for conv in ([], ["conv=fsync"]):
        warm(d, nbytes)
        count = max(1, (nbytes + (8 << 20) - 1) >> 23)
        t = time.monotonic()
        subprocess.run(["dd", "if=/dev/zero", "of=" + out, "bs=8M", "count=%d" % count, "status=none"]
                       + conv, check=True)
        res.append(time.monotonic() - t)
    drop(out)
    return res


def ratio(h, q):
    return "%.2f" % (h / q) if q else "-"


def fmt_s(v):
    return "%.3f s" % v if v >= 0.1 else "%.1f ms" % (v * 1000)


def table(rows):
    print("\n%-34s %12s %12s %8s" % ("", "hyve", "QEMU", "hyve/QEMU"))
    for (mem, fill), (h, q, dd) in rows:
        print("-- %d MiB guest, %d MiB filled --" % (mem, fill))
        lines = [
            ("save, stopped, O_DIRECT", h["save"], q["save"], fmt_s),
            ("save, durable, O_DIRECT", h["save_durable"], q["save_durable"], fmt_s),
            ("pause (vCPUs stopped), O_DIRECT", h["pause"], q["pause"], fmt_s),
            ("snapshot bytes, apparent", h["bytes"] / 2**20, q["bytes"] / 2**20, lambda v: "%.1f MiB" % v),
            ("snapshot bytes, allocated", h["alloc"] / 2**20, q["alloc"] / 2**20, lambda v: "%.1f MiB" % v),
            ("restore to first tick (warm cache)", h["restore"], q["restore"], fmt_s),
            ("restore to first tick (cold cache)", h["restore_cold"], q["restore_cold"], fmt_s),
            ("monitor RSS without guest RAM", h["rss"][1] / 1024, q["rss"][1] / 1024, lambda v: "%.1f MiB" % v),
            ("RSS with guest RAM touched", h["rss"][0] / 1024, q["rss"][0] / 1024, lambda v: "%.1f MiB" % v),
        ]
        for name, hv, qv, f in lines:
            print("%-34s %12s %12s %8s" % (name, f(hv), f(qv), ratio(hv, qv)))
        print("%-34s %12s %12s %8s" % ("hyve default (buffered): pause", fmt_s(h["buffered_pause"]), fmt_s(q["pause"]),
                                        ratio(h["buffered_pause"], q["pause"])))
        print("%-34s %12s %12s %8s" % ("hyve default (buffered): durable", fmt_s(h["buffered_durable"]),
                                        fmt_s(q["save_durable"]), ratio(h["buffered_durable"], q["save_durable"])))
        for mode in ("prefault", "eager"):
            if "restore_" + mode in h:
                print("%-34s %12s" % ("hyve restore, --restore-mode=" + mode, fmt_s(h["restore_" + mode])))
        if q.get("live_downtime") is not None:
            print("%-34s %12s %12s %8s" % ("QEMU live-migration downtime", "", fmt_s(q["live_downtime"]),
                                            ""))
        print("%-34s %12s" % ("dd of the same bytes (page cache)", fmt_s(dd[0])))
        print("%-34s %12s" % ("dd of the same bytes + fsync", fmt_s(dd[1])))
        print("%-34s %12s" % ("hyve save / dd", "%.2f" % (h["save"] / dd[0])))
        print("%-34s %12s" % ("hyve durable save / dd + fsync", "%.2f" % (h["save_durable"] / dd[1])))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--table", default="1024:512,4096:3040")
    ap.add_argument("--sweep", default="256:128,1024:128,4096:128,16384:128")
    ap.add_argument("--data", help="write the sweep's plot data here")
    ap.add_argument("--json", help="write every figure here")
    a = ap.parse_args()
    allres = {"table": [], "sweep": []}
    rows = []
    for spec in a.table.split(","):
        if not spec:
            continue
        mem, fill = map(int, spec.split(":"))
        print("bench: %d MiB guest, %d MiB filled ..." % (mem, fill), file=sys.stderr)
        h, snap = bench_hyve(a.dir, mem, fill, ["lazy", "prefault", "eager"])
        drop(snap, snap + ".mem")
        hb, snap = bench_hyve(a.dir, mem, fill, [], "buffered")
        drop(snap, snap + ".mem")
        h["buffered_pause"], h["buffered_durable"] = hb["pause"], hb["save_durable"]
        dd = dd_limit(a.dir, h["alloc"])
        q = bench_qemu(a.dir, mem, fill, True)
        rows.append(((mem, fill), (h, q, dd)))
        allres["table"].append({"mem": mem, "fill": fill, "hyve": h, "qemu": q, "dd": dd})
        table(rows[-1:])
    sweep = []
    for spec in a.sweep.split(","):
        if not spec:
            continue
        mem, fill = map(int, spec.split(":"))
        print("bench: sweep %d MiB guest, %d MiB filled ..." % (mem, fill), file=sys.stderr)
        h, snap = bench_hyve(a.dir, mem, fill, ["lazy"])
        drop(snap, snap + ".mem")
        q = bench_qemu(a.dir, mem, fill, False)
        sweep.append((mem, fill, h, q))
        allres["sweep"].append({"mem": mem, "fill": fill, "hyve": h, "qemu": q})
        print("  %6d MiB: hyve save %s restore %s | QEMU save %s restore %s" %
              (mem, fmt_s(h["save"]), fmt_s(h["restore"]), fmt_s(q["save"]), fmt_s(q["restore"])),
              file=sys.stderr)
    if a.data:
        with open(a.data, "w") as f:
            f.write("# mem_MiB fill_MiB hyve_save_s hyve_restore_s qemu_save_s qemu_restore_s\n")
            for mem, fill, h, q in sweep:
                f.write("%d %d %.5f %.5f %.5f %.5f\n" % (mem, fill, h["save"], h["restore"], q["save"],
                                                         q["restore"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(allres, f, indent=1)
    if rows:
        print("\n== summary (one run) ==")
        table(rows)


if __name__ == "__main__":
    main()
