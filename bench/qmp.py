#!/usr/bin/env python3
"""Minimal QMP client for bench/snapshot-vs-qemu.sh.

  qmp.py SOCKET save FILE       stop, migrate to FILE (max-bandwidth lifted),
                                wait for completion; prints seconds
  qmp.py SOCKET live FILE       migrate while running; prints seconds and
                                QEMU's reported downtime (ms)
  qmp.py SOCKET quit
"""
import json, socket, sys, time


class Qmp:
    def __init__(self, path):
        for _ in range(200):
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                time.sleep(0.05)
        else:
            sys.exit("qmp.py: cannot connect to " + path)
        self.f = self.s.makefile("rw")
        json.loads(self.f.readline())  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "return" in r:
                return r["return"]
            if "error" in r:
                sys.exit("qmp.py: %s: %s" % (name, r["error"]))
            # events are skipped


def migrate(q, path, stop):
    q.cmd("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
    if not stop:
        q.cmd("migrate-set-parameters", **{"downtime-limit": 100})
    t0 = time.monotonic()
    if stop:
        q.cmd("stop")
    q.cmd("migrate", uri="exec:cat > " + path)
    while True:
        st = q.cmd("query-migrate")
        if st.get("status") in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.002)
    t = time.monotonic() - t0
    if st["status"] != "completed":
        sys.exit("qmp.py: migration %s" % st["status"])
    return t, st


def main():
    q = Qmp(sys.argv[1])
    what = sys.argv[2]
    if what == "save":
        t, st = migrate(q, sys.argv[3], True)
        print("%.4f" % t)
    elif what == "live":
        t, st = migrate(q, sys.argv[3], False)
        print("%.4f %s" % (t, st.get("downtime", -1)))
    elif what == "quit":
        q.cmd("quit")


main()
