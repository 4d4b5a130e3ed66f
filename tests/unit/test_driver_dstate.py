"""The driver-side tree: broadcasts, DUMPALL bytes, ups.status/ups.alarm assembly (NUT 2.8.0 dstate.c)."""

from __future__ import annotations

from pnut.drivers.dstate import DState, strtol
from pnut.drivers.state import Flag


class FakeLoop:
    """Runs call_soon_threadsafe callbacks at once: enough to see what readers would get."""

    def call_soon_threadsafe(self, fn, *args):
        fn(*args)


class Reader:
    def __init__(self, ds: DState) -> None:
        from pnut.drivers.dstate import Conn
        self.lines: list[str] = []
        self.conn = Conn(self)
        self.transport = self
        ds.loop = FakeLoop()
        ds.conns.append(self.conn)

    def write(self, data: bytes) -> None:
        self.lines.append(data.decode())

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        pass


def test_changes_are_broadcast_once():
    ds = DState()
    r = Reader(ds)
    ds.setinfo("ups.status", "OL")
    ds.setinfo("ups.status", "ol")          # equal ignoring case: no change, as NUT
    ds.setflags("ups.status", Flag.RW | Flag.STRING)
    ds.setflags("ups.status", Flag.RW | Flag.STRING)
    ds.setaux("ups.status", 32)
    ds.addenum("ups.status", "a\"b")
    ds.addrange("ups.status", 1, 5)
    ds.addcmd("load.off")
    ds.addcmd("LOAD.OFF")
    ds.dataok()
    ds.dataok()
    ds.delinfo("ups.status")
    assert r.lines == ['SETINFO ups.status "OL"\n', "SETFLAGS ups.status RW STRING\n", "SETAUX ups.status 32\n",
                       'ADDENUM ups.status "a\\"b"\n', "ADDRANGE ups.status 1 5\n",
                       "SETFLAGS ups.status RW STRING NUMBER\n", "ADDCMD load.off\n", "DATAOK\n",
                       "DELINFO ups.status\n"]


def test_nobroadcast_reader_gets_nothing():
    ds = DState()
    r = Reader(ds)
    r.conn.broadcast = False
    ds.setinfo("x", "1")
    assert r.lines == []


def test_dumpall_layout():
    ds = DState()
    ds.setinfo("ups.status", "OL")
    ds.setflags("ups.status", Flag.RW | Flag.STRING)
    ds.setaux("ups.status", 32)
    ds.setinfo("battery.charge", "50")
    ds.make_immutable("battery.charge")
    ds.setinfo("B.x", 'q"\\#')
    ds.addcmd("zz.cmd")
    ds.addcmd("load.off")
    assert ds.dumpall() == ('DATASTALE\nSETINFO B.x "q\\"\\\\\\#"\nSETINFO battery.charge "50"\nSETFLAGS battery.charge\n'
                            'SETINFO ups.status "OL"\nSETAUX ups.status 32\nSETFLAGS ups.status RW STRING\n'
                            "ADDCMD load.off\nADDCMD zz.cmd\nDUMPDONE\n")
    ds.dataok()
    assert ds.dumpall().endswith("ADDCMD zz.cmd\nDATAOK\nDUMPDONE\n")
    assert not ds.setinfo("battery.charge", "3") and not ds.delinfo("battery.charge")


def test_status_assembly_2_8_0():
    ds = DState()
    ds.status_init()
    for t in ("OL", "CHRG", "OL"):          # 2.8.0 keeps duplicates
        ds.status_set(t)
    ds.status_commit()
    assert ds.getinfo("ups.status") == "OL CHRG OL"
    ds.status_init()
    ds.status_commit()
    assert ds.getinfo("ups.status") == ""


def test_ignorelb():
    ds = DState()
    ds.setinfo("driver.flag.ignorelb", "enabled")
    ds.setinfo("battery.charge", "19.9")
    ds.setinfo("battery.charge.low", "20")
    ds.status_init()
    ds.status_set("OB")
    ds.status_set("LB")                     # the device's LB is dropped...
    ds.status_commit()
    assert ds.getinfo("ups.status") == "OB LB"   # ...and the core's own comparison adds it back
    ds.setinfo("battery.charge", "20")
    ds.status_init()
    ds.status_set("OB LB")                  # a whole string is one element: not filtered (2.8.0)
    ds.status_commit()
    assert ds.getinfo("ups.status") == "OB LB"
    ds.setinfo("battery.charge", "80")
    ds.setinfo("battery.runtime", "100")
    ds.setinfo("battery.runtime.low", "120")
    ds.status_init()
    ds.status_commit()
    assert ds.getinfo("ups.status") == " LB"


def test_alarm():
    ds = DState()
    ds.alarm_init()
    ds.alarm_set("Replace battery!")
    ds.alarm_set("Overheat")
    ds.alarm_commit()
    ds.status_init()
    ds.status_set("OL")
    ds.status_commit()
    assert ds.getinfo("ups.alarm") == "Replace battery! Overheat"
    assert ds.getinfo("ups.status") == "ALARM OL"
    ds.alarm_init()
    ds.alarm_commit()
    ds.status_init()
    ds.status_commit()
    assert ds.getinfo("ups.alarm") is None and ds.getinfo("ups.status") == ""


def test_value_limits_and_strtol():
    ds = DState()
    ds.setinfo("long", "x" * 400)
    assert len(ds.getinfo_raw("long")) == 255
    assert [strtol(s) for s in ("95.9", " -3x", "", "abc", "+7")] == [95, -3, 0, 0, 7]
