"""Driver name -> implementing class, imported only when asked for (upsdrvctl and the console scripts)."""

from __future__ import annotations

import importlib

# program name (as in ups.conf `driver =`) -> "module:class" inside pnut.drivers
DRIVERS: dict[str, str] = {
    "apcsmart": "pnut.drivers.apcsmart:ApcSmart",
    "apcupsd-ups": "pnut.drivers.apcupsd_ups:ApcupsdUps",
    "dummy-ups": "pnut.drivers.dummy_ups:DummyUps",
}


def names() -> list[str]:
    return sorted(DRIVERS)


def lookup(name: str) -> type:
    """The Driver subclass for `name`; KeyError if pnut has no such driver."""
    module, _, cls = DRIVERS[name].partition(":")
    return getattr(importlib.import_module(module), cls)
