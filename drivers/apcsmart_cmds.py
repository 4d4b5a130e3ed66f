"""The acting half of apcsmart (drivers/apcsmart.c of NUT 2.8.0): instant commands, EEPROM writes through
SET, and the shutdown methods S, CS, @nnn/@nn, K and Z that `-k` chooses with sdtype/advorder/awd.

`ApcCommands` is a mixin of the `ApcSmart` driver class; it uses the driver's read/write/flush primitives.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from pnut.conf.common import upsdebugx
from pnut.drivers import apcsmart_tabs as tabs
from pnut.drivers.apcsmart_tabs import (
    APC_STRLEN,
    CF,
    MAXCMDTIME,
    MINCMDTIME,
    SER_AA,
    SER_D1,
    SER_HA,
    SER_TO,
    ST_CAL,
    ST_LB,
    ST_OB,
    ST_OL,
    VF,
    Cmd,
    Var,
    convert_data,
    rexhlp,
    strtol,
)
from pnut.drivers.main import (
    STAT_INSTCMD_FAILED,
    STAT_INSTCMD_HANDLED,
    STAT_INSTCMD_INVALID,
    STAT_SET_FAILED,
    STAT_SET_HANDLED,
    STAT_SET_UNKNOWN,
)

if TYPE_CHECKING:      # pragma: no cover
    # the driver class is built from these mixins, so mypy meets the module half-read: type them as Any
    from pnut.drivers.apcsmart import ApcSmart as _Base  # type: ignore[attr-defined]
else:
    _Base = object

log = logging.getLogger("pnut.drivers.apcsmart")

SDIDX_AT = 1          # the advorder digit whose method takes the awd argument


class ApcCommands(_Base):
    last_nasty: float           # when the last dangerous command was asked for (set in ApcSmart.__init__)

    # ------------------------------------------------------------------ shutdown primitives
    def sdok(self, ign: bool) -> int:
        """Every shutdown command answers OK (or '*' on old units); Z answers nothing."""
        ret, temp = self.read(SER_HA | SER_D1 | SER_TO, "sdok")
        if ret < 0:
            return STAT_INSTCMD_FAILED
        upsdebugx(1, 'sdok: got "%s"', temp)
        if (not ret and ign) or temp == "OK":
            upsdebugx(1, "sdok: last shutdown cmd succeeded")
            return STAT_INSTCMD_HANDLED
        upsdebugx(1, "sdok: last shutdown cmd failed")
        return STAT_INSTCMD_FAILED

    def sdcmd_S(self, quiet: object = None) -> int:
        """Soft hibernate: off after the EEPROM grace delay, back when mains returns (only on battery)."""
        self.flush(0)
        if not quiet:
            upsdebugx(1, "sdcmd_S: issuing [%s]", tabs.CMD_SOFTDOWN)
        if self.write(tabs.CMD_SOFTDOWN) != 1:
            return STAT_INSTCMD_FAILED
        return self.sdok(False)

    def sdcmd_CS(self, _arg: object = None) -> int:
        """The "force OB hack": simulate a power failure, wait cshdelay, then S."""
        val = self.getval("cshdelay")
        delay = float(val) if val else 3.5
        upsdebugx(1, "sdcmd_CS: issuing CS 'hack' [%s+%s] with %2.1f sec delay", tabs.CMD_SIMPWF,
                  tabs.CMD_SOFTDOWN, delay)
        if self.ups_status & ST_OL:
            self.flush(0)
            upsdebugx(1, "sdcmd_CS: issuing [%s]", tabs.CMD_SIMPWF)
            if self.write(tabs.CMD_SIMPWF) != 1:
                return STAT_INSTCMD_FAILED
            if self.read(SER_D1 | SER_TO, "sdcmd_CS")[0] < 0:
                return STAT_INSTCMD_FAILED
            time.sleep(delay)
        return self.sdcmd_S(quiet=True)

    def sdcmd_AT(self, awd: str | None = None) -> int:
        """Hard hibernate '@nnn' (or '@nn' when exactly two digits are given): works on mains too."""
        awd = awd or "000"
        padto = 2 if len(awd) == 2 else 3
        code = tabs.CMD_GRACEDOWN + awd.rjust(padto, "0")
        upsdebugx(1, "sdcmd_AT: issuing [%s] with %d minutes of additional wakeup delay", tabs.CMD_GRACEDOWN,
                  _strtol(awd) * 6)
        self.flush(0)
        if self.write_long(code) != padto + 1:
            log.error("issuing [%s] with %d digits failed", tabs.CMD_GRACEDOWN, padto)
            return STAT_INSTCMD_FAILED
        ret = self.sdok(False)
        if ret == STAT_INSTCMD_HANDLED or padto == 3:
            return ret
        log.error("command [%s] with 2 digits doesn't work - try 3 digits", tabs.CMD_GRACEDOWN)
        # end the half-understood sequence with something harmless so the unit is in a clean state
        self.write("Y")
        self.read(SER_D1 | SER_TO, "sdcmd_AT")
        return STAT_INSTCMD_FAILED

    def sdcmd_K(self, _arg: object = None) -> int:
        """Delayed power-off; stays off."""
        upsdebugx(1, "sdcmd_K: issuing [%s]", tabs.CMD_SHUTDOWN)
        self.flush(0)
        if self.write_rep(tabs.CMD_SHUTDOWN) != 2:
            return STAT_INSTCMD_FAILED
        return self.sdok(False)

    def sdcmd_Z(self, _arg: object = None) -> int:
        """Immediate power-off; stays off; the unit says nothing."""
        upsdebugx(1, "sdcmd_Z: issuing [%s]", tabs.CMD_OFF)
        self.flush(0)
        if self.write_rep(tabs.CMD_OFF) != 2:
            return STAT_INSTCMD_FAILED
        return self.sdok(True)

    # ------------------------------------------------------------------ -k
    def shutdown(self) -> None:
        if not self.smartmode(1):
            log.warning("upsdrv_shutdown: setting SmartMode failed !")
        if self.write("Q") == 1:
            ret, temp = self.read(SER_D1, "upsdrv_shutdown")
            # NUT 2.8.0 accepts only a one-character reply here, so a normal "08" counts as a failed read
            if ret == 1:
                self.ups_status = _strtol(temp, 16)
            else:
                log.warning("upsdrv_shutdown: status read failed, assuming LB+OB")
                self.ups_status = ST_LB | ST_OB
        else:
            log.warning("upsdrv_shutdown: status write failed, assuming LB+OB")
            self.ups_status = ST_LB | ST_OB
        adv = self.getval("advorder")
        if self.testvar("advorder") and adv and adv[0].upper() != "N":
            self.shutdown_advanced(adv)
        else:
            self.shutdown_simple()

    def shutdown_simple(self) -> None:
        sdtype = _strtol(self.getval("sdtype") or "0")
        upsdebugx(1, "upsdrv_shutdown_simple: currently: %s, sdtype: %d",
                  "on-line" if self.ups_status & ST_OL else "on battery", sdtype)
        awd = self.getval("awd")
        if sdtype == 5:
            self.sdcmd_AT(awd)
        elif sdtype == 4:
            self.sdcmd_CS()
        elif sdtype == 3:
            self.sdcmd_K()
        elif sdtype == 2:
            self.sdcmd_Z()
        elif sdtype == 1:
            if not self.ups_status & ST_OB or self.sdcmd_S() != STAT_INSTCMD_HANDLED:
                self.sdcmd_AT(awd)
        elif self.ups_status & ST_OL:
            self.sdcmd_AT(awd)
        else:
            self.sdcmd_S()

    def shutdown_advanced(self, order: str) -> None:
        upsdebugx(1, "upsdrv_shutdown_advanced: currently: %s, advorder: %s",
                  "on-line" if self.ups_status & ST_OL else "on battery", order)
        methods = (self.sdcmd_S, self.sdcmd_AT, self.sdcmd_K, self.sdcmd_Z, self.sdcmd_CS)
        for digit in order:
            i = int(digit)
            arg = self.getval("awd") if i == SDIDX_AT else None
            if methods[i](arg) == STAT_INSTCMD_HANDLED:
                break

    # ------------------------------------------------------------------ SET
    def _setvar(self, varname: str, val: str) -> int:
        vt = self.lookup_name(varname)
        if vt is None:
            return STAT_SET_UNKNOWN
        if not vt.flags & VF.RW:
            log.warning("setvar: [%s] is not writable", varname)
            return STAT_SET_UNKNOWN
        if vt.flags & VF.ENUM:
            return self.setvar_enum(vt, val)
        if vt.flags & VF.STRING:
            return self.setvar_string(vt, val)
        log.warning("setvar: unknown type for [%s]", varname)
        return STAT_SET_UNKNOWN

    def setvar_enum(self, vt: Var, val: str) -> int:
        """EEPROM values can only be stepped through with '-': step until the wanted one comes up."""
        self.flush(SER_AA)
        if self.write(vt.cmd) != 1:
            return STAT_SET_FAILED
        ret, orig = self.read(SER_AA, "setvar_enum")
        if ret < 1 or orig == "NA":
            return STAT_SET_FAILED
        if convert_data(vt, orig) == val:
            log.info("setvar_enum: ignoring SET %s='%s' (unchanged value)", vt.name, val)
            return STAT_SET_HANDLED
        for _ in range(32):
            if self.write("-") != 1:
                return STAT_SET_FAILED
            ret, temp = self.read(SER_AA, "setvar_enum")
            if ret < 1 or temp != "OK":
                return STAT_SET_FAILED
            if self.write(vt.cmd) != 1:
                return STAT_SET_FAILED
            ret, temp = self.read(SER_AA, "setvar_enum")
            if ret < 1 or temp == "NA":
                return STAT_SET_FAILED
            now = convert_data(vt, temp)
            upsdebugx(1, "setvar_enum: rotate - got [%s], want [%s]", now, val)
            if now == val:
                log.info("setvar_enum: SET %s='%s'", vt.name, val)
                self.poll_data(vt)
                return STAT_SET_HANDLED
            if now == orig:         # NUT compares the converted value with the raw original
                log.error("setvar_enum: variable %s wrapped", vt.name)
                return STAT_SET_FAILED
        log.error("setvar_enum: gave up after 6 tries for %s", vt.name)
        self.poll_data(vt)
        return STAT_SET_FAILED

    def setvar_string(self, vt: Var, val: str) -> int:
        if len(val) > APC_STRLEN:
            log.error("setvar_string: value (%s) too long", val)
            return STAT_SET_FAILED
        self.flush(SER_AA)
        if self.write(vt.cmd) != 1:
            return STAT_SET_FAILED
        ret, temp = self.read(SER_AA, "setvar_string")
        if ret < 1 or temp == "NA":
            return STAT_SET_FAILED
        if temp == val:
            log.info("setvar_string: ignoring SET %s='%s' (unchanged value)", vt.name, val)
            return STAT_SET_HANDLED
        if self.write_long("-" + val.ljust(APC_STRLEN, "\r")) != APC_STRLEN + 1:
            return STAT_SET_FAILED
        ret, temp = self.read(SER_AA, "setvar_string")
        if ret < 1:
            log.error("setvar_string: short final read")
            return STAT_SET_FAILED
        if temp == "NO":
            log.error("setvar_string: got NO at final read")
            return STAT_SET_FAILED
        self.poll_data(vt)
        log.info("setvar_string: SET %s='%s'", vt.name, val)
        return STAT_SET_HANDLED

    # ------------------------------------------------------------------ INSTCMD
    def chktime(self, ct: Cmd, ext: str | None) -> bool:
        """Dangerous commands act only when asked again 3..15 s after the previous dangerous request
        (one clock shared by all of them, whole seconds as NUT's time())."""
        now = float(int(time.time()))
        elapsed, self.last_nasty = now - self.last_nasty, now
        if elapsed < MINCMDTIME or elapsed > MAXCMDTIME:
            upsdebugx(1, "instcmd_chktime: outside window for [%s %s] (%2.0f)", ct.name, ext or "\b", elapsed)
            return False
        return True

    def _instcmd(self, cmd: str, ext: str | None) -> int:
        low = cmd.lower()
        ct = None
        for c in self.cmdtab:
            if c.name.lower() != low:
                continue
            if c.ext is not None:
                if not rexhlp(c.ext, ext):
                    continue
            elif ext is not None:
                continue
            ct = c
            break
        if ct is None:
            log.warning("instcmd: unknown command [%s %s]", cmd, ext if ext is not None else "\b")
            return STAT_INSTCMD_INVALID
        if not ct.flags & CF.PRESENT:
            log.warning("instcmd: command [%s %s] recognized, but not supported by your UPS model", cmd,
                        ext if ext is not None else "\b")
            return STAT_INSTCMD_INVALID
        if ct.flags & CF.NASTY and not self.chktime(ct, ext):
            return STAT_INSTCMD_HANDLED
        if low == "calibrate.start":
            return self.do_cal(True)
        if low == "calibrate.stop":
            return self.do_cal(False)
        if low == "load.on":
            return self.do_loadon()
        if low == "load.off":
            return self.sdcmd_Z()
        if low == "shutdown.stayoff":
            return self.sdcmd_K()
        if low == "shutdown.return":
            if not ext:
                return self.sdcmd_S()
            if ext[0].upper() == "A":
                return self.sdcmd_AT(ext[3:])
            if ext[0].upper() == "C":
                return self.sdcmd_CS()
        return self.do_cmd(ct)

    def do_loadon(self) -> int:
        self.flush(0)
        upsdebugx(1, "do_loadon: issuing [%s]", "0x0e")
        if self.write_rep(tabs.CMD_ON) != 2:
            return STAT_INSTCMD_FAILED
        upsdebugx(1, "do_loadon: [%s] completed", "0x0e")
        return STAT_INSTCMD_HANDLED

    def do_cmd(self, ct: Cmd) -> int:
        self.flush(SER_AA)
        if ct.flags & CF.REPEAT:
            ret, want = self.write_rep(ct.cmd), 2
        else:
            ret, want = self.write(ct.cmd), 1
        if ret != want:
            return STAT_INSTCMD_FAILED
        ret, temp = self.read(SER_AA, "do_cmd")
        if ret < 1:
            return STAT_INSTCMD_FAILED
        if temp != "OK":
            log.warning("do_cmd: got [%s] after command [%s]", temp, ct.name)
            return STAT_INSTCMD_FAILED
        log.info("do_cmd: %s completed", ct.name)
        return STAT_INSTCMD_HANDLED

    def do_cal(self, start: bool) -> int:
        """Runtime calibration toggles with 'D': look at the CAL bit first.  NUT answers "handled" even
        when nothing was done (it logs why)."""
        self.flush(SER_AA)
        if self.write("Q") != 1:
            return STAT_INSTCMD_HANDLED
        ret, temp = self.read(SER_AA, "do_cal")
        if ret < 1 or temp == "NA":
            log.warning("runtime calibration state undeterminable")
            return STAT_INSTCMD_HANDLED
        if _strtol(temp, 16) & ST_CAL:
            if start:
                log.info("runtime calibration already in progress")
                return STAT_INSTCMD_HANDLED
            log.info("stopping runtime calibration")
            what = "stop"
        else:
            if not start:
                log.info("runtime calibration not occurring")
                return STAT_INSTCMD_HANDLED
            log.info("starting runtime calibration")
            what = "start"
        if self.write(tabs.CMD_CALTOGGLE) != 1:
            return STAT_INSTCMD_HANDLED
        ret, temp = self.read(SER_AA, "do_cal")
        if ret < 1 or temp in ("NA", "NO"):
            log.warning("%s calibration failed, cmd returned: %s", what, temp)
        return STAT_INSTCMD_HANDLED



def _strtol(text: str, base: int = 10) -> int:
    return strtol(text, base)
