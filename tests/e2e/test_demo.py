"""The README's first command: pnut-demo runs the whole stack on the embedded UPS and ends with upsmon's
(harmless) shutdown."""

from __future__ import annotations

from tests.procs import ours, run


def test_demo_walks_a_power_failure_to_the_shutdown():
    r = run([ours("pnut-demo"), "--duration", "90"], timeout=150)
    out = r.stdout
    assert r.returncode == 0, r.stderr
    assert "ups.status: OL" in out
    assert "Result: no problem found" in out                   # pnut-rehearse on the demo's configuration
    assert "upsmon notifies ONBATT" in out
    assert "upsmon notifies LOWBATT" in out
    assert "upsmon ran SHUTDOWNCMD" in out and "POWERDOWNFLAG exists" in out
    assert out.index("upsmon notifies ONBATT") < out.index("upsmon ran SHUTDOWNCMD")
