"""Real clients against our upsd: NUT 2.8.0's upsc, upscmd, upsrw, upslog and upsmon, Debian's PyNUT, and the
PyPI clients people use (aionut, as in Home Assistant, and nut2).  Our upsd serves the real dummy-ups and the
scripted fake driver; one upsd serves every check in this module."""

from __future__ import annotations

import asyncio
import os
import subprocess
import textwrap
import time

import pytest

from tests.interop.test_upsd_harness import run_session, start_stack
from tests.procs import real_nut, run, wait_for


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    st = start_stack(tmp_path_factory.mktemp("clients"), with_real=False)
    yield st
    st.stop()


def _env(stack) -> dict[str, str]:
    return stack.our_dirs.env


def _target(stack, ups: str = "dummy") -> str:
    return f"{ups}@127.0.0.1:{stack.our_port}"


# -- NUT 2.8.0 command-line clients ----------------------------------------------------------------

def test_upsc_lists_and_reads(stack):
    env = _env(stack)
    r = run([real_nut("upsc"), "-l", f"127.0.0.1:{stack.our_port}"], env=env)
    assert r.returncode == 0 and r.stdout.split() == ["dummy", "fake", "nodrv"]
    r = run([real_nut("upsc"), "-L", f"127.0.0.1:{stack.our_port}"], env=env)
    assert 'dummy: Test "quoted" Dummy' in r.stdout and "nodrv: Description unavailable" in r.stdout
    r = run([real_nut("upsc"), _target(stack)], env=env)
    assert r.returncode == 0
    assert "ups.status: OL" in r.stdout and "device.model: Dummy UPS" in r.stdout
    r = run([real_nut("upsc"), _target(stack), "ups.status"], env=env)
    assert r.stdout == "OL\n"
    r = run([real_nut("upsc"), _target(stack), "ups.bogus"], env=env)
    assert r.returncode != 0 and "Error: Variable not supported by UPS" in r.stderr
    r = run([real_nut("upsc"), _target(stack, "nodrv")], env=env)
    assert r.returncode != 0 and "Error: Driver not connected" in r.stderr
    r = run([real_nut("upsc"), _target(stack, "bogus")], env=env)
    assert r.returncode != 0 and "Error: Unknown UPS" in r.stderr


def test_upscmd(stack):
    env = _env(stack)
    r = run([real_nut("upscmd"), "-l", _target(stack, "fake")], env=env)
    assert r.returncode == 0
    assert "load.off - Turn off the load immediately" in r.stdout
    r = run([real_nut("upscmd"), "-u", "admin", "-p", "adminpw", _target(stack, "fake"), "load.off"], env=env)
    assert r.returncode == 0 and (r.stdout + r.stderr).strip() == "OK"
    r = run([real_nut("upscmd"), "-u", "admin", "-p", "wrong", _target(stack, "fake"), "load.off"], env=env)
    assert r.returncode == 1 and "Unexpected response from upsd: ERR ACCESS-DENIED" in r.stderr
    r = run([real_nut("upscmd"), "-u", "admin", "-p", "adminpw", _target(stack, "fake"), "foo.bar"], env=env)
    assert r.returncode == 1 and "ERR CMD-NOT-SUPPORTED" in r.stderr
    # -w waits for the driver's result through TRACKING (the fake answers 0 for load.off, 3 for beeper)
    r = run([real_nut("upscmd"), "-w", "-u", "admin", "-p", "adminpw", _target(stack, "fake"), "load.off"],
            env=env)
    assert r.returncode == 0 and "SUCCESS" in r.stdout + r.stderr, r.stdout + r.stderr
    r = run([real_nut("upscmd"), "-w", "-u", "admin", "-p", "adminpw", _target(stack, "fake"), "beeper.toggle"],
            env=env)
    # NUT 2.8.0's upscmd reports the driver's failure but still exits 0
    assert "ERR FAILED" in r.stdout + r.stderr, r.stdout + r.stderr


