"""How soon upsmon notifies ONBATT after the driver sees the mains fail: pnut beside real NUT 2.8.0.

    python bench/onbatt.py [--trials N] [--idle SECONDS]

Two stacks run side by side, each with default upsmon settings (POLLFREQ 5, POLLFREQALERT 5):
  real  Debian's dummy-ups + upsd + upsmon
  pnut  our dummy-ups + upsd + upsmon
Each trial sets `ups.status` to `OB DISCHRG` in the driver (SET VAR through upsd: dummy-ups applies it at
once, so that instant is "the driver sees the change") and times the ONBATT notification, which NOTIFYCMD
stamps; then back to OL, and a random pause so the failures land at every phase of the poll cycle.
Afterwards both upsmons idle for --idle seconds and their CPU time is read from /proc.
It also reports whether the upsd answered WATCH (upsmon/PUSH.md): without it pnut's upsmon polls as NUT's.
A last row ("push*") times our upsmon against the test suite's stand-in server that implements WATCH: the
upsmon side of the fast path, until our upsd offers WATCH itself (then the "pnut" row shows it end to end).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REAL = {"dummy-ups": "/lib/nut/dummy-ups", "upsd": "/lib/nut/upsd", "upsmon": "/lib/nut/upsmon"}
NOTIFY_SH = """#!/bin/sh
printf '%s %s\\n' "$(date +%s.%N)" "$NOTIFYTYPE" >> "$0.log"
"""


def ours(name: str) -> str:
    p = Path(sys.executable).parent / name
    return str(p) if p.exists() else shutil.which(name) or name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, name: str, root: Path, progs: dict[str, str]) -> None:
        self.name, self.root, self.progs = name, root, progs
        self.port = free_port()
        self.conf, self.state = root / "etc", root / "run"
        self.conf.mkdir(parents=True)
        self.state.mkdir()
        self.env = dict(os.environ, NUT_CONFPATH=str(self.conf), NUT_STATEPATH=str(self.state),
                        NUT_ALTPIDPATH=str(self.state), NUT_PIDPATH=str(self.state), NUT_QUIET_INIT_SSL="true")
        (self.conf / "ups.dev").write_text("ups.status: OL\nbattery.charge: 100\n")
        (self.conf / "ups.conf").write_text("[ups]\n\tdriver = dummy-ups\n\tport = ups.dev\n")
        (self.conf / "upsd.conf").write_text(f"LISTEN 127.0.0.1 {self.port}\n")
        (self.conf / "upsd.users").write_text("[mon]\n\tpassword = pass\n\tactions = SET\n\tupsmon primary\n")
        notify = root / "notify.sh"
        notify.write_text(NOTIFY_SH)
        notify.chmod(0o755)
        self.log = root / "notify.sh.log"
        (self.conf / "upsmon.conf").write_text(
            f"MONITOR ups@127.0.0.1:{self.port} 1 mon pass primary\nSHUTDOWNCMD /bin/true\n"
            f"NOTIFYCMD {notify}\nNOTIFYFLAG ONBATT EXEC\nNOTIFYFLAG ONLINE EXEC\nRUN_AS_USER root\n")
        for f in self.conf.iterdir():
            f.chmod(0o640)
        self.procs: list[subprocess.Popen] = []
        self.monitor_pids: list[int] = []

    def start(self) -> None:
        def spawn(argv: list[str]) -> subprocess.Popen:
            p = subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(p)
            return p
        spawn([self.progs["dummy-ups"], "-a", "ups", "-F", "-u", "root"])
        spawn([self.progs["upsd"], "-F", "-u", "root"])
        self._wait(lambda: self.get_status() == "OL", "upsd")
        mon = spawn([self.progs["upsmon"], "-F", "-u", "root"] + (["-p"] if self.name == "real" else []))
        self.monitor_pids.append(mon.pid)
        if self.name != "real":
            pidfile = self.state / "upsmon.pid"
            self._wait(pidfile.exists, "upsmon pid file")
            time.sleep(0.2)
            self.monitor_pids.append(int(pidfile.read_text()))
        time.sleep(6)          # past upsmon's first 5 s pause: it now sleeps POLLFREQ between polls

    def _wait(self, pred, what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name}: timed out waiting for {what}")
            time.sleep(0.1)

    def _talk(self, lines: list[str]) -> list[str]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            f = s.makefile("rw")
            out = []
            for line in lines:
                f.write(line + "\n")
                f.flush()
                out.append(f.readline().strip())
            return out

    def get_status(self) -> str | None:
        try:
            reply = self._talk(["GET VAR ups ups.status"])[0]
        except OSError:
            return None
        return reply.split('"')[1] if reply.startswith("VAR") else None

    def set_status(self, value: str) -> float:
        t0 = time.time()
        self._talk(["USERNAME mon", "PASSWORD pass", f'SET VAR ups ups.status "{value}"'])
        return t0

    def watch_supported(self) -> bool:
        try:
            return self._talk(["WATCH ups"])[0].startswith("OK")
        except OSError:
            return False

    def notices(self, typ: str) -> list[float]:
        if not self.log.exists():
            return []
        return [float(line.split()[0]) for line in self.log.read_text().splitlines() if line.split()[1] == typ]

    def trial(self, typ: str, status: str) -> float | None:
        seen = len(self.notices(typ))
        t0 = self.set_status(status)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = self.notices(typ)
            if len(got) > seen:
                return got[seen] - t0
            time.sleep(0.01)
        return None

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.monitor_pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        for pid in self.monitor_pids[1:]:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def standin_trials(root: Path, trials: int) -> list[float | None]:
    """Our upsmon against the test suite's stand-in server that implements WATCH (upsmon/PUSH.md): the
    upsmon side of the fast path alone, until our upsd offers WATCH itself."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.e2e.test_rehearsal_push import StandIn
    srv = StandIn(watch=True)
    root.mkdir(parents=True)
    notify = root / "notify.sh"
    notify.write_text(NOTIFY_SH)
    notify.chmod(0o755)
    conf = root / "upsmon.conf"
    conf.write_text(f"MONITOR ups@127.0.0.1:{srv.port} 1 u p primary\nSHUTDOWNCMD /bin/true\n"
                    f"NOTIFYCMD {notify}\nNOTIFYFLAG ONBATT EXEC\nNOTIFYFLAG ONLINE EXEC\nRUN_AS_USER root\n")
    env = dict(os.environ, NUT_PIDPATH=str(root))
    p = subprocess.Popen([ours("upsmon"), "-F", "-f", str(conf)], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    log = root / "notify.sh.log"
    out: list[float | None] = []

    def seen(typ: str) -> list[float]:
        if not log.exists():
            return []
        return [float(ln.split()[0]) for ln in log.read_text().splitlines() if ln.split()[1] == typ]
    try:
        deadline = time.monotonic() + 20
        while not srv.watchers and time.monotonic() < deadline:
            time.sleep(0.1)
        rnd = random.Random(7)
        for _ in range(trials):
            for typ, status in (("ONBATT", "OB DISCHRG"), ("ONLINE", "OL")):
                n = len(seen(typ))
                t0 = time.time()
                srv.set_status(status)
                end = time.monotonic() + 20
                while len(seen(typ)) <= n and time.monotonic() < end:
                    time.sleep(0.005)
                got = seen(typ)
                if typ == "ONBATT":
                    out.append(got[n] - t0 if len(got) > n else None)
                time.sleep(rnd.uniform(0, 2))
    finally:
        pidfile = root / "upsmon.pid"
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), 15)
            except (ProcessLookupError, ValueError):
                pass
        p.terminate()
        p.wait(10)
        srv.close()
    return out


