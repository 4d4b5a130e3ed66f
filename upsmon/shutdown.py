"""What only the privileged side of upsmon does (clients/upsmon.c runparent(), set_pdflag(),
check_pdflag(), clear_pdflag()): wait for the monitor's request, write POWERDOWNFLAG, run SHUTDOWNCMD."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess

from pnut.upsmon.config import POWERDOWN_MAGIC, UpsmonConf
from pnut.upsmon.notify import shell_argv

log = logging.getLogger("pnut.upsmon")

SHUTDOWN_BYTE = b"\x01"


def set_pdflag(path: str | None) -> None:
    if not path:
        return
    try:
        with open(path, "w") as f:
            f.write(POWERDOWN_MAGIC)
    except OSError as exc:
        log.error("Failed to create power down flag %s: %s", path, exc.strerror)


def check_pdflag(path: str | None) -> int:
    """-K: 0 when the flag holds the magic string, 1 otherwise (with NUT's messages)."""
    if not path:
        log.info("Power down flag is not set")
        return 1
    try:
        with open(path) as f:
            text = f.read(len(POWERDOWN_MAGIC) + 1)
    except OSError:
        log.info("Power down flag is not set")
        return 1
    if not text.startswith(POWERDOWN_MAGIC):
        log.info("POWERDOWNFLAG (%s) does not contain the upsmon magic string", path)
        return 1
    log.info("Power down flag is set")
    return 0


def clear_stale_pdflag(conf: UpsmonConf) -> None:
    """At start-up a flag left by the last shutdown is removed; a file we did not write disables the feature."""
    path = conf.powerdownflag
    if not path or not os.path.exists(path):
        return
    try:
        with open(path) as f:
            text = f.read(len(POWERDOWN_MAGIC) + 1)
    except OSError as exc:
        log.error("Can't open %s: %s", path, exc.strerror)
        return
    if text.startswith(POWERDOWN_MAGIC):
        try:
            os.unlink(path)
        except OSError as exc:
            log.error("Failed to unlink %s: %s", path, exc.strerror)
        return
    log.error("POWERDOWNFLAG (%s) does not contain", path)
    log.error("the upsmon magic string - disabling!")
    conf.powerdownflag = None


def run_shutdowncmd(cmd: str | None, who: str = "") -> None:
    if not cmd:
        log.error("%sUnable to call shutdown command: (none)", who)
        return
    try:
        rc = subprocess.call(shell_argv(cmd), stdin=subprocess.DEVNULL)
    except OSError:
        rc = -1
    if rc != 0:
        log.error("%sUnable to call shutdown command: %s", who, cmd)




def runparent(sock: socket.socket, conf: UpsmonConf) -> int:
    """Wait for the child's one-byte request, then shut the host down; nothing else runs as root."""
    for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        try:
            data = sock.recv(1)
        except OSError as exc:
            log.error("upsmon parent: read: %s", exc.strerror)
            return 1
        if not data:
            log.info("upsmon parent: exiting (child exited)")
            return 1
        if data == SHUTDOWN_BYTE:
            break
        log.error("upsmon parent: got bogus pipe command %r", data)
    set_pdflag(conf.powerdownflag)
    run_shutdowncmd(conf.shutdowncmd, "parent: ")
    sock.close()                   # tells the child its shutdown has been run
    return 0
