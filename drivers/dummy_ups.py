"""dummy-ups (drivers/dummy-ups.c, version 0.15 of NUT 2.8.0): a UPS simulated from a .dev or .seq file.

The file holds `upsc`-style `<var>: <value>` lines read with parseconf; `TIMER <s>` pauses the reading.
A `.dev` file is read once (and again only when its mtime changes); a `.seq` file (or any other name) is
read in a loop.  Clients may SET any variable; instant commands are all refused.  In repeater mode
(`port = ups@host[:port]`) the variables of a UPS served by another upsd are copied every poll, through
pnut.libupsclient.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass

from pnut.conf import paths
from pnut.conf.common import Fatal, upsdebugx
from pnut.conf.parseconf import Line, iter_lines
from pnut.drivers.main import (
    STAT_INSTCMD_UNKNOWN,
    STAT_SET_HANDLED,
    Driver,
    VarType,
    run,
)
from pnut.drivers.state import Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pnut.libupsclient import UpsClient

log = logging.getLogger("pnut.drivers.dummy_ups")

MAX_STRING_SIZE = 128       # a value read from the file keeps at most 127 characters

RW, STRING = Flag.RW, Flag.STRING


@dataclass(frozen=True)
class Info:
    flags: Flag
    length: int
    default: str | None = None      # set at start-up (DU_FLAG_INIT) when not None


# dummy-ups.h nut_data: the variables dummy-ups knows, their flags and string lengths (first match wins)
NUT_DATA: list[tuple[str, Info]] = [
    ("ups.mfr", Info(STRING | RW, 32, "Dummy Manufacturer")),
    ("ups.model", Info(STRING | RW, 32, "Dummy UPS")),
    ("ups.status", Info(STRING | RW, 32, "OL")),
    ("ups.serial", Info(STRING | RW, 32)),
    ("ups.load", Info(RW, 32)),
    ("ups.alarm", Info(STRING | RW, 32)),
    ("ups.time", Info(STRING | RW, 16)),
    ("ups.date", Info(STRING | RW, 16)),
    ("ups.mfr.date", Info(STRING | RW, 16)),
    ("ups.firmware", Info(STRING | RW, 16)),
    ("ups.firmware.aux", Info(STRING | RW, 16)),
    ("ups.temperature", Info(RW, 1)),
    ("ups.id", Info(STRING | RW, 16)),
    ("ups.delay.start", Info(RW, 1)),
    ("ups.delay.reboot", Info(RW, 1)),
    ("ups.delay.shutdown", Info(RW, 1)),
    ("ups.test.interval", Info(RW, 1)),
    ("ups.test.result", Info(STRING | RW, 16)),
    ("input.voltage", Info(RW, 1)),
    ("input.voltage.maximum", Info(RW, 1)),
    ("input.voltage.minimum", Info(RW, 1)),
    ("input.voltage.nominal", Info(RW, 1)),
    ("input.transfer.reason", Info(STRING | RW, 1)),
    ("input.transfer.low", Info(RW, 1)),
    ("input.transfer.high", Info(RW, 1)),
    ("input.sensitivity", Info(STRING | RW, 1)),
    ("input.quality", Info(STRING | RW, 6)),
    ("input.frequency", Info(RW, 1)),
    ("input.transfer.boost.low", Info(RW, 1)),
    ("input.transfer.boost.high", Info(RW, 1)),
    ("input.transfer.trim.low", Info(RW, 1)),
    ("input.transfer.trim.high", Info(RW, 1)),
    ("output.voltage", Info(RW, 1)),
    ("output.frequency", Info(RW, 1)),
    ("output.current", Info(RW, 1)),
    ("battery.charge", Info(RW, 1)),
    ("battery.charge.low", Info(RW, 1)),
    ("battery.voltage", Info(RW, 1)),
    ("battery.current", Info(RW, 1)),
    ("battery.runtime", Info(RW, 1)),
    ("battery.runtime.low", Info(RW, 1)),
    ("battery.charge.restart", Info(RW, 1)),
    ("battery.temperature", Info(RW, 1)),
    ("battery.voltage.nominal", Info(RW, 1)),
    ("ambient.temperature", Info(RW, 1)),
    ("ambient.temperature.alarm", Info(RW, 1)),
    ("ambient.temperature.high", Info(RW, 1)),
    ("ambient.temperature.low", Info(RW, 1)),
    ("ambient.humidity", Info(RW, 1)),
    ("ambient.humidity.alarm", Info(RW, 1)),
    ("ambient.humidity.high", Info(RW, 1)),
    ("ambient.humidity.low", Info(RW, 1)),
]
_BY_NAME: dict[str, Info] = {}
for _name, _info in NUT_DATA:
    _BY_NAME.setdefault(_name.lower(), _info)


def find_info(name: str) -> Info | None:
    return _BY_NAME.get(name.lower())


class DummyUps(Driver):
    progname = "dummy-ups"
    name = "Device simulation and repeater driver"
    version = "0.15"
    authors = "Arnaud Quette <arnaud.quette@gmail.com>"

    LOOP, ONCE, REPEATER = "dummy-loop", "dummy-once", "repeater"

    def __init__(self, core) -> None:
        super().__init__(core)
        self.mode = ""
        self.lines: list[Line] | None = None     # the open "parse context": tokenized file + position
        self.pos = 0
        self.next_update = -1.0
        self.datafile_mtime = 0
        self.var_value = ""                      # survives between lines, as NUT's stack buffer does
        self.client: UpsClient | None = None     # repeater mode: the connection to the other upsd
        self.client_ups = ""

    # -- callbacks ------------------------------------------------------------------------------
    def makevartable(self) -> None:
        self.addvar(VarType.VALUE, "mode", "Specify mode instead of guessing it from port value "
                    "(dummy = dummy-loop, dummy-once, repeater)")

    def initups(self) -> None:
        val = self.dstate.getinfo_raw("driver.parameter.mode")
        port = self.device_path
        if (val is None and "@" in port) or val == "repeater":
            upsdebugx(1, "Repeater mode")
            self.mode = self.REPEATER
            self.dstate.setinfo("driver.parameter.mode", "repeater")
            return
        mode = {"dummy-loop": self.LOOP, "dummy-once": self.ONCE, "dummy": self.LOOP}.get(val or "", "")
        if not mode:
            mode = self.LOOP if port.endswith(".seq") else self.ONCE if port.endswith(".dev") else ""
        if mode:
            self.dstate.setinfo("driver.parameter.mode", mode)
        else:
            mode = self.LOOP
            self.dstate.setinfo("driver.parameter.mode", "dummy")       # the pre-2.8.0 name
        self.mode = mode
        # 2.8.0 stats the port as given, relative to the current directory (not the conf dir)
        try:
            self.datafile_mtime = int(os.stat(port).st_mtime)
        except OSError:
            upsdebugx(2, "Can't open %s currently", port)

    def initinfo(self) -> None:
        ds = self.dstate
        if self.mode == self.REPEATER:
            self.repeater_init()
        else:
            for name, info in NUT_DATA:
                if info.default is not None:
                    ds.setinfo(name, info.default)
                    ds.setflags(name, info.flags)
                    if info.flags & Flag.STRING:
                        ds.setaux(name, info.length)
            self.parse_data_file()
            self.setvar = self.do_setvar
            ds.dataok()
        self.instcmd = self.do_instcmd
        ds.addcmd("load.off")

    def updateinfo(self) -> None:
        upsdebugx(1, "upsdrv_updateinfo...")
        self.sleep(1)        # NUT's dummy-ups pauses 1 s per update: a sleep (never a busy wait) that a stop cuts short
        if self.mode == self.REPEATER:
            self.repeater_update()
        elif self.mode == self.LOOP:
            self.parse_data_file()
            self.dstate.dataok()
        elif self.mode == self.ONCE:
            if self.lines is None and self.next_update == -1:
                try:
                    mtime = int(os.stat(self.datafile()).st_mtime)
                except OSError:
                    upsdebugx(2, "Can't open %s currently", self.datafile())
                    self.datafile_mtime = 0
                    self.next_update = 1
                else:
                    if mtime != self.datafile_mtime:
                        upsdebugx(2, "upsdrv_updateinfo: input file was already read once to the end, "
                                  "but changed later - re-reading")
                        self.next_update = 1
                        self.datafile_mtime = mtime
            if self.lines is None and self.next_update == -1:
                upsdebugx(2, "upsdrv_updateinfo: NO-OP: input file was already read once to the end")
            else:
                self.parse_data_file()
            self.dstate.dataok()

    def shutdown(self) -> None:
        raise Fatal("shutdown not supported")

    # -- repeater mode --------------------------------------------------------------------------
    def repeater_init(self) -> None:
        """Connect to the other upsd and copy its variables once; any failure here is fatal, as in NUT."""
        from pnut.libupsclient import BadAddress, UnknownCommand, UpsClient, UpsClientError, splitname
        try:
            self.client_ups, host, port = splitname(self.device_path)
        except BadAddress as e:
            if str(e):
                print(e, file=sys.stderr)       # upscli_splitaddr() complains on stderr first
            raise Fatal("Error: invalid UPS definition.\nRequired format: upsname[@hostname[:port]]") from None
        try:
            self.client = UpsClient(host, port, tryssl=True)
        except UpsClientError as e:
            raise Fatal(f"Error: {e}") from None
        upsdebugx(1, "Connected to %s@%s", self.client_ups, host)
        try:
            self.repeater_copy()
        except UnknownCommand:
            raise Fatal("Error: upsd is too old to support this query") from None
        except UpsClientError as e:
            raise Fatal(f"Error: {e}") from None

    def repeater_copy(self) -> None:
        """LIST VAR on the other upsd; every variable but driver.* goes through setvar (so ups.status is
        re-tokenised and flags are those a client SET would give)."""
        assert self.client is not None
        for name, value in self.client.list_vars(self.client_ups).items():
            if not name.startswith("driver."):
                self.do_setvar(name, value)

    def repeater_update(self) -> None:
        from pnut.libupsclient import UpsClientError
        try:
            self.repeater_copy()
        except UpsClientError as e:
            # NUT 2.8.0 reconnects and keeps the old values without marking them stale; pnut marks the data
            # stale until the other upsd answers again, so nobody acts on a copy that is no longer live.
            upsdebugx(1, "Error: %s", e)
            self.dstate.datastale()
            assert self.client is not None
            try:
                self.client.connect()
            except UpsClientError as e2:
                upsdebugx(1, "Error reconnecting: %s", e2)
            else:
                upsdebugx(1, "Reconnected")
            return
        self.dstate.dataok()

    def cleanup(self) -> None:
        if self.client is not None:
            self.client.close()

    # -- handlers -------------------------------------------------------------------------------
    def do_instcmd(self, cmd: str, extra: str | None) -> int:
        log.info("instcmd: unknown command [%s] [%s]", cmd, "(null)" if extra is None else extra)
        return STAT_INSTCMD_UNKNOWN

    def do_setvar(self, var: str, val: str) -> int:
        ds = self.dstate
        upsdebugx(2, "entering setvar(%s, %s)", var, val)
        if var.startswith("ups.status"):
            ds.status_init()
            ds.status_set(val)
            ds.status_commit()
            return STAT_SET_HANDLED
        if not val:
            ds.delinfo(var)
            return STAT_SET_HANDLED
        ds.setinfo(var, val)
        info = find_info(var)
        if info is not None:
            ds.setflags(var, info.flags)
            if info.flags & Flag.STRING:
                ds.setaux(var, info.length)
        else:
            ds.setflags(var, Flag.STRING | Flag.RW)
            ds.setaux(var, 32)
        return STAT_SET_HANDLED

    # -- the definition file --------------------------------------------------------------------
    def datafile(self) -> str:
        port = self.device_path
        return port if port.startswith("/") else os.path.join(paths.confpath(), port)

    def parse_data_file(self) -> None:
        upsdebugx(1, "entering parse_data_file()")
        if time.time() < self.next_update:
            upsdebugx(1, "leaving (paused)...")
            return
        fn = self.datafile()
        if self.lines is None:
            try:
                with open(fn, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise Fatal(f"Can't open dummy-ups definition file {fn}: Can't open {fn}: {e.strerror}") from None
            self.lines, self.pos = list(iter_lines(data)), 0
        self.next_update = -1
        ds = self.dstate
        while self.pos < len(self.lines):
            line = self.lines[self.pos]
            self.pos += 1
            if line.error:
                upsdebugx(2, "Parse error: %s:%d: %s", fn, line.lineno, line.error)
                continue
            words = line.words
            if not words:
                continue
            if words[0].startswith("TIMER"):
                delay = _atoi(words[1]) if len(words) > 1 else 0
                self.next_update = time.time() + delay
                upsdebugx(1, "suspending execution for %i seconds...", delay)
                break
            var = words[0].split(":", 1)[0]
            if var.startswith("driver."):
                upsdebugx(2, "parse_data_file: skipping %s", var)
                continue
            if var.startswith("ups.status"):
                ds.status_init()
                for token in words[1:]:
                    ds.status_set(token)
                ds.status_commit()
                continue
            if len(words) > 1:
                self.var_value = " ".join(words[1:])[:MAX_STRING_SIZE - 1]
            self.do_setvar(var, self.var_value)
        if self.next_update == -1:
            self.lines = None


def _atoi(text: str) -> int:
    from pnut.drivers.dstate import strtol
    return strtol(text)


def main(argv: list[str] | None = None) -> int:
    return run(DummyUps, argv)


if __name__ == "__main__":      # pragma: no cover
    raise SystemExit(main())
