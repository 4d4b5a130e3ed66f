"""The shared state tree (common/state.c semantics)."""

from __future__ import annotations

from pnut.drivers import registry
from pnut.drivers.state import Flag, StateTree


def test_order_case_and_values():
    t = StateTree()
    for name in ("ups.status", "Battery.charge", "battery.Charge.low", "device.type"):
        t.setinfo(name, "1")
    assert [n.name for n in t] == ["Battery.charge", "battery.Charge.low", "device.type", "ups.status"]
    assert not t.setinfo("UPS.STATUS", "1")
    assert t.setinfo("ups.status", 'a"b')
    assert t.get("ups.status").value == 'a\\"b'


def test_immutable_enums_ranges_commands():
    t = StateTree()
    t.setinfo("v", "1")
    t.setflags("v", Flag.IMMUTABLE)
    assert not t.setinfo("v", "2") and not t.delinfo("v") and t.getinfo("v") == "1"
    t.setinfo("e", "x")
    assert t.addenum("e", "A") and not t.addenum("e", "A") and t.addenum("e", "a")
    assert t.delenum("e", "A") and t.get("e").enums == ["a"]
    assert t.addrange("e", 1, 5) and not t.addrange("e", 1, 9) and not t.addrange("e", 6, 5)
    assert t.addrange("e", 6, 9) and t.delrange("e", 0, 9) and t.get("e").ranges == [(1, 5)]
    assert t.addcmd("b.cmd") and t.addcmd("A.cmd") and not t.addcmd("a.CMD")
    assert list(t.iter_commands()) == ["A.cmd", "b.cmd"]


def test_flag_words():
    assert Flag.parse(["rw", "NUMBER", "junk"]).words() == ["RW", "NUMBER"]


def test_registry_imports_lazily():
    assert "dummy-ups" in registry.names()
    assert registry.lookup("dummy-ups").progname == "dummy-ups"
