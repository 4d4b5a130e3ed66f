"""upsmon's decision rules without any I/O (clients/upsmon.c parse_status(), ups_is_gone(), recalc(),
is_ups_critical()): statuses and poll failures in, notifications and the shutdown verdict out.

Time is passed in by the caller (seconds, any monotonic origin), so tests and rehearsals can drive every
rule on a fake clock.  Differences from NUT 2.8.0, all taken from later NUT releases:
  * CAL is cleared when the status no longer carries it (NOTCAL is notified).  In 2.8.0 the flag stuck
    forever and a later OB LB was never declared critical: a calibration could cost the shutdown.
  * OFF/NOTOFF and BYPASS/NOTBYPASS are notified (2.8.1); they never make a UPS critical by themselves.
  * ECO, ALARM, OVER, TRIM, BOOST and their NOT forms follow the status words of the same names, and
    OTHER/NOTOTHER report status words upsmon does not know (2.8.1 .. 2.8.3).  They are notifications
    only: none of them enters is_critical(), so they never start or prevent a shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from pnut.upsmon.config import Monitor, UpsmonConf
from pnut.upsmon.notify import NotifyType

log = logging.getLogger("pnut.upsmon")

NEVER = float("-inf")
INITIAL_SLEEP = 5          # NUT starts with a 5 s pause whatever POLLFREQ says

Emit = Callable[..., object]          # emit(type, sys) or, for ALARM and OTHER, emit(type, sys, extra)

# Status words later NUT's parse_status() knows; any other word is reported by OTHER.  HB, CHRG and DISCHRG
# are known but draw no reaction.
KNOWN_WORDS = frozenset(("OL", "OB", "LB", "RB", "CAL", "OFF", "BYPASS", "ECO", "ALARM", "OVER", "TRIM",
                         "BOOST", "FSD", "HB", "CHRG", "DISCHRG"))

# Flags that appear with a status word and disappear (with a NOT notification) when it goes away.
TOGGLES = (("cal", "CAL"), ("off", "OFF"), ("bypass", "BYPASS"), ("alarm", "ALARM"), ("over", "OVER"),
           ("trim", "TRIM"), ("boost", "BOOST"), ("eco", "ECO"))


@dataclass
class UpsState:
    """utype_t: what upsmon knows of one MONITORed UPS."""

    mon: Monitor
    online: bool = False
    onbatt: bool = False
    lowbatt: bool = False
    fsd: bool = False
    cal: bool = False
    off: bool = False
    bypass: bool = False
    eco: bool = False
    alarm: bool = False
    alarmtext: str = ""                 # the last ups.alarm value notified, to re-notify when it changes
    over: bool = False
    trim: bool = False
    boost: bool = False
    others: tuple[str, ...] = ()        # status words not in KNOWN_WORDS, as last seen
    commstate: int = -1                 # -1 = not yet known (first COMMOK and first ONLINE are silent)
    linestate: int = -1
    lastpoll: float = NEVER
    lastnoncrit: float = NEVER
    lastrbwarn: float = NEVER
    lastncwarn: float = NEVER
    status: str = ""                    # last status string seen, for rehearsals and debugging

    @property
    def sys(self) -> str:
        return self.mon.sys

    @property
    def primary(self) -> bool:
        return self.mon.primary


@dataclass
class Decider:
    """All MONITORed UPSes and the rules that turn their statuses into notices and a shutdown verdict."""

    conf: UpsmonConf
    emit: Emit
    upses: list[UpsState] = field(default_factory=list)
    sleepval: float = INITIAL_SLEEP

    def __post_init__(self) -> None:
        if not self.upses:
            self.upses = [UpsState(m) for m in self.conf.monitors]

    def _emit(self, *args: object) -> None:
        """Deliver one notice; a notifier that fails is logged and forgotten.  In 2.8.0 do_notify() cannot
        abort parse_status(), so a failing NOTIFYCMD or wall must not keep OB, LB or FSD from being
        recorded (each flag here is set after its notice) nor take the monitoring loop down."""
        try:
            self.emit(*args)
        except Exception as exc:
            log.error("Notification %s failed: %r", getattr(args[0], "name", args[0]), exc)

    # --- one poll's outcome -------------------------------------------------------------------------

    def alive(self, ups: UpsState, now: float) -> None:
        """ups_is_alive(): a good poll."""
        ups.lastpoll = now
        if ups.commstate == 0:
            self._emit(NotifyType.COMMOK, ups.sys)
        ups.commstate = 1

    def gone(self, ups: UpsState, now: float) -> None:
        """ups_is_gone(): a failed connect or poll."""
        if ups.commstate != 0:
            ups.commstate = 0
            self._emit(NotifyType.COMMBAD, ups.sys)
            return
        nocomm = self.conf.nocommwarntime
        if now - ups.lastpoll >= nocomm and now - ups.lastncwarn > nocomm:
            self._emit(NotifyType.NOCOMM, ups.sys)
            ups.lastncwarn = now

    def dropped(self, ups: UpsState) -> None:
        """drop_connection(): the next round reconnects; the line state is unknown again."""
        ups.commstate = 0
        ups.linestate = 0

    def status(self, ups: UpsState, text: str, now: float, alarm: str | None = None) -> None:
        """parse_status(): one `ups.status` value.  `alarm` is ups.alarm, fetched by the caller when the
        status carries ALARM (None when it could not be had: NUT then says "n/a")."""
        if not text:
            self.gone(ups, now)
            return
        self.alive(ups, now)
        ups.status = text
        words = [w.upper() for w in text.split(" ") if w]
        if "LB" not in text:
            ups.lowbatt = False
        if "FSD" not in text:
            ups.fsd = False
        for attr, word in TOGGLES:
            if getattr(ups, attr) and word not in words:
                setattr(ups, attr, False)
                self._emit(NotifyType["NOT" + word], ups.sys)
                if attr == "alarm":
                    ups.alarmtext = ""
                if attr in ("alarm", "over"):
                    self._relax(ups)
        for word in words:
            self._word(ups, word, now, alarm)
            if not ups.onbatt or not ups.lowbatt or ups.cal:
                ups.lastnoncrit = now
        self._others(ups, words)

    def _relax(self, ups: UpsState) -> None:
        """After ALARM or OVER clears, poll at POLLFREQ again unless the UPS still needs watching."""
        if not (ups.onbatt or ups.alarm or (ups.over and self.conf.overduration >= 0)):
            self.sleepval = self.conf.pollfreq

    def _others(self, ups: UpsState, words: list[str]) -> None:
        """OTHER when an unknown status word appears or one of several goes away (with the words now
        present), NOTOTHER when the last one goes away."""
        others = tuple(w for w in words if w not in KNOWN_WORDS)
        if set(others) == set(ups.others):
            ups.others = others
            return
        ups.others = others
        if others:
            self._emit(NotifyType.OTHER, ups.sys, " ".join(others))
        else:
            self._emit(NotifyType.NOTOTHER, ups.sys)

    def _word(self, ups: UpsState, word: str, now: float, alarm: str | None = None) -> None:
        if word == "OL":
            if not ups.online:
                self.sleepval = self.conf.pollfreq
                if ups.linestate != -1:
                    self._emit(NotifyType.ONLINE, ups.sys)
                ups.linestate = 1
            ups.online, ups.onbatt = True, False
        elif word == "OB":
            if not ups.onbatt:
                self.sleepval = self.conf.pollfreqalert
                ups.linestate = 0
                self._emit(NotifyType.ONBATT, ups.sys)
            ups.onbatt, ups.online = True, False
        elif word == "LB":
            if not ups.lowbatt:
                self._emit(NotifyType.LOWBATT, ups.sys)
                ups.lowbatt = True
        elif word == "RB":
            if now - ups.lastrbwarn > self.conf.rbwarntime:
                self._emit(NotifyType.REPLBATT, ups.sys)
                ups.lastrbwarn = now
        elif word == "CAL":
            if not ups.cal:
                self._emit(NotifyType.CAL, ups.sys)
                ups.cal = True
        elif word == "FSD":
            if not ups.fsd:
                self._emit(NotifyType.FSD, ups.sys)
                ups.fsd = True
        elif word == "OFF":
            if not ups.off:
                self._emit(NotifyType.OFF, ups.sys)
                ups.off = True
        elif word == "BYPASS":
            if not ups.bypass:
                self._emit(NotifyType.BYPASS, ups.sys)
                ups.bypass = True
        elif word == "ALARM":
            if not ups.alarm:
                self.sleepval = self.conf.pollfreqalert
                ups.alarm = True
                ups.alarmtext = alarm or ""
                self._emit(NotifyType.ALARM, ups.sys, "n/a" if alarm is None else alarm)
            elif alarm is not None and alarm != ups.alarmtext:
                ups.alarmtext = alarm                  # still under alarm, but a different set of alarms
                self._emit(NotifyType.ALARM, ups.sys, alarm)
        elif word in ("ECO", "OVER", "TRIM", "BOOST"):
            attr = word.lower()
            if not getattr(ups, attr):
                if word == "OVER" and self.conf.overduration >= 0:
                    self.sleepval = self.conf.pollfreqalert
                setattr(ups, attr, True)
                self._emit(NotifyType[word], ups.sys)

    # --- the verdict --------------------------------------------------------------------------------

    def is_critical(self, ups: UpsState, now: float) -> bool:
        if ups.fsd:
            return True
        if not (ups.onbatt and ups.lowbatt):
            return False
        if ups.cal:
            log.warning("is_ups_critical: seems that UPS [%s] is OB+LB now, but it is also calibrating - "
                        "not declaring a critical state", ups.mon.upsname)
            return False
        if ups.primary:
            return True
        if now - ups.lastnoncrit > self.conf.hostsync:
            log.warning("Giving up on the primary for UPS [%s]", ups.sys)
            return True
        return False

    def power_value(self, now: float) -> int:
        """recalc()'s sum: the power values of every UPS that is not critical (a dead UPS last seen on
        battery is promoted to OB LB after DEADTIME first)."""
        val = 0
        for ups in self.upses:
            if now - ups.lastpoll > self.conf.deadtime and ups.onbatt:
                log.debug("Promoting dead UPS: %s", ups.sys)
                ups.lowbatt = True
            if self.is_critical(ups, now):
                log.debug("Critical UPS: %s", ups.sys)
            else:
                val += ups.mon.powervalue
        return val

    def must_shutdown(self, now: float) -> bool:
        """True when the power still supplied is below MINSUPPLIES: forceshutdown() is due."""
        return self.power_value(now) < self.conf.minsupplies