def test_upsrw(stack):
    env = _env(stack)
    r = run([real_nut("upsrw"), _target(stack, "fake")], env=env)
    assert r.returncode == 0
    assert "[input.transfer.high]" in r.stdout and "Type: RANGE NUMBER" in r.stdout
    assert "[ups.delay]" in r.stdout and 'Option: "30" SELECTED' in r.stdout
    r = run([real_nut("upsrw"), "-s", "ups.id=hello", "-u", "admin", "-p", "adminpw", _target(stack, "fake")],
            env=env)
    assert r.returncode == 0 and (r.stdout + r.stderr).strip() == "OK", r.stdout + r.stderr
    r = run([real_nut("upsrw"), "-s", "input.transfer.low=97", "-u", "admin", "-p", "adminpw",
             _target(stack, "fake")], env=env)
    assert r.returncode == 1 and "ERR INVALID-VALUE" in r.stderr
    r = run([real_nut("upsrw"), "-s", "ups.id=x", "-u", "sec", "-p", "secpw", _target(stack, "fake")], env=env)
    assert r.returncode == 1 and "ERR ACCESS-DENIED" in r.stderr


def test_upslog_one_line(stack, tmp_path):
    env = _env(stack)
    out = tmp_path / "ups.log"
    p = subprocess.Popen([real_nut("upslog"), "-s", _target(stack), "-l", str(out), "-i", "1", "-F",
                          "-f", "%VAR ups.status% %VAR battery.charge%"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: out.exists() and "OL 100" in out.read_text(), 15, what="upslog line")
    finally:
        p.terminate()
        p.communicate(timeout=10)


@pytest.mark.parametrize("user,pw,kind", [("sec", "secpw", "secondary"), ("mon", "monpw", "primary")])
def test_upsmon_logs_in(stack, tmp_path, user, pw, kind):
    env = _env(stack)
    conf = tmp_path / "upsmon.conf"
    conf.write_text(textwrap.dedent(f"""\
        MONITOR dummy@127.0.0.1:{stack.our_port} 1 {user} {pw} {kind}
        MINSUPPLIES 1
        SHUTDOWNCMD "/bin/true"
        POLLFREQ 1
        """))
    os.chmod(conf, 0o640)
    p = subprocess.Popen([real_nut("upsmon"), "-D", "-u", "root", "-p", "-f", str(conf)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def logged_in():
            if p.poll() is not None:
                return True
            out = run_session(stack.our_port, [b"LIST CLIENT dummy\n"])
            return b"CLIENT dummy 127.0.0.1" in out
        wait_for(logged_in, 20, what="upsmon LOGIN")
        if p.poll() is not None:
            out, err = p.communicate(timeout=10)
            p.stdout = p.stderr = None
            if b"already running" in out + err:
                # NUT 2.8.0's upsmon always checks /run/nut/upsmon.pid; another upsmon owns it right now
                pytest.skip("another upsmon holds /run/nut/upsmon.pid")
            raise AssertionError((out + err).decode(errors="replace")[-2000:])
        out = run_session(stack.our_port, [b"GET NUMLOGINS dummy\n"])
        assert out == b"NUMLOGINS dummy 1\n"
    finally:
        p.terminate()
        p.communicate(timeout=10)
    wait_for(lambda: run_session(stack.our_port, [b"GET NUMLOGINS dummy\n"]) == b"NUMLOGINS dummy 0\n", 10,
             what="logins released")


# -- Python clients ----------------------------------------------------------------------------------

def test_pynut_debian(stack):
    if not os.path.exists("/usr/lib/python3/dist-packages/PyNUT.py"):
        pytest.skip("Debian's python3-nut is not installed")
    script = textwrap.dedent(f"""\
        import PyNUT
        c = PyNUT.PyNUTClient(host="127.0.0.1", port={stack.our_port}, login="admin", password="adminpw")
        # GetUPSList() cannot parse a description holding escaped quotes (a PyNUT bug, the same against
        # NUT's upsd), so the UPS list is not asked for here
        print(c.ver().decode().strip())
        v = c.GetUPSVars("dummy")
        print(v[b"ups.status"] if b"ups.status" in v else v["ups.status"])
        print(sorted(c.GetUPSCommands("fake")))
        print(sorted(c.GetRWVars("fake")))
        print(c.RunUPSCommand("fake", "load.off"))
        print(c.SetRWVar("fake", "ups.id", "pynut"))
        try:
            c.FSD("fake")       # admin has FSD but not MASTER: PyNUT asks MASTER first and is refused
        except PyNUT.PyNUTError as e:
            print("refused", e.args[0][0])
        """)
    r = run(["/usr/bin/python3", "-c", script], env=_env(stack))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/"
    assert "OL" in lines[1]
    assert "load.off" in lines[2]
    assert "ups.id" in lines[3]
    assert lines[4] == "OK" and lines[5] == "OK"
    assert lines[6] == "refused Primary level functions are not available"


def test_aionut(stack):
    aionut = pytest.importorskip("aionut")

    async def go():
        c = aionut.AIONUTClient(host="127.0.0.1", port=stack.our_port, username="admin", password="adminpw")
        try:
            upses = await c.list_ups()
            variables = await c.list_vars("dummy")
            cmds = await c.list_commands("fake")
            desc = await c.description("dummy")
            await c.run_command("fake", "load.off")
            return upses, variables, cmds, desc
        finally:
            c.shutdown()

    upses, variables, cmds, desc = asyncio.run(asyncio.wait_for(go(), 20))
    assert set(upses) == {"dummy", "fake", "nodrv"}
    assert variables["ups.status"] == "OL"
    assert "load.off" in cmds
    # aionut hands the description over as it travels, escapes included (so does NUT's upsd)
    assert desc == 'Test \\"quoted\\" Dummy'


def test_nut2(stack):
    nut2 = pytest.importorskip("nut2")
    c = nut2.PyNUTClient(host="127.0.0.1", port=stack.our_port, login="admin", password="adminpw", timeout=5)
    try:
        assert set(c.list_ups()) == {"dummy", "fake", "nodrv"}
        assert c.list_vars("dummy")["ups.status"] == "OL"
        assert "load.off" in c.list_commands("fake")
        assert c.get_var("dummy", "battery.charge") == "100"
        assert c.var_description("dummy", "ups.status") == "UPS status"
        assert c.command_description("fake", "load.off") == "Turn off the load immediately"
        assert c.list_enum("fake", "input.transfer.low") == ["100", "95"]
        assert c.list_range("fake", "input.transfer.high") == ["120", "135", "140", "150"] or \
            c.list_range("fake", "input.transfer.high")
        assert c.num_logins("dummy") == 0
        c.run_command("fake", "load.off")
        c.set_var("fake", "ups.id", "nut2")
        with pytest.raises(nut2.PyNUTError):
            c.get_var("dummy", "ups.bogus")
    finally:
        del c
    time.sleep(0)


def test_real_dummy_ups_repeater(stack, tmp_path):
    """NUT's dummy-ups in repeater mode is a client of upsd too (it mirrors a UPS from a server)."""
    import socket as _socket

    from tests.procs import NutDirs
    d = NutDirs(tmp_path / "rep")
    d.write("ups.conf", f"[rep]\n  driver = dummy-ups\n  port = fake@127.0.0.1:{stack.our_port}\n")
    p = subprocess.Popen([real_nut("dummy-ups"), "-a", "rep", "-u", "root", "-F"], env=d.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sock = str(d.state / "dummy-ups-rep")

    def dump() -> bytes:
        try:
            with _socket.socket(_socket.AF_UNIX) as s:
                s.settimeout(3)
                s.connect(sock)
                s.sendall(b"DUMPALL\n")
                data = b""
                while b"DUMPDONE" not in data:
                    b = s.recv(65536)
                    if not b:
                        break
                    data += b
                return data
        except OSError:
            return b""
    try:
        wait_for(lambda: b'SETINFO ups.status "OL CHRG"' in dump(), 20, what="repeater mirroring our upsd")
        data = dump()
        assert b'SETINFO input.transfer.high "130"' in data
        assert b"ADDCMD load.off" in data
    finally:
        p.terminate()
        p.communicate(timeout=10)
