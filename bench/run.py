"""One-command benchmark: pnut's upsd and upsc beside Debian's real NUT 2.8.0, measured in the same run.

    python bench/run.py [--seconds N] [--clients 1,100,1000]

Both servers read the same ups.conf and connect to the same real dummy-ups driver socket, so only upsd
differs.  Load comes from bench/loadgen.c (compiled here with cc), a closed-loop C client, so the load
generator is never the bottleneck.  Prints a table of throughput, p50/p99 latency and RSS with the ratio
pnut/real for each row, then the one-shot upsc process times beside `python -c pass`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEV = HERE.parent.parent / "shared" / "fixtures" / "nut-ddl" / "APC__Smart-UPS_1500__usbhid-ups__2.7.2__01.dev"
REAL_UPSD = "/lib/nut/upsd"
REAL_DUMMY = "/lib/nut/dummy-ups"
REAL_UPSC = "/bin/upsc"
NOFILE = 8192


def _raise_nofile() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def _ours(name: str) -> str:
    p = Path(sys.executable).parent / name
    return str(p) if p.exists() else shutil.which(name) or name


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _wait_port(port: int, timeout: float = 15) -> None:
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5) as s:
                s.sendall(b"GET VAR bench ups.status\n")
                if s.recv(200).startswith(b"VAR"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not serve the UPS in {timeout}s")


class Stack:
    """A private NUT layout, one real dummy-ups, and two upsd (real and ours) reading its socket."""

    def __init__(self, root: Path):
        self.root = root
        self.conf, self.state = root / "etc", root / "run"
        self.conf.mkdir(parents=True)
        self.state.mkdir(parents=True)
        self.procs: list[subprocess.Popen] = []
        self.ports = {"real": _free_port(), "pnut": _free_port()}
        user = ["-u", "root"] if os.geteuid() == 0 else []
        self.user = user
        shutil.copy(DEV, self.conf / "bench.dev")
        (self.conf / "ups.conf").write_text(f"[bench]\n driver = dummy-ups\n port = {self.conf}/bench.dev\n")
        (self.conf / "upsd.users").write_text("[admin]\n password = x\n")

    def env(self, confdir: Path) -> dict[str, str]:
        return dict(os.environ, NUT_CONFPATH=str(confdir), NUT_STATEPATH=str(self.state),
                    NUT_ALTPIDPATH=str(self.state), NUT_QUIET_INIT_SSL="true")

    def start(self) -> dict[str, int]:
        self._spawn([REAL_DUMMY, "-a", "bench", "-F"] + self.user, self.conf)
        sock = self.state / "dummy-ups-bench"
        deadline = time.monotonic() + 10
        while not sock.exists():
            if time.monotonic() > deadline:
                raise SystemExit("dummy-ups did not create its socket")
            time.sleep(0.05)
        pids = {}
        for name, prog in (("real", REAL_UPSD), ("pnut", os.environ.get("PNUT_BENCH_UPSD") or _ours("upsd"))):
            confdir = self.root / f"etc-{name}"
            shutil.copytree(self.conf, confdir)
            (confdir / "upsd.conf").write_text(f"LISTEN 127.0.0.1 {self.ports[name]}\nMAXCONN 4096\n")
            for f in confdir.iterdir():
                os.chmod(f, 0o600)
            p = self._spawn([prog, "-F"] + self.user, confdir)
            _wait_port(self.ports[name])
            pids[name] = p.pid
        return pids

    def _spawn(self, argv: list[str], confdir: Path) -> subprocess.Popen:
        p = subprocess.Popen(argv, env=self.env(confdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             preexec_fn=_raise_nofile)
        self.procs.append(p)
        return p

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def build_loadgen(tmp: Path) -> str:
    exe = tmp / "loadgen"
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise SystemExit("bench needs a C compiler (cc) for bench/loadgen.c")
    subprocess.run([cc, "-O2", "-o", str(exe), str(HERE / "loadgen.c")], check=True)
    return str(exe)


def load(loadgen: str, port: int, clients: int, seconds: float, request: str, pid: int) -> dict:
    p = subprocess.Popen([loadgen, "127.0.0.1", str(port), str(clients), str(seconds), request],
                         stdout=subprocess.PIPE, text=True, preexec_fn=_raise_nofile)
    time.sleep(seconds * 0.6)
    rss = _rss_kb(pid)
    out, _ = p.communicate(timeout=seconds + 60)
    result = json.loads(out)
    result["rss_kb"] = rss
    return result


def time_process(argv: list[str], env: dict[str, str], runs: int) -> float:
    """Median wall time of one process run, in ms."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="duration of each load run")
    ap.add_argument("--clients", default="1,100,1000", help="comma-separated client counts")
    ap.add_argument("--runs", type=int, default=40, help="process runs for the upsc timing")
    args = ap.parse_args()
    for prog in (REAL_UPSD, REAL_DUMMY, REAL_UPSC):
        if not os.access(prog, os.X_OK):
            raise SystemExit(f"{prog} missing: install Debian's nut-server and nut-client")
    _raise_nofile()
    rows = []
    with tempfile.TemporaryDirectory(prefix="pnut-bench-") as d:
        tmp = Path(d)
        loadgen = build_loadgen(tmp)
        stack = Stack(tmp / "nut")
        try:
            pids = stack.start()
            idle = {name: _rss_kb(pid) for name, pid in pids.items()}
            print(f"interpreter: {sys.executable} ({sys.version.split()[0]})")
            print(f"idle RSS: real upsd {idle['real']} kB, pnut upsd {idle['pnut']} kB "
                  f"(ratio {idle['pnut'] / idle['real']:.2f})\n")
            hdr = f"{'request':<10} {'clients':>7} | {'real req/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'RSS kB':>7} |" \
                  f" {'pnut req/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'RSS kB':>7} | {'thr ratio':>9}"
            print(hdr)
            print("-" * len(hdr))
            for request in ("GET VAR bench ups.status", "LIST VAR bench"):
                for n in (int(c) for c in args.clients.split(",")):
                    res = {name: load(loadgen, stack.ports[name], n, args.seconds, request, pids[name])
                           for name in ("real", "pnut")}
                    r, p = res["real"], res["pnut"]
                    ratio = p["rps"] / r["rps"] if r["rps"] else float("nan")
                    label = request.split()[0] + " " + request.split()[1]
                    print(f"{label:<10} {n:>7} | {r['rps']:>10.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} "
                          f"{r['rss_kb']:>7} | {p['rps']:>10.0f} {p['p50_ms']:>7.2f} {p['p99_ms']:>7.2f} "
                          f"{p['rss_kb']:>7} | {ratio:>9.2f}", flush=True)
                    rows.append({"request": request, "clients": n, "real": r, "pnut": p, "ratio": ratio})
            env = stack.env(stack.conf)
            target = f"bench@127.0.0.1:{stack.ports['real']}"
            py = time_process([sys.executable, "-c", "pass"], env, args.runs)
            ours = time_process([_ours("upsc"), target, "ups.status"], env, args.runs)
            real = time_process([REAL_UPSC, target, "ups.status"], env, args.runs)
            print(f"\none-shot `upsc {target} ups.status`, median of {args.runs} runs:")
            print(f"  python -c pass  {py:7.1f} ms   ({sys.executable})")
            print(f"  pnut upsc       {ours:7.1f} ms   ratio to python -c pass: {ours / py:.2f}")
            print(f"  real upsc       {real:7.1f} ms   pnut/real: {ours / real:.2f}")
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
