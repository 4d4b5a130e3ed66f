"""Our dummy-ups as a process: PID file, socket, signals, -c exit / -c reload, SIGHUP reload, -k, a .seq loop."""

from __future__ import annotations

import signal
import socket

import pytest

from tests.procs import ours, run, wait_for


def ask(path, line: bytes, until: bytes = b"DUMPDONE\n", timeout: float = 10) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(path))
        s.settimeout(timeout)
        s.sendall(line)
        buf = b""
        while not buf.endswith(until):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf.decode()


@pytest.fixture
def conf(nut):
    nut.write("t.dev", "ups.status: OL\nbattery.charge: 90\n")
    nut.write("t.seq", "ups.status: OL\nTIMER 1\nups.status: OB\nTIMER 1\n")
    nut.write("ups.conf", "[u]\n\tdriver = dummy-ups\n\tport = t.dev\n\tpollinterval = 1\n"
                          "[s]\n\tdriver = dummy-ups\n\tport = t.seq\n\tpollinterval = 1\n")
    return nut


def test_pidfile_socket_exit_over_socket(conf, procs):
    p = procs.start([ours("dummy-ups"), "-a", "u", "-u", "root", "-FF"], env=conf.env)
    sock, pidfile = conf.state / "dummy-ups-u", conf.state / "dummy-ups-u.pid"
    wait_for(sock.exists, 20, what="socket")
    assert int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 10)) == p.pid
    assert 'SETINFO battery.charge "90"' in ask(sock, b"DUMPALL\n")
    r = run([ours("dummy-ups"), "-a", "u", "-c", "exit"], env=conf.env)
    assert r.returncode == 0, r.stderr
    assert p.wait(15) == 0
    assert not sock.exists() and not pidfile.exists()


def test_sighup_and_c_reload_reread_pollinterval(conf, procs):
    p = procs.start([ours("dummy-ups"), "-a", "u", "-u", "root", "-FF"], env=conf.env)
    sock = conf.state / "dummy-ups-u"
    wait_for(sock.exists, 20, what="socket")
    conf.write("ups.conf", "[u]\n\tdriver = dummy-ups\n\tport = t.dev\n\tpollinterval = 7\n")
    p.send_signal(signal.SIGHUP)
    wait_for(lambda: 'driver.parameter.pollinterval "7"' in ask(sock, b"DUMPALL\n"), 15, what="reload")
    conf.write("ups.conf", "[u]\n\tdriver = dummy-ups\n\tport = t.dev\n\tpollinterval = 3\n")
    assert run([ours("dummy-ups"), "-a", "u", "-c", "reload"], env=conf.env).returncode == 0
    wait_for(lambda: 'driver.parameter.pollinterval "3"' in ask(sock, b"DUMPALL\n"), 15, what="-c reload")
    p.send_signal(signal.SIGTERM)
    assert p.wait(15) == 0
    assert b"Signal 15: exiting" in p.stderr.read()
    assert not sock.exists()


def test_seq_loop_broadcasts_changes(conf, procs):
    procs.start([ours("dummy-ups"), "-a", "s", "-u", "root", "-F"], env=conf.env)
    sock = conf.state / "dummy-ups-s"
    wait_for(sock.exists, 20, what="socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(sock))
        s.settimeout(20)
        buf = b""
        while not (b'SETINFO ups.status "OB"' in buf and b'SETINFO ups.status "OL"' in buf):
            buf += s.recv(4096)


def test_kill_power_calls_shutdown(conf):
    r = run([ours("dummy-ups"), "-a", "u", "-u", "root", "-k"], env=conf.env)
    assert (r.returncode, r.stderr) == (1, "Initiating UPS shutdown\nshutdown not supported\n")


def test_c_without_running_instance(conf):
    r = run([ours("dummy-ups"), "-a", "u", "-c", "exit"], env=conf.env)
    assert r.returncode == 255
    r = run([ours("dummy-ups"), "-a", "u", "-c", "bogus"], env=conf.env)
    assert r.returncode == 1 and "Error: unknown argument to option -c. Try -h for help." in r.stderr
