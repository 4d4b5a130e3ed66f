"""Reader for ups.conf (common/upsconf.c): global directives, [sections], `key = value` and bare flags.

The reader only splits the file; what each key means is decided by its user (the driver core, upsd,
upsdrvctl), exactly as NUT's do_upsconf_args() callbacks do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pnut.conf import paths
from pnut.conf.parseconf import iter_lines

log = logging.getLogger(__name__)


class ConfError(Exception):
    """A config file NUT would refuse; the message is NUT's."""


@dataclass
class Directive:
    key: str
    value: str | None      # None for a bare flag
    lineno: int


@dataclass
class UpsConf:
    path: str
    globals: list[Directive] = field(default_factory=list)
    sections: dict[str, list[Directive]] = field(default_factory=dict)

    def section(self, name: str) -> list[Directive] | None:
        return self.sections.get(name)

    def get(self, name: str, key: str) -> str | None:
        """Last value of `key` in section `name` (later definitions win, as in NUT)."""
        value = None
        for d in self.sections.get(name, ()):
            if d.key == key and d.value is not None:
                value = d.value
        return value

    def global_value(self, key: str, casefold: bool = False) -> str | None:
        value = None
        for d in self.globals:
            if (d.key.lower() == key.lower() if casefold else d.key == key) and d.value is not None:
                value = d.value
        return value

    def global_flag(self, key: str) -> bool:
        return any(d.key == key and d.value is None for d in self.globals)


def parse_upsconf(text: str, path: str = "ups.conf") -> UpsConf:
    conf = UpsConf(path)
    current: list[Directive] | None = None
    for line in iter_lines(text):
        if line.error:
            log.error("Parse error: %s:%d: %s", path, line.lineno, line.error)
            continue
        words = line.words
        if not words:
            continue
        first = words[0]
        if first.startswith("[") and first.endswith("]"):
            current = conf.sections.setdefault(first[1:-1], [])
            continue
        if len(words) == 1:
            d = Directive(first, None, line.lineno)
        elif len(words) >= 3 and words[1] == "=":
            d = Directive(first, words[2], line.lineno)
        else:
            continue        # NUT silently ignores `key value` and other shapes
        (conf.globals if current is None else current).append(d)
    return conf


def read_upsconf(path: str | None = None) -> UpsConf:
    """Read <confpath>/ups.conf; a missing file raises NUT's (doubled) message."""
    path = path or paths.conffile("ups.conf")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfError(f"Can't open {path}: Can't open {path}: {e.strerror}") from None
    return parse_upsconf(data.decode("latin-1"), path)
