"""Variable and command descriptions from cmdvartab (server/desc.c), for GET DESC and GET CMDDESC."""

from __future__ import annotations

import logging
import os

from pnut.conf.parseconf import iter_lines

log = logging.getLogger("pnut.upsd")


class Descriptions:
    """VARDESC/CMDDESC texts, looked up case-insensitively; empty when the file is missing."""

    def __init__(self) -> None:
        self.vars: dict[str, str] = {}
        self.cmds: dict[str, str] = {}

    def load(self, datapath: str) -> None:
        fn = os.path.join(datapath, "cmdvartab")
        try:
            with open(fn, encoding="latin-1") as f:
                text = f.read()
        except OSError:
            log.info("%s not found - disabling descriptions", fn)
            return
        for line in iter_lines(text):
            if line.error:
                log.error("Parse error: %s:%d: %s", fn, line.lineno, line.error)
                continue
            if len(line.words) < 3:
                continue
            kind, name, text_ = line.words[0], line.words[1], line.words[2]
            if kind == "CMDDESC":
                self.cmds[name.lower()] = text_
            elif kind == "VARDESC":
                self.vars[name.lower()] = text_

    def var(self, name: str) -> str | None:
        return self.vars.get(name.lower())

    def cmd(self, name: str) -> str | None:
        return self.cmds.get(name.lower())
