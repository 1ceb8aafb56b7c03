"""One row of the bad-input table that ``tests/fuzz/test_fuzz.py`` runs.

Each ``tests/fuzz/cases_*.py`` module defines ``CASES: list[Case]``. A case calls one public
entry point with one class of bad input and states what a user must get: an exception of
``raises`` whose message matches ``match`` (the argument's name and, where there is one, the
fix), or, with ``warns``, a warning of that category and a result that ``check`` accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Case:
    target: str                                   # public name, e.g. "curvlab.linear.OLS.fit"
    kind: str                                     # class of bad input: "nan", "inf", "empty", "one_row",
                                                  # "shape", "dtype", "complex", "range", "not_spd", "fault", ...
    call: Callable[[], Any]                       # does the bad call
    raises: type[BaseException] | tuple | None = (ValueError, TypeError)
    match: str | None = None                      # regex the message must contain (the argument's name)
    warns: type[Warning] | None = None            # instead of raising: this warning ...
    check: Callable[[Any], bool] | None = None    # ... and a result this accepts (well defined, finite)

    @property
    def id(self) -> str:
        return f"{self.target}[{self.kind}]"
