"""The detecting half of apcsmart (drivers/apcsmart.c of NUT 2.8.0): which variables and commands a unit
has (command set 'a', the compatibility table, the legacy probe), its EEPROM capabilities (^Z), and how
readings are published (packed ambient.N values).

`ApcVars` is a mixin of the `ApcSmart` driver class; it uses the driver's read/write/flush primitives.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pnut.conf.common import Fatal, upsdebugx
from pnut.drivers import apcsmart_tabs as tabs
from pnut.drivers.apcsmart_tabs import (
    APC_CAPS,
    APC_CMDSET,
    APC_CMDSET_FMT,
    APC_FW_NEW,
    APC_FW_OLD,
    APC_LBUF,
    APC_PACK_MAX,
    APC_STRLEN,
    CF,
    SER_AA,
    SER_CC,
    SER_CS,
    SER_TO,
    VF,
    Var,
    convert_data,
    prtchr,
    rexhlp,
    show,
)
from pnut.drivers.state import Flag

if TYPE_CHECKING:      # pragma: no cover
    # the driver class is built from these mixins, so mypy meets the module half-read: type them as Any
    from pnut.drivers.apcsmart import ApcSmart as _Base  # type: ignore[attr-defined]
else:
    _Base = object

log = logging.getLogger("pnut.drivers.apcsmart")


class ApcVars(_Base):
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
            self.port.comm_fail(f"poll_data: {vt.name}: unexpected reply [{show(temp)}]")  # type: ignore[union-attr]
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
