"""The allowed range of every number a user gives, in one table: the command line's argument types,
the library's checks and the server's request bodies all read it.

    check("words", 1001)      # UserError "{field} must be 1 to 1000, got 1001" (field "words")
    LIMITS["top_p"].high      # 1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from classifier.errors import UserError


@dataclass(frozen=True)
class Limit:
    low: float
    high: float | None = None  # None: no upper bound
    low_open: bool = False  # the low end itself is refused (top_p: above 0)
    says: str = ""  # how the range reads when "LOW to HIGH" would mislead
    gap_below: float = 0.0  # values above LOW but under this are refused too (temperature: 0 or from 1e-6)

    def holds(self, value) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        in_gap = self.low < value < self.gap_below
        return above and not in_gap and (self.high is None or value <= self.high)

    def words(self) -> str:
        if self.says:
            return self.says
        if self.high is None:
            return f"{self.low:g} or more"
        if isinstance(self.high, int):
            return f"{self.low} to {self.high}"
        return f"between {self.low:g} and {self.high:g}"


LIMITS = {
    "seed": Limit(0, 2**32 - 1),
    "words": Limit(1, 1000),  # generated words per sample
    "n": Limit(1, 1000),  # samples per call
    "best_of": Limit(1, 64),  # candidates per sample
    "top_k": Limit(1),
    "top_p": Limit(0.0, 1.0, low_open=True, says="in (0, 1]"),
    # below 1e-6 a sample is the arg-max in all but name, and logits / t overflows near 1e-308: 0 is greedy
    "temperature": Limit(0.0, says="0 (greedy) or a finite number from 1e-06", gap_below=1e-6),
    "threshold": Limit(0.0, 1.0),
    "min_count": Limit(0),
    "agreement_samples": Limit(1, 1000),
    "strength": Limit(0.0, 20.0),  # how hard the steering experts pull; beyond 20 they alone write the text
}


def check(field: str, value, like: str | None = None) -> None:
    """Raise a UserError naming `field` when `value` is outside its range in LIMITS (the row of
    `like` when the field shares another's range, as init_seed does seed's)."""
    limit = LIMITS[like or field]
    if not limit.holds(value):
        raise UserError(f"{{field}} must be {limit.words()}, got {value}", field=field, value=value,
                        allowed=(limit.low, limit.high))
