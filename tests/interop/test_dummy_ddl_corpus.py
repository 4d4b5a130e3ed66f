"""Every nut-ddl device dump, served by real NUT 2.8.0 upsd: our dummy-ups must look exactly like the real one.

Per batch of files: one ups.conf section per file, every real /lib/nut/dummy-ups and every one of ours
started at once, one real upsd over each set, then real upsc, `upscmd -l` and upsrw per UPS on both sides.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.procs import NutDirs, Procs, free_port, ours, real_nut, wait_for

CORPUS = Path(os.environ.get("PNUT_DDL_DIR", "/work/shared/fixtures/nut-ddl"))
FILES = sorted(CORPUS.glob("*.dev")) if CORPUS.is_dir() else []
BATCH = 100
BATCHES = [FILES[i:i + BATCH] for i in range(0, len(FILES), BATCH)]

# Real 2.8.0 drivers switch to synchronous mode (and say so in this variable) when a big DUMPALL meets a
# full socket buffer (EAGAIN); whether that happens depends on timing.  pnut never drops that write.
SYNC_YES = "driver.parameter.synchronous: yes\n"
SYNC_AUTO = "driver.parameter.synchronous: auto\n"


def _start_side(root: Path, files: list[Path], driver: str, procs: Procs) -> tuple[NutDirs, int]:
    nut = NutDirs(root)
    nut.write("ups.conf", "".join(f'[u{i}]\n\tdriver = dummy-ups\n\tport = "{f}"\n' for i, f in enumerate(files)))
    port = free_port()
    nut.write("upsd.conf", f"LISTEN 127.0.0.1 {port}\n")
    nut.write("upsd.users", "")
    for i in range(len(files)):
        procs.start([driver, "-a", f"u{i}", "-u", "root", "-F"], env=nut.env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return nut, port


def _query(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False,
                           env={**os.environ, "NUT_QUIET_INIT_SSL": "true"})
    except subprocess.TimeoutExpired:
        return f"timeout: {argv}\n"
    return f"rc={p.returncode}\n{p.stdout}{p.stderr}"


def _views(ups: str, port: int) -> str:
    where = f"{ups}@127.0.0.1:{port}"
    return "".join(_query(argv) for argv in ([real_nut("upsc"), where], [real_nut("upscmd"), "-l", where],
                                             [real_nut("upsrw"), where]))


def _compare(i: int, f: Path, sides: dict) -> str | None:
    want = got = ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        want, got = (_views(f"u{i}", port) for _, port in (sides["real"], sides["ours"]))
        want = want.replace(SYNC_YES, SYNC_AUTO)
        # equal, and past upsd's start-up (connected, dump complete)
        if want == got and want.startswith("rc=0") and "ups.status: WAIT" not in want:
            return None
        time.sleep(0.3)
    diff = difflib.unified_diff(want.splitlines(), got.splitlines(), "real", "ours", lineterm="", n=2)
    return f"{f.name}:\n" + "\n".join(diff)


@pytest.mark.slow
@pytest.mark.skipif(not FILES, reason="nut-ddl corpus not available")
@pytest.mark.parametrize("batch", range(len(BATCHES)), ids=lambda b: f"batch{b}")
def test_corpus_batch(batch: int, tmp_path: Path) -> None:
    files = BATCHES[batch]
    procs = Procs()
    try:
        sides = {name: _start_side(tmp_path / name, files, drv, procs)
                 for name, drv in (("real", real_nut("dummy-ups")), ("ours", ours("dummy-ups")))}
        for name, (nut, _) in sides.items():
            wait_for(lambda n=nut: all((n.state / f"dummy-ups-u{i}").exists() for i in range(len(files))),
                     timeout=90, what=f"{name} driver sockets")
        for nut, _ in sides.values():
            procs.start([real_nut("upsd"), "-F", "-u", "root"], env=nut.env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with ThreadPoolExecutor(4) as pool:
            failures = [r for r in pool.map(lambda a: _compare(*a, sides), enumerate(files)) if r]
        assert not failures, "\n\n".join(failures[:5]) + f"\n({len(failures)} of {len(files)} differ)"
    finally:
        for p in procs.started:          # signal everyone first, then wait: teardown in parallel
            if p.poll() is None:
                p.terminate()
        procs.stop_all()
