"""The one exception type for user mistakes, structured so each front end words it its own way.

    raise UserError("{field} must be 1 to 1000, got 1001", field="words", value=1001, allowed=(1, 1000))
    str(e)                       # "words must be 1 to 1000, got 1001"  (the library's own words)
    e.worded(lambda f: "--" + f) # "--words must be 1 to 1000, got 1001" (the command line's)

The library names what is wrong by its field (a parameter or config name); `cli.py` turns it into a
flag and the server into a JSON field name, so neither vocabulary leaks into the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable

SLOT = re.compile(r"\{=([a-z][a-z_]*)\}")


class UserError(ValueError):
    """Bad input or a bad bundle: say what is wrong and what to do, no traceback.

    `message` may hold `{field}`, filled with the field's name in the reader's vocabulary, and
    `{=NAME}` (`slot(NAME)`) for other fields it names. The other fields say where the problem is:
    the value given, the `allowed` range or choices, the `file`, `row` and `column`."""

    def __init__(self, message: str, *, field: str | None = None, value=None, allowed=None,
                 file=None, row: int | None = None, column: str | None = None):
        self.template, self.field, self.value, self.allowed = message, field, value, allowed
        self.file, self.row, self.column = file, row, column
        super().__init__(self.worded())

    def worded(self, name: Callable[[str], str] | None = None) -> str:
        """The message with its fields named by `name(field)` (default: each field as it is)."""
        name = name or str
        text = self.template if self.field is None else self.template.replace("{field}", name(self.field))
        return SLOT.sub(lambda m: name(m.group(1)), text)


def slot(field: str) -> str:
    """Where a message names `field`, worded by each front end in its own vocabulary."""
    return "{=" + field + "}"
