"""getopt(3) as NUT's programs see it from glibc: short options only, glibc's two complaints.

Every NUT program (drivers, upsdrvctl, upsd, the clients, upsmon) calls getopt with a leading '+', so
options end at the first operand, at "-" or after "--"; clustered flags (-DD) and attached arguments (-uadmin)
work.  An unknown option or a missing argument is reported on stderr in glibc's words and comes back as
('?', None); each program decides what that means (most show their help).  Permutation (glibc without '+')
is never needed, so parsing always stops at the first operand, whether the '+' is written or not.

Kept to `sys` alone: upsc, upscmd and upsrw import it at start-up.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence

INVALID = "invalid option -- '{}'"
NEEDS_ARG = "option requires an argument -- '{}'"


class GetOpt:
    """Iterate (option, argument) pairs in command-line order; `rest` holds the operands afterwards.

    Arguments come in C's order: the program name (argv[0], used in the messages), the arguments after it,
    the option string."""

    def __init__(self, prog: str, args: Sequence[str], optstring: str) -> None:
        self.prog = prog
        self.args = list(args)
        self.spec = optstring.removeprefix("+")
        self.rest: list[str] = []

    def _complain(self, template: str, ch: str) -> None:
        sys.stderr.write(f"{self.prog}: {template.format(ch)}\n")

    def __iter__(self) -> Iterator[tuple[str, str | None]]:
        args, spec, i = self.args, self.spec, 0
        while i < len(args):
            word = args[i]
            if word == "--":
                i += 1
                break
            if not word.startswith("-") or word == "-":
                break
            j = 1
            while j < len(word):
                ch = word[j]
                pos = spec.find(ch)
                if pos < 0 or ch == ":":
                    self._complain(INVALID, ch)
                    yield "?", None
                    j += 1
                    continue
                if spec[pos + 1:pos + 2] != ":":
                    yield ch, None
                    j += 1
                    continue
                # an option with an argument takes the rest of this word, or else the next word
                if j + 1 < len(word):
                    yield ch, word[j + 1:]
                elif i + 1 < len(args):
                    i += 1
                    yield ch, args[i]
                else:
                    self._complain(NEEDS_ARG, ch)
                    yield "?", None
                break
            i += 1
        self.rest = args[i:]


def getopt(argv: Sequence[str], optstring: str, prog: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    """All options at once: ([(option, argument), ...], operands)."""
    parser = GetOpt(prog, argv, optstring)
    opts = list(parser)
    return opts, parser.rest
