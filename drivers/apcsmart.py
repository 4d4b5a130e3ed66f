"""apcsmart (drivers/apcsmart.c, version 3.2 of NUT 2.8.0): APC Smart-UPS units speaking UPS-Link, the
"smart" serial protocol, at 2400 8N1.

Start-up: smart mode ('Y'), the firmware ('V'/'b') against the compatibility table, the command set ('a'),
each listed variable read once, the EEPROM capabilities (^Z).  Each poll reads the status register 'Q' and
the polled variables; alert characters arriving meanwhile change the status at once.  The port goes
through pnut's shared serial transport, so it may also be an rfc2217:// or socket:// URL.
"""

from __future__ import annotations

import logging
import time

from pnut.conf.common import Fatal, upsdebugx
from pnut.drivers import apcsmart_tabs as tabs
from pnut.drivers.apcsmart_cmds import ApcCommands
from pnut.drivers.apcsmart_tabs import (
    ALERT_CHARS,
    ALT_CABLE_1,
    APC_ADVFMT,
    APC_AWDFMT,
    APC_CSHDFMT,
    APC_GODUMB,
    APC_GOSMART,
    APC_LBUF,
    APC_SDFMT,
    APC_STATUS,
    IGN_AACHARS,
    IGN_CCCHARS,
    IGN_CHARS,
    IGN_CSCHARS,
    NOT_SMART,
    NOT_SMART_MODEL,
    SER_AA,
    SER_CC,
    SER_CS,
    SER_D0,
    SER_D1,
    SER_D3,
    SER_DX,
    SER_HA,
    SER_TO,
    ST_LB,
    ST_OB,
    ST_OL,
    ST_OVER,
    ST_RB,
    STAT_BITS,
    STATUS_REPLY,
    VF,
    Cmd,
    Var,
    rexhlp,
    show,
    strtol,
)
from pnut.drivers.apcsmart_vars import ApcVars
from pnut.drivers.main import DeviceError, Driver, VarType, run
from pnut.drivers.serial import SerialError, SerialPort

log = logging.getLogger("pnut.drivers.apcsmart")

