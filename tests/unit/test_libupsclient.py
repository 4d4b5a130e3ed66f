"""libupsclient: the sans-I/O core, the exceptions, and both clients against a scripted in-process server."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading

import pytest

from pnut.libupsclient import aio, client, core, errors, proto
from pnut.libupsclient.client import UpsClient, fetch_vars
from tests.procs import wait_for

# --- a scripted upsd ------------------------------------------------------------------------------------

class ScriptedServer:
    """Answers each request line from a table (request -> reply lines); records what it was sent."""

    def __init__(self, script: dict[str, list[str]], tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.tls = tls
        self.received: list[str] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        f = conn.makefile("rwb", buffering=0)
        try:
            while True:
                raw = f.readline()
                if not raw:
                    break
                line = raw.decode("latin-1").rstrip("\n")
                self.received.append(line)
                if line == "LOGOUT":
                    break
                if line == "STARTTLS" and self.tls is not None:
                    conn.sendall(b"OK STARTTLS\n")
                    conn = self.tls.wrap_socket(conn, server_side=True)
                    f = conn.makefile("rwb", buffering=0)
                    continue
                for reply in self.script.get(line, ["ERR UNKNOWN-COMMAND"]):
                    if reply == "<close>":
                        conn.close()
                        return
                    if reply == "<silence>":
                        continue
                    f.write(reply.encode("latin-1") + b"\n")
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


SCRIPT = {
    "STARTTLS": ["ERR FEATURE-NOT-CONFIGURED"],
    "GET VAR dummy ups.status": ["VAR dummy ups.status \"OL\""],
    "GET VAR dummy ups.mfr": ["VAR dummy ups.mfr \"A \\\"quoted\\\" \\\\ name\""],
    "GET VAR dummy bad.reply": ["VAR other bad.reply \"x\""],
    "GET VAR stale ups.status": ["ERR DATA-STALE"],
    "LIST VAR dummy": ["BEGIN LIST VAR dummy", "VAR dummy ups.status \"OL\"", "VAR dummy ups.load \"20\"",
                       "END LIST VAR dummy"],
    "LIST UPS": ["BEGIN LIST UPS", "UPS dummy \"Test \\\"quoted\\\" Dummy\"", "END LIST UPS"],
    "LIST VAR nobody": ["ERR UNKNOWN-UPS"],
    "LIST VAR hangs": ["<silence>"],
    "LIST VAR dies": ["<close>"],
    "USERNAME admin": ["OK"],
    "PASSWORD secret": ["OK"],
    "LOGIN dummy": ["OK"],
    "INSTCMD dummy load.off": ["OK"],
    "INSTCMD dummy beeper.on": ["ERR CMD-NOT-SUPPORTED"],
    "SET VAR dummy ups.id \"a b\"": ["OK"],
}


@pytest.fixture
def server():
    s = ScriptedServer(SCRIPT)
    yield s
    s.close()


# --- identifiers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("ups", ("ups", "localhost", 3493)),
    ("ups@host", ("ups", "host", 3493)),
    ("ups@host:1234", ("ups", "host", 1234)),
    ("ups@[::1]", ("ups", "::1", 3493)),
    ("ups@[::1]:99", ("ups", "::1", 99)),
    ("ups@127.0.0.1:35493", ("ups", "127.0.0.1", 35493)),
])
def test_splitname(text, expected):
    assert core.splitname(text) == expected


@pytest.mark.parametrize("text, message", [
    (None, ""),
    ("", "upscli_splitname: can't parse empty string"),
    ("ups@host:", "upscli_splitaddr: no port specified after ':' separator"),
    ("ups@host:0", "upscli_splitaddr: no port specified after ':' separator"),
    ("ups@host:65536", "upscli_splitaddr: no port specified after ':' separator"),
    ("ups@host:abc", "upscli_splitaddr: no port specified after ':' separator"),
    ("ups@[::1", "upscli_splitaddr: missing closing bracket in [domain literal]"),
    ("@@", ""),
])
def test_splitname_errors(text, message):
    with pytest.raises(core.BadAddress) as info:
        core.splitname(text)
    assert str(info.value) == message


def test_splitaddr_defaults():
    assert core.splitaddr("localhost") == ("localhost", 3493)
    assert core.splitaddr("h:12x") == ("h", 12)         # strtol stops at the first non-digit


# --- requests and replies -------------------------------------------------------------------------------

def test_requests_are_built_as_the_c_library_does():
    # protocol.md §2.5: encoded, quoted only when the argument holds a space; empty arguments vanish.
    assert core.request("GET", "VAR", "ups", "ups.status") == b"GET VAR ups ups.status\n"
    assert core.request("GET", "VAR", "my ups", 'a"b') == b'GET VAR "my ups" a\\"b\n'
    assert core.request("LIST", "UPS") == b"LIST UPS\n"
    assert core.set_var_request("ups", "ups.id", 'x "y"') == b'SET VAR ups ups.id "x \\"y\\""\n'
    assert core.raw_request("PASSWORD a b") == b"PASSWORD a b\n"


def test_parse_get_checks_the_echo():
    assert core.parse_get(("VAR", "ups", "x.y"), 'var UPS x.y "v w"') == ["var", "UPS", "x.y", "v w"]
    with pytest.raises(errors.ProtocolError):
        core.parse_get(("VAR", "ups", "x.y"), "VAR other x.y v")
    # pconf_line() stops at an unescaped '#' in quotes but still succeeds with the words so far.
    assert core.parse_get(("VAR",), 'VAR x "a # b"') == ["VAR", "x", "a "]


def test_list_framing():
    q = ("VAR", "ups")
    core.parse_list_start(q, "BEGIN LIST VAR ups")
    with pytest.raises(errors.ProtocolError):
        core.parse_list_start(q, "BEGIN LIST VAR other")
    assert core.parse_list_item(q, "VAR ups a.b 1") == ["VAR", "ups", "a.b", "1"]
    assert core.parse_list_item(q, "END LIST VAR ups") is None
    with pytest.raises(errors.ProtocolError):
        core.parse_list_item(q, "end list VAR ups")      # END LIST is recognised in upper case only


def test_every_err_code_has_its_exception_with_nut_text():
    for err in proto.Err:
        exc = errors.from_reply(err.line)
        assert type(exc).code == err.value
        assert isinstance(exc, errors.ServerError)
        assert str(exc) == proto.client_error_text(err.line)
    assert str(errors.from_reply("ERR ACCESS-DENIED")) == "Access denied"
    assert str(errors.from_reply("ERR INVALID-ARGUMENT")) == "Unknown error"      # as upscli_strerror says
    odd = errors.from_reply("ERR SOMETHING-NEW")
    assert isinstance(odd, errors.UnknownServerError) and odd.code == "SOMETHING-NEW"
    assert str(errors.ConnectionFailure(111)) == "Connection failure: Connection refused"


def test_line_buffer_cuts_like_upscli_readline():
    buf = core.LineBuffer()
    buf.feed(b"OK\nPART")
    assert buf.next_line() == "OK"
    assert buf.next_line() is None
    buf.feed(b"IAL\n" + b"x" * 600)
    assert buf.next_line() == "PARTIAL"
    assert buf.next_line() == "x" * 511


def test_a_conversation_is_pure():
    conv = core.list_("VAR", "ups")
    assert next(conv) == b"LIST VAR ups\n"
    assert next(conv) is core.READ              # bytes sent: the driver asks for the next step
    assert conv.send("BEGIN LIST VAR ups") is core.READ
    assert conv.send("VAR ups a.b 1") is core.READ
    with pytest.raises(StopIteration) as done:
        conv.send("END LIST VAR ups")
    assert done.value.value == [["VAR", "ups", "a.b", "1"]]


# --- the blocking client --------------------------------------------------------------------------------

def test_sync_client(server):
    with UpsClient("127.0.0.1", server.port, tryssl=True) as c:
        assert not c.ssl
        assert c.get_var("dummy", "ups.status") == "OL"
        assert c.get_var("dummy", "ups.mfr") == 'A "quoted" \\ name'
        assert c.list_vars("dummy") == {"ups.status": "OL", "ups.load": "20"}
        assert c.list_ups() == {"dummy": 'Test "quoted" Dummy'}
        with pytest.raises(errors.DataStale) as info:
            c.get_var("stale", "ups.status")
        assert str(info.value) == "Data stale"
        with pytest.raises(errors.ProtocolError):
            c.get_var("dummy", "bad.reply")
        with pytest.raises(errors.UnknownUps):
            c.list_vars("nobody")
        c.authenticate("admin", "secret", "dummy")
        assert c.instcmd("dummy", "load.off") == "OK"
        with pytest.raises(errors.CmdNotSupported):
            c.instcmd("dummy", "beeper.on")
        assert c.set_var("dummy", "ups.id", "a b") == "OK"
    assert server.received[0] == "STARTTLS"
    assert 'SET VAR dummy ups.id "a b"' in server.received
    wait_for(lambda: server.received[-1] == "LOGOUT", 5, what="LOGOUT")


def test_sync_client_timeouts_and_disconnects(server):
    c = UpsClient("127.0.0.1", server.port, timeout=0.3)
    with pytest.raises(errors.ServerDisconnected) as info:
        c.list_vars("hangs")
    assert str(info.value) == "Server disconnected"
    assert not c.connected
    with pytest.raises(errors.NotConnected):
        c.get_var("dummy", "ups.status")
    c.connect()
    with pytest.raises(errors.ServerDisconnected):
        c.list_vars("dies")


def test_fetch_vars_for_a_repeater(server):
    assert fetch_vars("dummy", "127.0.0.1", server.port, username="admin", password="secret",
                      login=True) == {"ups.status": "OL", "ups.load": "20"}
    assert "LOGIN dummy" in server.received


def test_connection_refused_and_no_such_host(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # bound but not listening: refused
        with pytest.raises(errors.ConnectionFailure) as info:
            UpsClient("127.0.0.1", port)
    assert str(info.value) == "Connection failure: Connection refused"

    def no_name(*_a, **_k):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    monkeypatch.setattr(client.socket, "getaddrinfo", no_name)     # the module the client resolves with
    with pytest.raises(errors.NoSuchHost) as info2:
        UpsClient("nowhere.invalid", 3493)
    assert str(info2.value) == "No such host"


def test_forcessl_refused_by_server(server):
    with pytest.raises(errors.SslNotAvailable) as info:
        UpsClient("127.0.0.1", server.port, forcessl=True)
    assert str(info.value) == "SSL is not available"


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=localhost", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    return ctx, str(d / "cert.pem")


def test_starttls_sync(tls_context):
    ctx, cafile = tls_context
    s = ScriptedServer(SCRIPT, tls=ctx)
    try:
        with UpsClient("127.0.0.1", s.port, tryssl=True) as c:
            assert c.ssl
            assert c.get_var("dummy", "ups.status") == "OL"
        with UpsClient("localhost", s.port, forcessl=True, certverify=True, cafile=cafile) as c:
            assert c.ssl and c.list_ups() == {"dummy": 'Test "quoted" Dummy'}
    finally:
        s.close()


def test_starttls_async(tls_context):
    ctx, _ = tls_context
    s = ScriptedServer(SCRIPT, tls=ctx)

    async def go():
        c = await aio.AsyncUpsClient.open("127.0.0.1", s.port, tryssl=True)
        async with c:
            assert c.ssl
            return await c.get_var("dummy", "ups.status")
    try:
        assert asyncio.run(go()) == "OL"
    finally:
        s.close()


# --- the asyncio client ---------------------------------------------------------------------------------

def test_async_client(server):
    async def go():
        c = await aio.AsyncUpsClient.open("127.0.0.1", server.port, tryssl=True)
        async with c:
            assert await c.get_var("dummy", "ups.status") == "OL"
            assert [w async for w in c.iter_list("VAR", "dummy")][1][2] == "ups.load"
            with pytest.raises(errors.UnknownUps):
                await c.list_vars("nobody")
            await c.authenticate("admin", "secret")
            assert await c.instcmd("dummy", "load.off") == "OK"
            assert await c.set_var("dummy", "ups.id", "a b") == "OK"
        assert await aio.fetch_vars("dummy", "127.0.0.1", server.port) == {"ups.status": "OL", "ups.load": "20"}
        c2 = aio.AsyncUpsClient("127.0.0.1", server.port, timeout=0.3)
        await c2.connect()
        with pytest.raises(errors.ServerDisconnected):
            await c2.list_vars("hangs")
    asyncio.run(go())


# --- start-up cost --------------------------------------------------------------------------------------

def test_sync_side_imports_nothing_heavy():
    code = ("import sys; import pnut.clients.upsc, pnut.clients.upscmd, pnut.clients.upsrw, pnut.libupsclient; "
            "from pnut.libupsclient.client import UpsClient; "
            "print(sorted(m for m in ('asyncio', 'ssl', 'logging', 'typing', 'dataclasses', 'docopt', 'socket') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, check=False)
    assert out.stdout.strip() == "[]", out.stderr
