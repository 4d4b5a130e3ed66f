"""upsc and upslog over STARTTLS: when the server agrees, they switch to TLS and say so on stderr as NUT's
clients (OpenSSL builds) do; the answers are the same as in clear."""

from __future__ import annotations

import subprocess

from tests.procs import ours
from tests.unit.test_libupsclient import SCRIPT, ScriptedServer, tls_context  # noqa: F401  (fixture)


def test_upsc_over_tls(nut, tls_context):  # noqa: F811
    ctx, _cafile = tls_context
    server = ScriptedServer(SCRIPT, tls=ctx)
    try:
        p = subprocess.run([ours("upsc"), f"dummy@127.0.0.1:{server.port}", "ups.status"], env=nut.env,
                           capture_output=True, text=True, timeout=20, check=False)
    finally:
        server.close()
    assert (p.stdout, p.returncode) == ("OL\n", 0)
    assert p.stderr == "Connected to NUT server 127.0.0.1 in SSL\nCertificate verification is disabled\n"
    assert server.received[:2] == ["STARTTLS", "GET VAR dummy ups.status"]
