"""pnut-rehearse on a live stack: it checks the real configuration against upsd, walks OB and LB, reports
what would run, and changes nothing (no FSD, no marker, no flag, logins back as they were)."""

from __future__ import annotations

from tests.e2e.rehearsal_harness import Stack, seq
from tests.procs import ours, run


def test_rehearse_changes_nothing(nut, procs):
    st = Stack(nut, procs)
    st.configure({"ups1": seq(("OL", 3600))})
    st.start()
    p = st.launch(st.host("p", st.monitor_line("ups1", True), hostsync=7, finaldelay=2))
    s = st.launch(st.host("s", st.monitor_line("ups1", False), hostsync=7))
    st.wait_logins("ups1", 2)

    r = run([ours("pnut-rehearse"), "-f", str(p.conf), "-l", "30"], env=nut.env)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "login as mon accepted" in out and "primary rights granted" in out
    assert "2 upsmon login(s) on upsd now" in out
    assert 'ONBATT: "UPS ups1@127.0.0.1:' in out
    assert "would send FSD ups1 to 127.0.0.1" in out
    assert "at most HOSTSYNC 7 s" in out
    assert f"t=+  39.0  would run SHUTDOWNCMD: {p.dir / 'mark.sh'}" in out      # 30 + HOSTSYNC 7 + FINALDELAY 2
    assert f"would write POWERDOWNFLAG {p.flag}" in out

    r2 = run([ours("pnut-rehearse"), "-f", str(s.conf), "-l", "30", "-s"], env=nut.env)
    assert r2.returncode == 0, r2.stdout + r2.stderr
    assert "would send FSD" not in r2.stdout            # a secondary never raises FSD
    assert "would run SHUTDOWNCMD" in r2.stdout

    bad = p.dir / "bad.conf"
    bad.write_text(p.conf.read_text().replace("mon pass", "mon wrong").replace("SHUTDOWNCMD", "#"))
    r3 = run([ours("pnut-rehearse"), "-f", str(bad)], env=nut.env)
    assert r3.returncode == 1
    assert "FAIL  no SHUTDOWNCMD" in r3.stdout and "login as mon refused" in r3.stdout

    assert st.ups_status("ups1") == "OL"
    assert p.shutdown_time() is None and s.shutdown_time() is None and not p.flag.exists()
    assert p.types() == [] and s.types() == []
    st.wait_logins("ups1", 2)
