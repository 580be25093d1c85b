"""Errors and problems that gridmap reports to its users.

Every message a user sees names the file, the layer, the row(s) and the fix.  Code that
finds bad input either raises :class:`InputError` (when it cannot go on) or collects
:class:`Problem` records (when it can, as validation does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]

#: Code of problems about features left without a geometry (blank coordinates, bad WKT...).
NO_GEOMETRY = "no_geometry"

#: How many row numbers a message lists before it says "and N more".
MAX_ROWS_SHOWN = 10


def format_rows(rows: Sequence[int], limit: int = MAX_ROWS_SHOWN) -> str:
    """Format zero-based row positions as one-based feature numbers: ``"rows 1, 4 and 40 more"``.

    Row 1 is the first feature of a layer (the first data line of a CSV, fid 1 of a fresh
    GeoPackage), which is how QGIS and spreadsheets count.
    """
    rows = list(rows)
    if not rows:
        return ""
    shown = ", ".join(str(r + 1) for r in rows[:limit])
    more = len(rows) - limit
    word = "row" if len(rows) == 1 else "rows"
    return f"{word} {shown}" + (f" and {more} more" if more > 0 else "")


def _where(
    file: str | None, layer: str | None, rows: Sequence[int], limit: int = MAX_ROWS_SHOWN
) -> str:
    named_layer = f"layer {layer!r}" if layer else None
    parts = [p for p in (file, named_layer, format_rows(rows, limit)) if p]
    return ": ".join(parts)


@dataclass
class Problem:
    """One thing wrong (or worth knowing) about an input layer.

    Attributes
    ----------
    severity
        ``"error"`` (the data cannot be used as it is), ``"warning"`` (usable, but check it)
        or ``"info"`` (something was repaired or noticed).
    message
        What is wrong, in one sentence.
    fix
        What the user should do about it.
    file, layer
        Where it was found.
    rows
        Zero-based feature (row) numbers, in file order.
    code
        A short machine-readable kind, e.g. :data:`NO_GEOMETRY`, so that later checks can
        recognise a problem already reported, and other front ends (the web app) can word it
        in their own terms and language.
    params
        The values the message is made of (column names, examples, distances...), by name,
        for front ends that word the problem themselves from its ``code``.
    """

    severity: Severity
    message: str
    fix: str = ""
    file: str | None = None
    layer: str | None = None
    rows: list[int] = field(default_factory=list)
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self, limit: int = MAX_ROWS_SHOWN) -> str:
        """One line naming the file, layer and up to ``limit`` rows, the problem and the fix."""
        where = _where(self.file, self.layer, self.rows, limit)
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} Fix: {self.fix}" if self.fix else text

    def __str__(self) -> str:
        return self.describe()


class GridmapError(Exception):
    """Base class of errors meant for users: the message says what happened and what to do.

    ``code`` and ``params`` (as in :class:`Problem`) name the kind of error and the values its
    message is made of, so that front ends can word frequent errors in their own terms.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        layer: str | None = None,
        rows: Sequence[int] = (),
        fix: str = "",
        code: str = "",
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.layer = layer
        self.rows = list(rows)
        self.fix = fix
        self.code = code
        self.params = dict(params or {})
        super().__init__(str(self))

    def __str__(self) -> str:
        where = _where(self.file, self.layer, self.rows)
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} Fix: {self.fix}" if self.fix else text


class InputError(GridmapError):
    """A file or value given by the user cannot be read or used as it is."""