class ApcSmart(ApcVars, ApcCommands, Driver):
    progname = "apcsmart"
    name = "APC Smart protocol driver"
    version = "3.2"
    authors = "Russell Kroll, Nigel Metheringham, Michal Soltys (NUT); pnut"
    subdrivers = ((tabs.TABLE_NAME, tabs.TABLE_VERSION),)

    def __init__(self, core) -> None:      # type: ignore[no-untyped-def]
        super().__init__(core)
        self.port: SerialPort | None = None
        self.port_dead = False
        self.igncr = True
        self.ups_status = 0
        self.vartab: list[Var] = tabs.vartab()
        self.cmdtab: list[Cmd] = tabs.cmdtab()
        self.last_nasty: float = 0.0
        self.last_worked = 0
        self.last_full = 0.0

    # ------------------------------------------------------------------ options and help
    def makevartable(self) -> None:
        self.addvar(VarType.VALUE, "ttymode", "tty discipline selection")
        self.addvar(VarType.VALUE, "cable", "alternate cable (940-0095B) selection")
        self.addvar(VarType.VALUE, "awd", "hard hibernate's additional wakeup delay")
        self.addvar(VarType.VALUE, "sdtype", "simple shutdown method")
        self.addvar(VarType.VALUE, "advorder", "advanced shutdown control")
        self.addvar(VarType.VALUE, "cshdelay", "CS hack delay")

    def help(self) -> None:
        print("\nFor detailed information, please refer to:\n - apcsmart(8)\n"
              " - http://www.networkupstools.org/docs/man/apcsmart.html")

    # ------------------------------------------------------------------ the port
    def initups(self) -> None:
        for opt, fmt in (("awd", APC_AWDFMT), ("sdtype", APC_SDFMT), ("advorder", APC_ADVFMT),
                         ("cshdelay", APC_CSHDFMT)):
            val = self.getval(opt)
            if val is not None and not rexhlp(fmt, val):
                raise Fatal(f"invalid value ({val}) for option '{opt}'")
        self.open_port(fatal=True)

    def open_port(self, fatal: bool) -> None:
        """ser_open() + apc_ser_set(): 2400 8N1, the cable's modem lines, the tty discipline."""
        port = SerialPort.open(self.device_path, 2400, lock=self.core.do_lock_port, fatal=fatal)
        try:
            if (self.getval("cable") or "").lower() == ALT_CABLE_1.lower():
                for line in ("dtr", "rts"):
                    try:
                        port.set_dtr(True) if line == "dtr" else port.set_rts(False)
                    except OSError:
                        raise Fatal(f"apc_ser_set: ser_set_{line}({self.device_path}) failed") from None
            # canonical mode drops CRs (IGNCR); without a tty (a URL) do it here
            self.igncr = self.getval("ttymode") != "raw"
            if self.igncr:
                try:
                    port.canonical("*")
                except OSError as e:
                    raise Fatal(f"apc_ser_set: tcsetattr({self.device_path}): {e.strerror or e}") from None
        except Fatal as e:
            port.close()
            if not fatal:
                raise DeviceError(e.message) from None
            raise
        self.port, self.port_dead = port, False
        self.set_extrafd(port.pollfd)

    def reconnect(self) -> bool:
        """The port itself failed (device gone, connection closed): open it again; the data stays stale
        until the UPS answers, as NUT's stale-data nudging decides."""
        self.set_extrafd(None)
        if self.port is not None:
            self.port.close()
            self.port = None
        try:
            self.open_port(fatal=False)
        except SerialError as e:
            raise DeviceError(str(e)) from None
        return False

    def cleanup(self) -> None:
        if self.port is None:
            return
        if not self.port_dead:
            try:
                self.flush(0)
                self.write(APC_GODUMB)
                self.read(SER_TO)
            except SerialError:
                pass
        self.port.close()
        self.port = None

    # ------------------------------------------------------------------ reading and writing
    def _dead(self, why: str) -> None:
        self.port_dead = True
        if self.port is not None:
            self.port.comm_fail(why)

    def read(self, flags: int = 0, fn: str = "apc_read") -> tuple[int, str]:
        """apc_read(): one reply line.  (count, text); count -1 on an error, 0 on an allowed timeout."""
        port = self.port
        if port is None or self.port_dead:
            return (0, "") if self.port is None else (-1, "")
        iset, aset, timeout = IGN_CHARS, "", 3.0
        if flags & SER_D0:
            timeout = 0.0
        if flags & SER_DX:
            timeout = 0.2
        if flags & SER_D1:
            timeout = 1.5
        if flags & SER_D3:
            timeout = 3.0
        if flags & SER_AA:
            iset, aset = IGN_AACHARS, ALERT_CHARS
        if flags & SER_CC:
            iset, aset, timeout = IGN_CCCHARS, "", 6.0
        if flags & SER_CS:
            iset, aset, timeout = IGN_CSCHARS, "", 6.0
        buf: list[str] = []
        while len(buf) < APC_LBUF - 1:
            try:
                chunk = port.read_some(timeout).decode("latin-1")
            except SerialError as e:
                self._dead(f"serial port read error: {fn}: {e}")
                return -1, ""
            if not chunk and buf:
                port.comm_fail(f"serial port partial timeout: {fn}")
                return -1, ""
            if not chunk:
                if not flags & SER_TO:
                    port.comm_fail(f"serial port read timeout: {fn}")
                return 0, ""
            for c in chunk:
                if len(buf) == APC_LBUF - 1:
                    port.comm_fail(f"serial port read overflow: {fn}")
                    return -1, ""
                if c == "\n":
                    port.comm_good()
                    return len(buf), "".join(buf)
                if flags & SER_HA and c == "*":
                    # the shutdown acknowledgement of old units: drain what follows for a second
                    try:
                        port.read_some(1.0)
                    except SerialError as e:
                        self._dead(f"serial port read error: {fn}: {e}")
                        return -1, ""
                    port.comm_good()
                    return 2, "OK"
                if c in iset or c == "*" or (c == "\r" and self.igncr):
                    continue
                if c in aset:
                    self.alert_handler(c)
                    continue
                buf.append(c)
        port.comm_good()
        return len(buf), "".join(buf)

    def write(self, code: str, fn: str = "apc_write") -> int:
        if self.port is None:
            return 0
        if self.port_dead:
            return -1
        try:
            return self.port.send(code.encode("latin-1"))
        except SerialError as e:
            self._dead(f"serial port write error: {fn}: {e}")
            return -1

    def write_long(self, code: str) -> int:
        """apc_write_long(): the first byte, a 200 ms look for an unexpected answer, then the rest 50 ms
        apart (a unit answering NA must not see the digits as commands)."""
        ret = self.write(code[0])
        if ret != 1:
            return ret
        if self.read(SER_DX | SER_TO)[0]:
            return -1
        try:
            assert self.port is not None
            self.port.send(code[1:].encode("latin-1"), pace=0.05)
        except SerialError as e:
            self._dead(f"serial port write error: apc_write_long: {e}")
            return -1
        return len(code)

    def write_rep(self, code: str) -> int:
        """apc_write_rep(): the character, a 200 ms look for an answer, 1.3 s, the character again."""
        ret = self.write(code)
        if ret != 1:
            return ret
        if self.read(SER_DX | SER_TO)[0]:
            return -1
        time.sleep(1.3)
        ret = self.write(code)
        return ret + 1 if ret >= 0 else ret

    def flush(self, flags: int) -> None:
        if self.port is None or self.port_dead:
            return
        try:
            if flags & SER_AA:
                self.port.flush_output()
                while self.read(SER_D0 | SER_TO | SER_AA)[0] > 0:
                    pass
            else:
                self.port.flush_io()
        except SerialError as e:
            self._dead(f"serial port flush error: {e}")

    # ------------------------------------------------------------------ status
    def ups_status_set(self) -> None:
        ds = self.dstate
        ds.status_init()
        for bit, word in STAT_BITS:
            if self.ups_status & bit:
                ds.status_set(word)
        if self.ups_status == 0:
            ds.status_set("OFF")
        ds.status_commit()

    def alert_handler(self, ch: str) -> None:
        s = self.ups_status
        if ch == "!":
            s = (s & ~ST_OL) | ST_OB
        elif ch == "$":
            s = (s & ~ST_OB) | ST_OL
        elif ch == "%":
            s |= ST_LB
        elif ch == "+":
            s &= ~ST_LB
        elif ch == "#":
            s |= ST_RB
        elif ch == "?":
            s |= ST_OVER
        elif ch == "=":
            s &= ~ST_OVER
        upsdebugx(1, "alert_handler: got %s", ch)
        self.ups_status = s
        self.ups_status_set()

    def update_status(self) -> bool:
        upsdebugx(1, "update_status: [%s]", APC_STATUS)
        self.flush(SER_AA)
        if self.write(APC_STATUS) != 1:
            return False
        ret, buf = self.read(SER_AA, "update_status")
        if ret < 1 or buf == "NA":
            if ret >= 0:
                log.warning("update_status: failed")
            return False
        if not STATUS_REPLY.match(buf):
            # NUT reads any non-hex reply as 0 and publishes OFF; line noise must not switch a load "off"
            self.port.comm_fail(f"update_status: unexpected reply [{show(buf)}]")   # type: ignore[union-attr]
            return False
        self.ups_status = strtol(buf, 16) & 0xFF
        self.ups_status_set()
        return True

    # ------------------------------------------------------------------ start-up and polling
    def smartmode(self, cnt: int) -> bool:
        for _ in range(cnt):
            self.flush(0)
            if self.write(APC_GOSMART) != 1:
                return False
            ret, temp = self.read(SER_TO | SER_D1, "smartmode")
            if ret > 0 and temp == "SM":
                return True
            if ret < 0:
                time.sleep(1)
            if self.write("\x1b") != 1:
                return False
            self.read(SER_TO | SER_D1, "smartmode")
        return False

    def initinfo(self) -> None:
        if not self.smartmode(5):
            raise Fatal(f"unable to detect an APC Smart protocol UPS on port {self.device_path}\n"
                        "check the cabling, port name or model name and try again\n" + NOT_SMART)
        if not self.getbaseinfo():
            raise Fatal(f"Problems with communicating APC UPS on port {self.device_path}\n")
        model = self.dstate.getinfo_raw("ups.model") or ""
        if NOT_SMART_MODEL.search(model):
            raise Fatal(f"the UPS on port {self.device_path} calls itself \"{model}\": not a Smart-UPS\n"
                        + NOT_SMART)
        self.dstate.setinfo("ups.mfr", "APC")
        upsdebugx(1, "detected %s [%s] on %s", self.dstate.getinfo("ups.model") or "\"unknown model\"",
                  self.dstate.getinfo("ups.serial") or "unknown serial", self.device_path)
        self.instcmd = self._instcmd
        self.setvar = self._setvar
        self.dstate.dataok()

    def update_info(self, full: bool) -> bool:
        upsdebugx(1, "update_info: starting scan%s", " (all vars)" if full else "")
        for vt in self.vartab:
            if not full and not vt.flags & VF.POLL:
                continue
            if not self.poll_data(vt):
                upsdebugx(1, "update_info: aborting scan")
                return False
        upsdebugx(1, "update_info: scan completed")
        return True

    def updateinfo(self) -> None:
        ds = self.dstate
        if ds.is_stale():
            if not self.last_worked:
                upsdebugx(1, "upsdrv_updateinfo: comm lost")
            self.last_full = 0.0
            self.last_worked += 1
            if self.last_worked < 10:
                self._check_port()
                return
            upsdebugx(1, "upsdrv_updateinfo: nudging ups with 'Y', iteration #%d ...", self.last_worked)
            if not self.smartmode(1):
                self._check_port()
                return
            self.last_worked = 0
        if not self.update_status():
            ds.datastale()
            self._check_port()
            return
        now = time.time()
        full = now - self.last_full > 3600
        if full:
            self.last_full = now
        if self.update_info(full):
            ds.dataok()
        else:
            ds.datastale()
            self._check_port()

    def _check_port(self) -> None:
        """A port that failed as a port (not a silent UPS) is handed to the core, which reopens it."""
        if self.port_dead:
            raise DeviceError("serial port failed")
        if self.port is not None and self.port.fd is not None and self.last_worked and self.port.fd >= 0:
            # NUT leaves unread input while it waits; a readable fd would wake the poll loop at once
            try:
                self.port.flush_io()
            except SerialError:
                raise DeviceError("serial port failed") from None


def main(argv: list[str] | None = None) -> int:
    return run(ApcSmart, argv)


if __name__ == "__main__":
    raise SystemExit(main())
