"""STARTTLS on our upsd (OpenSSL-style CERTFILE: certificate and key in one PEM), checked with Python's ssl
module and with Debian's NSS-built NUT 2.8.0 clients: upsc (which tries TLS on its own) and upsmon with
FORCESSL 1 / CERTVERIFY 0.  Certificate verification by NSS clients needs an NSS database (CERTPATH) and is not
exercised here."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import textwrap

import pytest

from tests.interop.test_upsd_harness import run_session, start_stack
from tests.procs import real_nut, run, wait_for

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make a certificate")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("tls")
    key, cert, pem = root / "key.pem", root / "cert.pem", root / "upsd.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "30", "-subj", "/CN=localhost"], check=True, capture_output=True,
                   timeout=60)
    pem.write_text(cert.read_text() + key.read_text())
    st = start_stack(root, with_real=False, upsd_extra=f"CERTFILE {pem}\nDISABLE_WEAK_SSL true\n")
    yield st
    st.stop()


def _readline(f) -> bytes:
    return f.readline()


def test_starttls_with_python_ssl(stack):
    raw = socket.create_connection(("127.0.0.1", stack.our_port), timeout=5)
    raw.sendall(b"STARTTLS\n")
    assert raw.recv(100) == b"OK STARTTLS\n"
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with ctx.wrap_socket(raw) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        f = tls.makefile("rb")
        tls.sendall(b"GET VAR dummy ups.status\n")
        assert _readline(f) == b'VAR dummy ups.status "OL"\n'
        tls.sendall(b"STARTTLS\n")
        assert _readline(f) == b"ERR ALREADY-SSL-MODE\n"
        tls.sendall(b"USERNAME sec\nPASSWORD secpw\nLOGIN dummy\n")
        assert [_readline(f) for _ in range(3)] == [b"OK\n"] * 3
        tls.sendall(b"LIST CLIENT dummy\n")
        assert _readline(f) == b"BEGIN LIST CLIENT dummy\n"
        assert _readline(f) == b"CLIENT dummy 127.0.0.1\n"
        assert _readline(f) == b"END LIST CLIENT dummy\n"


def test_failed_handshake_costs_only_that_client(stack):
    raw = socket.create_connection(("127.0.0.1", stack.our_port), timeout=5)
    raw.sendall(b"STARTTLS\n")
    assert raw.recv(100) == b"OK STARTTLS\n"
    raw.sendall(b"this is not a TLS ClientHello\n")
    raw.settimeout(5)
    try:
        while raw.recv(100):
            pass
    except OSError:
        pass
    raw.close()
    assert run_session(stack.our_port, [b"VER\n"]).startswith(b"Network UPS Tools upsd")


def test_real_upsc_negotiates_tls(stack):
    r = run([real_nut("upsc"), f"dummy@127.0.0.1:{stack.our_port}", "ups.status"], env=stack.our_dirs.env)
    assert r.returncode == 0 and r.stdout == "OL\n"
    if "SSL" in r.stderr:       # an NSS or OpenSSL build says so on stderr; a build without SSL stays in clear
        assert "Connected to NUT server 127.0.0.1 in SSL" in r.stderr, r.stderr


def test_real_upsmon_forcessl_secondary(stack, tmp_path):
    conf = tmp_path / "upsmon.conf"
    conf.write_text(textwrap.dedent(f"""\
        MONITOR dummy@127.0.0.1:{stack.our_port} 1 sec secpw secondary
        MINSUPPLIES 1
        SHUTDOWNCMD "/bin/true"
        POLLFREQ 1
        FORCESSL 1
        CERTVERIFY 0
        """))
    os.chmod(conf, 0o640)
    p = subprocess.Popen([real_nut("upsmon"), "-D", "-u", "root", "-p", "-f", str(conf)], env=stack.our_dirs.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: p.poll() is not None
                 or b"CLIENT dummy 127.0.0.1" in run_session(stack.our_port, [b"LIST CLIENT dummy\n"]), 20,
                 what="upsmon LOGIN over TLS")
        if p.poll() is not None:
            out, err = p.communicate(timeout=10)
            p.stdout = p.stderr = None
            if b"already running" in out + err:
                pytest.skip("another upsmon holds /run/nut/upsmon.pid")
            raise AssertionError((out + err).decode(errors="replace")[-2000:])
    finally:
        p.terminate()
        _, err = p.communicate(timeout=10)
    if b"SSL" in err:       # Debian's NSS build: the whole session ran inside TLS
        assert b"SSL handshake done successfully with server 127.0.0.1" in err, err[-2000:]
        assert b"Connected to NUT server 127.0.0.1 in SSL" in err, err[-2000:]
