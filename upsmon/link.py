"""upsmon's conversation with upsd for one MONITORed UPS (clients/upsmon.c try_connect(), pollups(),
setfsd(), get_numlogins()), over pnut.libupsclient's blocking client.

Each method reports failures in NUT's log words and returns a plain result; none of them raises, so a
network fault can never take the monitoring loop (and with it a shutdown) down.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pnut.libupsclient import core, errors
from pnut.libupsclient.client import UpsClient
from pnut.upsmon.config import Monitor, UpsmonConf

log = logging.getLogger("pnut.upsmon")

NET_TIMEOUT = 10.0          # upsmon's alarm() guard around each query
FSD_RECONNECT_TIMEOUT = 3.0  # the extra reconnect in set_fsd() may not hold the shutdown up for long


class PollFailed(Exception):
    """A poll that did not give a status; `dropped` when the connection is gone too."""

    def __init__(self, dropped: bool) -> None:
        super().__init__()
        self.dropped = dropped


@dataclass
class Link:
    mon: Monitor
    conf: UpsmonConf
    client: UpsClient | None = None
    logged_in: bool = False
    timeout: float = NET_TIMEOUT

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected

    def _new_client(self) -> UpsClient:
        certpath = self.conf.certpath
        return UpsClient(self.mon.host, self.mon.port, timeout=self.timeout, connect_timeout=self.timeout,
                         tryssl=True, forcessl=bool(self.conf.forcessl), certverify=bool(self.conf.certverify),
                         capath=certpath, connect=False)

    def connect(self) -> bool:
        """try_connect(): True when the UPS may be polled this round.  A refused login leaves the connection
        open (and `connected` true) but returns False: NUT skips that round and polls unauthenticated
        from the next one on."""
        self.close()
        if self.conf.certverify and not self.conf.certpath:
            log.error("Configuration error: CERTVERIFY is set, but CERTPATH isn't")
            log.error("UPS [%s]: Connection impossible, dropping link", self.mon.sys)
            return False
        client = self._new_client()
        try:
            client.connect()
        except errors.UpsClientError as exc:
            log.error("UPS [%s]: connect failed: %s", self.mon.sys, exc)
            client.close()
            return False
        except OSError as exc:                    # anything the library did not wrap
            log.error("UPS [%s]: connect failed: %s", self.mon.sys, exc.strerror or exc)
            client.close()
            return False
        self.client = client
        return self._authenticate()

    def _ask(self, line: str) -> str:
        assert self.client is not None
        return self.client.run(core.command(line, check=False))

    def _authenticate(self) -> bool:
        mon = self.mon
        try:
            self._ask(f"USERNAME {mon.username}")                 # the reply is not checked (as NUT)
            reply = self._ask(f"PASSWORD {mon.password}")
            if not reply.startswith("OK"):
                log.error("Set password on [%s] failed - got [%s]", mon.sys, reply)
                return False
            reply = self._ask(f"LOGIN {mon.upsname}")
            if not reply.startswith("OK"):
                log.error("Login on UPS [%s] failed - got [%s]", mon.sys, reply)
                return False
            self.logged_in = True
            log.debug("Logged into UPS %s", mon.sys)
            if not mon.primary:
                return True
            if self._ask(f"PRIMARY {mon.upsname}").startswith("OK"):
                return True
            reply = self._ask(f"MASTER {mon.upsname}")
            if not reply.startswith("OK"):
                log.error("Primary managerial privileges unavailable on UPS [%s]", mon.sys)
                log.error("Response: [%s]", reply)
                return False
            return True
        except errors.UpsClientError as exc:
            log.error("UPS [%s]: %s", mon.sys, exc)
            return False

    def poll(self) -> str:
        """`GET VAR <ups> ups.status`; raises PollFailed after logging NUT's message."""
        if self.client is None or not self.client.connected:
            raise PollFailed(True)
        try:
            return self.client.get_var(self.mon.upsname, "ups.status")
        except errors.UnknownUps:
            log.error("Poll UPS [%s] failed - [%s] does not exist on server %s", self.mon.sys,
                      self.mon.upsname, self.mon.host)
        except errors.UnknownCommand as exc:
            log.error("Poll UPS [%s] failed - %s", self.mon.sys, exc)
            log.error("UPS [%s]: Too old to monitor", self.mon.sys)
        except errors.UpsClientError as exc:
            log.error("Poll UPS [%s] failed - %s", self.mon.sys, exc)
        except (OSError, IndexError) as exc:
            log.error("Poll UPS [%s] failed - %s", self.mon.sys, exc)
            self.close()
        raise PollFailed(not self.connected)

    def alarm(self) -> str | None:
        """`GET VAR <ups> ups.alarm` while the status says ALARM; None when it cannot be had (an older
        driver may not publish it), which NUT reports as "n/a"."""
        if self.client is None or not self.client.connected:
            return None
        try:
            return self.client.get_var(self.mon.upsname, "ups.alarm")
        except errors.UpsClientError as exc:
            log.debug("UPS [%s]: no ups.alarm: %s", self.mon.sys, exc)
        except (OSError, IndexError) as exc:
            log.debug("UPS [%s]: no ups.alarm: %s", self.mon.sys, exc)
        return None

    def set_fsd(self) -> bool:
        """setfsd(): `FSD <ups>`.  Unlike 2.8.0, a link that is down is reconnected once first, so a
        primary that lost upsd for a moment still raises FSD for its secondaries."""
        if not self.connected:
            saved, self.timeout = self.timeout, min(self.timeout, FSD_RECONNECT_TIMEOUT)
            try:
                self.connect()
            finally:
                self.timeout = saved
        if self.client is None:
            log.error("FSD set on UPS %s failed: %s", self.mon.sys, errors.NotConnected())
            return False
        try:
            reply = self._ask(f"FSD {self.mon.upsname}")
        except errors.UpsClientError as exc:
            log.error("FSD set on UPS %s failed: %s", self.mon.sys, exc)
            return False
        if reply.startswith("OK"):
            return True
        log.error("FSD set on UPS %s failed: %s", self.mon.sys, reply)
        return False

    def numlogins(self) -> int | None:
        """`GET NUMLOGINS <ups>`, or None when it cannot be had."""
        if self.client is None:
            return None
        try:
            words = self.client.get("NUMLOGINS", self.mon.upsname)
            return int(words[2])
        except (errors.UpsClientError, IndexError, ValueError) as exc:
            log.debug("NUMLOGINS on %s failed: %s", self.mon.sys, exc)
            return None

    def close(self) -> None:
        """drop_connection() / upscli_disconnect(): LOGOUT and close."""
        client, self.client = self.client, None
        self.logged_in = False
        if client is not None:
            client.close()
