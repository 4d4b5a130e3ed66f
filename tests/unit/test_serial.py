"""The shared serial transport (drivers/serial.py) on a real pseudo-terminal and on socket:// URLs."""

from __future__ import annotations

import os
import socket
import termios

import pytest

from pnut.conf.common import Fatal
from pnut.drivers.serial import SerialError, SerialPort


@pytest.fixture
def pty():
    master, slave = os.openpty()
    path = os.ttyname(slave)
    yield master, path
    for fd in (master, slave):
        os.close(fd)


def test_get_line_ignores_and_hands_alerts_over(pty):
    master, path = pty
    port = SerialPort.open(path)
    try:
        seen: list[str] = []
        os.write(master, b"!0|8\r\n")
        line = port.get_line(b"\n", b"\r|", b"!$", lambda b: seen.append(chr(b)), timeout=2)
        assert (line, seen) == (b"08", ["!"])
        assert port.get_line(b"\n", b"\r", timeout=0.05) is None         # nothing more: a timeout
        port.send(b"Y")
        assert os.read(master, 16) == b"Y"
        port.send(b"@005", pace=0.01)
        got = b""
        while len(got) < 4:
            got += os.read(master, 16)
        assert got == b"@005"
    finally:
        port.close()


def test_flush_discards_unread_input(pty):
    master, path = pty
    port = SerialPort.open(path)
    try:
        os.write(master, b"stale\r\n")
        port.flush_io()
        os.write(master, b"SM\r\n")
        assert port.get_line(b"\n", b"\r", timeout=2) == b"SM"
    finally:
        port.close()


def test_canonical_mode_as_apcsmart_sets_it(pty):
    _master, path = pty
    port = SerialPort.open(path)
    try:
        port.canonical("*")
        iflag, _o, _c, lflag, _i, _s, cc = termios.tcgetattr(port.fd)
        assert lflag & termios.ICANON and not lflag & termios.ISIG
        assert iflag & termios.IGNCR and not iflag & termios.IXON
        assert cc[termios.VEOL] == b"*"
    finally:
        port.close()


def test_a_pty_has_no_modem_lines(pty):
    _master, path = pty
    port = SerialPort.open(path)
    try:
        with pytest.raises(OSError):
            port.set_dtr(True)
    finally:
        port.close()


def test_port_locking_and_nolock(pty):
    _master, path = pty
    first = SerialPort.open(path)
    try:
        with pytest.raises(Fatal) as e:
            SerialPort.open(path)
        assert e.value.message == f"{path} is locked by another process"
        with pytest.raises(SerialError):
            SerialPort.open(path, fatal=False)
        SerialPort.open(path, lock=False).close()               # nolock / -k
    finally:
        first.close()


def test_missing_port_in_nuts_words(tmp_path, capsys):
    missing = str(tmp_path / "ttyS99")
    with pytest.raises(Fatal) as e:
        SerialPort.open(missing)
    assert e.value.message == "Fatal error: unusable configuration"
    out = capsys.readouterr().out
    assert f"Unable to open {missing}: No such file or directory" in out
    assert " - Check 'port=' in ups.conf" in out
    with pytest.raises(SerialError):
        SerialPort.open(missing, fatal=False)


def test_unusable_url_is_fatal_without_traceback():
    with pytest.raises(Fatal) as e:
        SerialPort.open("nosuchscheme://127.0.0.1:1")
    assert e.value.message.startswith("Unable to open nosuchscheme://127.0.0.1:1")


def test_socket_url_reads_and_notices_a_closed_connection():
    with socket.create_server(("127.0.0.1", 0)) as server:
        url = f"socket://127.0.0.1:{server.getsockname()[1]}"
        port = SerialPort.open(url)
        conn, _ = server.accept()
        try:
            assert port.pollfd is not None and port.fd is None
            port.send(b"Q")
            assert conn.recv(16) == b"Q"
            conn.sendall(b"08\r\n")
            assert port.get_line(b"\n", b"\r", timeout=2) == b"08"
            conn.close()
            with pytest.raises(SerialError):
                port.read_some(2)
        finally:
            port.close()


def test_comm_fail_rate_limit(caplog):
    port = SerialPort("x", None)
    with caplog.at_level("INFO", logger="pnut.drivers.serial"):
        for _ in range(25):
            port.comm_fail("serial port read timeout: update_status")
        port.comm_good()
    lost = [r for r in caplog.records if r.getMessage().startswith("Communications with UPS lost")]
    assert len(lost) == 11                    # ten, then every tenth
    assert any("excessive comm failures" in r.getMessage() for r in caplog.records)
    assert caplog.records[-1].getMessage() == "Communications with UPS re-established"
