"""apcsmart (drivers/apcsmart.c, version 3.2 of NUT 2.8.0): APC Smart-UPS units speaking UPS-Link, the
"smart" serial protocol, at 2400 8N1.

Start-up: smart mode ('Y'), the firmware ('V'/'b') against the compatibility table, the command set ('a'),
each listed variable read once, the EEPROM capabilities (^Z).  Each poll reads the status register 'Q' and
the polled variables; alert characters arriving meanwhile change the status at once.  The port goes
through pnut's shared serial transport, so it may also be an rfc2217:// or socket:// URL.
"""

from __future__ import annotations

import logging
import re
import time

from pnut.conf.common import Fatal, upsdebugx
from pnut.drivers import apcsmart_tabs as tabs
from pnut.drivers.apcsmart_cmds import ApcCommands
from pnut.drivers.apcsmart_tabs import CF, VF, Cmd, Fmt, Var
from pnut.drivers.main import DeviceError, Driver, VarType, run
from pnut.drivers.serial import SerialError, SerialPort
from pnut.drivers.state import Flag

log = logging.getLogger("pnut.drivers.apcsmart")

ALT_CABLE_1 = "940-0095B"
ENDCHAR = b"\n"                     # replies end with LF (the CR before it is ignored)
IGN_AACHARS = "\r|&"                # ignored by alert-aware reads
ALERT_CHARS = "$!%+#?="
IGN_CHARS = IGN_AACHARS + ALERT_CHARS
IGN_CCCHARS = "\r|&$!%+?="           # capability read: '#' starts the reply
IGN_CSCHARS = ""                    # command set read: alert characters are data there
MINCMDTIME, MAXCMDTIME = 3, 15      # the window for repeating a dangerous command
APC_STRLEN = 8
APC_LBUF = 512
APC_SBUF = 32
APC_PACK_MAX = 4

# apc_read() flags
SER_D0, SER_DX, SER_D1, SER_D3 = 0x1, 0x2, 0x4, 0x8
SER_AA, SER_CC, SER_CS, SER_TO, SER_HA = 0x10, 0x20, 0x40, 0x80, 0x100

# status register bits, in the order their words go into ups.status
STAT_BITS = ((0x01, "CAL"), (0x02, "TRIM"), (0x04, "BOOST"), (0x08, "OL"), (0x10, "OB"), (0x20, "OVER"),
             (0x40, "LB"), (0x80, "RB"))
ST_CAL, ST_OL, ST_OB, ST_OVER, ST_LB, ST_RB = 0x01, 0x08, 0x10, 0x20, 0x40, 0x80

APC_STATUS, APC_GOSMART, APC_GODUMB, APC_CMDSET, APC_CAPS, APC_NEXTVAL = "Q", "Y", "R", "a", "\x1a", "-"
APC_FW_OLD, APC_FW_NEW = "V", "b"
APC_CMDSET_FMT = r"^[0-9]\.[^.]*\.[^.]+(\.[^.]+)?$"
APC_AWDFMT, APC_SDFMT = r"^[0-9]{1,3}$", r"^[0-5]$"
APC_ADVFMT, APC_CSHDFMT = r"^([0-4]{1,5}|[Nn][Oo])$", r"^([0-9]\.?|[0-9]?\.[0-9])$"

REASONS = {"R": "unacceptable utility voltage rate of change", "H": "high utility voltage",
           "L": "low utility voltage", "T": "line voltage notch or spike", "O": "no transfers yet since turnon",
           "S": "simulated power failure or UPS test"}

# models that look like APC but do not speak UPS-Link: what to use instead
NOT_SMART = ("Note: APC \"Microlink\" models (SMT, SMX, SURTD) do not speak the Smart protocol on their "
             "RJ45 serial port;\nuse usbhid-ups over USB or an AP9620 legacy communications card. "
             "Brazilian Microsol \"BZ\" models\n(Back-UPS BZ...) are not Smart-UPS units either: use the "
             "solis driver.")
_NOT_SMART_MODEL = re.compile(r"^(SMT|SMX|SURTD|BZ)|Back-UPS BZ|\bBZ[0-9]", re.IGNORECASE)


_STATUS_REPLY = re.compile(r"^[0-9A-Fa-f]{1,2}$")


def _show(text: str) -> str:
    return "".join(c if c.isprintable() and c.isascii() else f"\\x{ord(c):02x}" for c in text)


def rexhlp(rex: str | None, val: str | None) -> bool:
    """POSIX extended regex match as apcsmart uses it: no regex matches everything."""
    return not rex or re.search(rex, val or "") is not None


