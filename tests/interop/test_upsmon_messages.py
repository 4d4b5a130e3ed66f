"""Our upsmon and NUT 2.8.0's, side by side on the same troubles (wrong password, unknown UPS, no upsd,
no primary rights, a UPS on battery): the same log lines and the same notifications."""

from __future__ import annotations

import time

import pytest

from tests.e2e.rehearsal_harness import Stack, seq
from tests.procs import free_port, real_nut

pytestmark = pytest.mark.skipif(real_nut("upsmon") is None, reason="NUT's upsmon is not installed")

NOISE = ("Init SSL", "fopen ", "Could not find PID file", "Warning: running as one big root", "kill: ")


def _lines(h):
    text = (h.dir / "upsmon.log").read_text()
    return [ln for ln in text.splitlines() if ln and not ln.startswith(NOISE)]


def test_same_messages_as_nut(nut, procs):
    st = Stack(nut, procs, impl="real")
    st.configure({"ups1": seq(("OB DISCHRG", 3600))})
    st.start()
    dead = free_port()
    monitors = (f"MONITOR ups1@127.0.0.1:{st.port} 1 mon wrongpass primary\n"
                f"MONITOR nosuch@127.0.0.1:{st.port} 1 mon pass secondary\n"
                f"MONITOR ups1@127.0.0.1:{dead} 1 mon pass secondary\n"
                f"MONITOR ups1@localhost:{st.port} 1 sec pass primary\n"
                f"MONITOR ups1@127.0.0.1:{st.port} 1 sec pass secondary\n")
    hosts = {impl: st.host(impl, monitors, impl=impl, extra="NOCOMMWARNTIME 1\nMINSUPPLIES 1\n")
             for impl in ("real", "ours")}
    for h in hosts.values():
        st.launch(h)
    time.sleep(8.5)                  # the first poll, NUT's fixed 5 s pause, a few more polls
    real, ours = (_lines(hosts[i]) for i in ("real", "ours"))
    expected = [
        f"Login on UPS [ups1@127.0.0.1:{st.port}] failed - got [ERR ACCESS-DENIED]",
        f"Login on UPS [nosuch@127.0.0.1:{st.port}] failed - got [ERR UNKNOWN-UPS]",
        f"Poll UPS [nosuch@127.0.0.1:{st.port}] failed - [nosuch] does not exist on server 127.0.0.1",
        f"UPS [ups1@127.0.0.1:{dead}]: connect failed: Connection failure: Connection refused",
        f"Communications with UPS ups1@127.0.0.1:{dead} lost",
        f"UPS ups1@127.0.0.1:{dead} is unavailable",
        f"Primary managerial privileges unavailable on UPS [ups1@localhost:{st.port}]",
        "Response: [ERR ACCESS-DENIED]",
        f"Warning: ignoring duplicate UPS [ups1@127.0.0.1:{st.port}]",
        f"UPS ups1@127.0.0.1:{st.port} on battery",
    ]
    for line in expected:
        assert line in real, (line, real)
        assert line in ours, (line, ours)
    # the start-up lines in the same order
    head = [ln for ln in real if ln.startswith(("UPS: ", "Warning: ignoring"))]
    assert head == [ln for ln in ours if ln.startswith(("UPS: ", "Warning: ignoring"))]
    # the same notifications in the same order per UPS (timestamps aside)
    def by_ups(h):
        out: dict[str, list[str]] = {}
        for _, typ, ups, _msg in h.notices():
            out.setdefault(ups, []).append(typ)
        return out
    theirs, mine = by_ups(hosts["real"]), by_ups(hosts["ours"])
    assert set(theirs) == set(mine)
    for ups, types in theirs.items():        # the last one may fall either side of the stop
        n = min(len(types), len(mine[ups]))
        assert n >= 1 and types[:n] == mine[ups][:n], (ups, types, mine[ups])