def run_trials(st: Stack, trials: int, results: dict[str, list[float | None]]) -> None:
    rnd = random.Random(hash(st.name))
    for _ in range(trials):
        results[st.name].append(st.trial("ONBATT", "OB DISCHRG"))
        st.trial("ONLINE", "OL")
        time.sleep(rnd.uniform(0, 5))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--idle", type=float, default=30.0)
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("run as root (the drivers and upsd are started with -u root)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pnut-bench-onbatt-") as d:
        stacks = [Stack("real", Path(d) / "real", REAL),
                  Stack("pnut", Path(d) / "pnut", {k: ours(k) for k in REAL})]
        results: dict[str, list[float | None]] = {s.name: [] for s in stacks}
        try:
            for s in stacks:
                s.start()
            threads = [threading.Thread(target=run_trials, args=(s, args.trials, results)) for s in stacks]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            cpu0 = {s.name: s.cpu_seconds() for s in stacks}
            time.sleep(args.idle)
            cpu = {s.name: s.cpu_seconds() - cpu0[s.name] for s in stacks}
            pushed = standin_trials(Path(d) / "standin", args.trials)
            print(f"ONBATT notification after the driver's change ({args.trials} trials, default POLLFREQ 5)")
            print(f"{'stack':6} {'WATCH':6} {'mean s':>7} {'median s':>9} {'max s':>7} {'missed':>6} "
                  f"{'idle CPU %':>10}")
            for s in stacks:
                got = [x for x in results[s.name] if x is not None]
                missed = len(results[s.name]) - len(got)
                mean = statistics.mean(got) if got else float("nan")
                med = statistics.median(got) if got else float("nan")
                mx = max(got) if got else float("nan")
                print(f"{s.name:6} {'yes' if s.watch_supported() else 'no':6} {mean:7.3f} {med:9.3f} {mx:7.3f} "
                      f"{missed:6d} {100 * cpu[s.name] / args.idle:10.3f}")
            got = [x for x in pushed if x is not None]
            if got:
                print(f"{'push*':6} {'yes':6} {statistics.mean(got):7.3f} {statistics.median(got):9.3f} "
                      f"{max(got):7.3f} {len(pushed) - len(got):6d} {'-':>10}")
                print("* our upsmon against a stand-in server implementing WATCH (upsmon/PUSH.md), "
                      "until our upsd offers it")
        finally:
            for s in stacks:
                s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