def strtol(text: str, base: int = 10) -> int:
    m = re.match(r"\s*([+-]?)(0[xX])?([0-9a-fA-F]+)" if base == 16 else r"\s*([+-]?)()([0-9]+)", text)
    if not m:
        return 0
    try:
        n = int(m.group(3), base)
    except ValueError:
        return 0
    return -n if m.group(1) == "-" else n


def prtchr(c: str) -> str:
    return c if c.isprintable() and ord(c) < 128 else f"0x{ord(c):02x}"


def convert_data(vt: Var, upsval: str) -> str:
    """A raw reply in NUT's units: hours and minutes to seconds, transfer reasons to words."""
    if vt.fmt is Fmt.HOURS:
        return str(3600 * strtol(upsval))
    if vt.fmt is Fmt.MINUTES:
        return str(60 * strtol(upsval))
    if vt.fmt is Fmt.REASON:
        return REASONS.get(upsval[:1], upsval)
    return upsval


class ApcSmart(ApcCommands, Driver):
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
        self.extrafd = port.pollfd

    def reconnect(self) -> None:
        """The port itself failed (device gone, connection closed): open it again; the data stays stale
        until the UPS answers, as NUT's stale-data nudging decides."""
        old_fd, self.extrafd = self.extrafd, None
        if self.port is not None:
            self.port.close()
            self.port = None
        try:
            self.open_port(fatal=False)
        except SerialError as e:
            raise DeviceError(str(e)) from None
        finally:
            loop = self.core.loop
            if loop is not None and self.core.wake is not None and old_fd != self.extrafd:
                loop.call_soon_threadsafe(self._rewatch, old_fd, self.extrafd)

    def _rewatch(self, old: int | None, new: int | None) -> None:
        """The core watches the descriptor it saw at start-up (NUT's extrafd never changes); after a
        reopen, move the watch to the new one.  Runs on the core's event loop."""
        loop = self.core.loop
        for fd, add in ((old, False), (new, True)):
            if fd is None:
                continue
            try:
                loop.remove_reader(fd)
                if add:
                    loop.add_reader(fd, self.core.wake.set)
            except (OSError, ValueError):
                pass

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
            for i, c in enumerate(chunk):
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
        if not _STATUS_REPLY.match(buf):
            # NUT reads any non-hex reply as 0 and publishes OFF; line noise must not switch a load "off"
            self.port.comm_fail(f"update_status: unexpected reply [{_show(buf)}]")   # type: ignore[union-attr]
            return False
        self.ups_status = strtol(buf, 16) & 0xFF
        self.ups_status_set()
        return True

    # ------------------------------------------------------------------ variables
    def lookup_char(self, c: str) -> Var | None:
        return next((v for v in self.vartab if v.flags & VF.PRESENT and v.cmd == c), None)

    def lookup_name(self, name: str) -> Var | None:
        low = name.lower()
        return next((v for v in self.vartab if v.flags & VF.PRESENT and v.name.lower() == low), None)

    def _pack_name(self, vt: Var, k: int) -> str:
        return vt.name.replace(".0.", f".{k + 1}.", 1)

    def var_delinfo(self, vt: Var, skip: int = 0) -> None:
        if not vt.flags & VF.PACK:
            self.dstate.delinfo(vt.name)
            return
        for k in range(skip, vt.cnt):
            self.dstate.delinfo(self._pack_name(vt, k))
        vt.cnt = 0

    def var_setinfo(self, vt: Var, upsval: str) -> None:
        if not vt.flags & VF.PACK:
            self.dstate.setinfo(vt.name, convert_data(vt, upsval))
            return
        fields = upsval.split(",", APC_PACK_MAX - 1)
        more = len(fields) == APC_PACK_MAX and "," in fields[-1]
        if more:
            fields[-1] = fields[-1].split(",", 1)[0]
        if vt.cnt > len(fields):
            self.var_delinfo(vt, len(fields))
        if more:
            log.warning("packed variable %s [%s] longer than %d fields,\nignoring remaining fields",
                        vt.name, prtchr(vt.cmd), APC_PACK_MAX)
        vt.cnt = len(fields)
        for k in reversed(range(len(fields))):
            self.dstate.setinfo(self._pack_name(vt, k), convert_data(vt, fields[k]) if fields[k] else "N/A")

    def preread_data(self, vt: Var) -> str | None:
        upsdebugx(1, "preread_data: %s [%s]", vt.name, prtchr(vt.cmd))
        self.flush(0)
        if self.write(vt.cmd) != 1:
            return None
        ret, temp = self.read(SER_TO, "preread_data")
        if ret < 1 or temp == "NA":
            if ret >= 0:
                log.error("preread_data: %s [%s] timed out or not supported", vt.name, prtchr(vt.cmd))
            return None
        return temp

    def poll_data(self, vt: Var) -> bool:
        if not vt.flags & VF.PRESENT:
            return True
        upsdebugx(1, "poll_data: %s [%s]", vt.name, prtchr(vt.cmd))
        self.flush(SER_AA)
        if self.write(vt.cmd) != 1:
            return False
        ret, temp = self.read(SER_AA, "poll_data")
        if ret < 1:
            return False
        if not temp.isprintable() or not temp.isascii():
            # line noise, not a value: abort the scan (data stale) instead of publishing it
            self.port.comm_fail(f"poll_data: {vt.name}: unexpected reply [{_show(temp)}]")  # type: ignore[union-attr]
            return False
        if temp == "NA":
            log.warning("poll_data: verified variable %s [%s] returned NA, removing", vt.name, prtchr(vt.cmd))
            vt.flags &= ~VF.PRESENT
            self.var_delinfo(vt)
        else:
            self.var_setinfo(vt, temp)
        return True

    def var_string_setup(self, vt: Var) -> None:
        if vt.flags & VF.STRING:
            self.dstate.setflags(vt.name, Flag.RW | Flag.STRING)
            self.dstate.setaux(vt.name, APC_STRLEN)
            vt.flags |= VF.RW

    def var_verify(self, vt: Var) -> None:
        if vt.flags & VF.MULTI:
            vt.flags |= VF.PRESENT          # deprecate_vars() decides
            return
        temp = self.preread_data(vt)
        if temp is None or not rexhlp(vt.regex, temp):
            log.warning("%s [%s] - variable invalid", vt.name, prtchr(vt.cmd))
            return
        vt.flags |= VF.PRESENT
        self.var_setinfo(vt, temp)
        self.var_string_setup(vt)
        upsdebugx(1, "%s [%s] - variable supported", vt.name, prtchr(vt.cmd))

    def deprecate_vars(self) -> None:
        """Of several characters for one NUT name (and names for one character), the first that answers
        correctly wins; the later ones are dropped."""
        for i, vt in enumerate(self.vartab):
            if not vt.flags & VF.MULTI or not vt.flags & VF.PRESENT:
                continue
            temp = self.preread_data(vt)
            if temp is None or not rexhlp(vt.regex, temp):
                vt.flags &= ~VF.PRESENT
                log.warning("%s [%s] - variable combination invalid", vt.name, prtchr(vt.cmd))
                continue
            for other in self.vartab[i + 1:]:
                if other.name == vt.name or other.cmd == vt.cmd:
                    other.flags &= ~VF.PRESENT
            self.var_setinfo(vt, temp)
            self.var_string_setup(vt)
            upsdebugx(1, "%s [%s] - variable combination supported", vt.name, prtchr(vt.cmd))

    def protocol_verify(self, c: str) -> None:
        if c in tabs.UNR_CMDS:
            return
        found = False
        for vt in self.vartab:
            if vt.cmd == c:
                self.var_verify(vt)
                found = True
        if found:
            return
        for ct in self.cmdtab:
            if ct.cmd == c:
                ct.flags |= CF.PRESENT
                self.dstate.addcmd(ct.name)
                upsdebugx(1, "%s [%s] - command supported", ct.name, prtchr(c))
                found = True
        if not found:
            log.warning("[%s] unrecognized", prtchr(c))

    def getcaps(self, qco: int) -> None:
        """^Z: which EEPROM settings may be changed, and to what (each becomes RW with its enum)."""
        fw = self.dstate.getinfo("ups.firmware")
        upsloc = fw[-1] if fw else "\0"
        self.flush(0)
        if self.write(APC_CAPS) != 1:
            return
        ret, temp = self.read(SER_CC | SER_TO, "apc_getcaps")
        if ret < 1 or temp == "NA":
            if ret >= 0:
                log.warning("APC cannot do capabilities but said it could !")
            return
        temp = temp.split("\0", 1)[0]
        end = len(temp)
        if temp[0] != "#":
            log.warning("unknown capability start char [%s] !", temp[0])
            upsdebugx(1, "please report this caps string: %s", temp)
            return
        matrix = temp[1:2] == "#"
        buf = temp + "\0" * (APC_LBUF + 8)     # what follows the reply in NUT's zeroed buffer
        p = 0 if matrix else 1
        while buf[p] != "\0":
            if matrix:
                p += 2
            if p >= end:
                if qco:
                    return
                raise Fatal("capability string has overflowed, please report this error !")
            cmd, loc = buf[p], buf[p + 1]
            if ord(buf[p + 2]) < 48 or ord(buf[p + 3]) < 48:
                upsdebugx(0, "apc_getcaps: nument (%d) or entlen (%d) out of range",
                          ord(buf[p + 2]) - 48, ord(buf[p + 3]) - 48)
                raise Fatal("nument or entlen out of range\nPlease report this error\nERROR: capability overflow!")
            nument, entlen = ord(buf[p + 2]) - 48, ord(buf[p + 3]) - 48
            q = p + 4
            vt = self.lookup_char(cmd)
            valid = vt is not None and loc in (upsloc, "4") and not vt.flags & VF.PACK
            if valid:
                assert vt is not None
                upsdebugx(1, "%s [%s(%s)] - capability supported", vt.name, prtchr(cmd), loc)
                self.dstate.setflags(vt.name, Flag.RW)
                vt.flags |= VF.RW | VF.ENUM
            elif vt is not None and vt.flags & VF.PACK:
                log.warning("WARN: packed APC variable %s [%s] reported as enumerable,\n"
                            "please report it on the mailing list", vt.name, prtchr(cmd))
            for _ in range(nument):
                if valid:
                    assert vt is not None
                    value = buf[q:q + entlen].split("\0", 1)[0]
                    self.dstate.addenum(vt.name, convert_data(vt, value))
                q += entlen
            p = q

    def oldapcsetup(self) -> None:
        for name in ("ups.temperature", "ups.load", "input.voltage", "output.voltage", "battery.charge",
                     "battery.voltage", "ups.model", "ups.serial", "ups.firmware", "output.current"):
            for vt in self.vartab:
                if vt.name == name:
                    self.var_verify(vt)
        self.deprecate_vars()
        if self.lookup_name("output.current"):
            self.dstate.setinfo("ups.model", "Matrix-UPS")
        elif not self.lookup_name("ups.model"):
            self.dstate.setinfo("ups.model", "Smart-UPS")

    def firmware_table_lookup(self) -> int:
        upsdebugx(1, "attempting firmware lookup using [%s]", APC_FW_OLD)
        self.flush(0)
        if self.write(APC_FW_OLD) != 1:
            return 0
        ret, buf = self.read(SER_TO, "firmware_table_lookup")
        if ret < 0:
            return 0
        if not ret or buf == "NA":
            upsdebugx(1, "attempting firmware lookup using [%s]", APC_FW_NEW)
            if self.write(APC_FW_NEW) != 1:
                return 0
            ret, buf = self.read(SER_TO, "firmware_table_lookup")
            if ret < 1:
                return 0
        upsdebugx(1, "detected firmware version: %s", buf)
        if buf == "451.2.I":
            upsdebugx(1, "WARN: quirky firmware !")
            return 2
        if rexhlp(r"^[a-fA-F0-9]{2}$", buf):
            buf = "set\x01"
        cmds = tabs.COMPAT.get(buf)
        if cmds is None:
            return 0
        upsdebugx(1, "matched firmware: %s", buf)
        self.dstate.setinfo("ups.model", "Matrix-UPS" if buf[0] in "05" else "Smart-UPS")
        upsdebugx(1, "parsing out supported cmds and vars")
        for c in cmds:
            self.protocol_verify(c)
        self.deprecate_vars()
        return 1

    def getbaseinfo(self) -> bool:
        qco = self.firmware_table_lookup()
        if qco == 1:
            return True
        upsdebugx(1, "attempting var/cmdset lookup using [%s]", APC_CMDSET)
        self.flush(0)
        if self.write(APC_CMDSET) != 1:
            return False
        ret, temp = self.read(SER_CS | SER_TO, "getbaseinfo")
        if ret < 0:
            return False
        if not ret or temp == "NA" or not rexhlp(APC_CMDSET_FMT, temp):
            log.info("very old or unknown APC model, support will be limited")
            self.oldapcsetup()
            return True
        upsdebugx(1, "parsing out supported cmds/vars")
        cmds = temp.split(".")[2]
        for c in cmds:
            self.protocol_verify(c)
        self.deprecate_vars()
        if APC_CAPS in cmds:
            upsdebugx(1, "parsing out caps")
            self.getcaps(qco)
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
        if _NOT_SMART_MODEL.search(model):
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
