"""Numbers and links as the report shows them (formatted here, never in templates)."""

from __future__ import annotations

import re

MINUS = "\u2212"


def plain(value: float, _pos: object = None) -> str:
    """A number as written out, for an axis's tick (a matplotlib formatter: ``_pos``), a data
    value or a diff: 100, 1,500, 0.2, 972,842,000,000 (never 10², 2×10², 9.7e+11 or an
    offset; only below 1e-4, as 1e−11). From 100,000 up a number shows no decimals."""
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or (abs(value) >= 1 and abs(value - round(value)) < 1e-9 * abs(value)):  # (1e-11 is no 0)
        return f"{round(value):,}".replace("-", MINUS)
    return f"{value:.6g}".replace("-", MINUS)


def fmt(x: float | None, digits: int = 2) -> str:
    """A number for display; missing values (NaN is stored as null) show as "n/a", and a
    number that rounds to zero shows no sign ("-0.0" would read as a fall)."""
    return "n/a" if x is None else _unsigned_zero(f"{x:.{digits}f}")


def _unsigned_zero(text: str) -> str:
    return text.lstrip("+-") if float(text) == 0 else text


def apart(value: float | None, other: float | None, digits: int = 3, most: int = 6) -> tuple[str, str]:
    """Two numbers with as many decimals (``digits`` to ``most``) as it takes for them to read
    apart when they are apart: a value beside its noise level, "0.0024" and "0.0016", read as
    one number, "0.002" and "0.002", when both were rounded alike."""
    if value is not None and other is not None:
        while digits < most and value != other and fmt(value, digits) == fmt(other, digits):
            digits += 1
    return fmt(value, digits), fmt(other, digits)


def fmt_interval(lo: float | None, hi: float | None, digits: int = 2) -> str:
    return f"[{fmt(lo, digits)}, {fmt(hi, digits)}]"


def signed(x: float | None, digits: int = 1) -> str:
    """A change with its sign ("+0.4", "-1.2"); none on a zero."""
    return "n/a" if x is None else _unsigned_zero(f"{x:+.{digits}f}")


def decimals(*values: float | None) -> int:
    """Decimals that show a set of values to about three significant figures of the largest
    (index points and USD bn need none, a change of 0.4 needs two)."""
    largest = max((abs(v) for v in values if v is not None), default=0.0)
    return 0 if largest >= 10 else 1 if largest >= 1 else 2


def quantity(x: float | None, digits: int, *, sign: bool = False) -> str:
    """A forecast value (or change, with ``sign``) with a true minus sign; from 10,000 up with
    thousands separators, and a positive value that would round to 0 as below the last digit
    shown ("<0.01"): on a log scale a value is never 0."""
    if x is None:
        return "n/a"
    group = "," if abs(x) >= 10_000 else ""
    text = f"{x:+{group}.{digits}f}" if sign else f"{x:{group}.{digits}f}"
    if not sign and 0 < x and float(text.replace(",", "")) == 0:
        return f"<{10.0 ** -digits:.{digits}f}"
    return (text if group else _unsigned_zero(text)).replace("-", MINUS)  # (a grouped number is no zero)


def safe_url(url: str | None) -> str | None:
    """Only http(s) links reach an href: a ``javascript:`` URL in a data file is shown as text."""
    return url.strip() if url and re.match(r"^https?://", url.strip(), re.I) else None


_URL = re.compile(r"https?://[^\s;,<>\"']+", re.I)


def links(text: str | None) -> list[dict[str, str | None]]:
    """A source cell as parts, each URL its own link: "https://a ; https://b" is two links
    joined by " ; ", not one broken one. Parts are ``{"text", "url"}`` (url None for text)."""
    text = text or ""
    parts: list[dict[str, str | None]] = []
    at = 0
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".)]")  # a sentence's full stop or a closing bracket is not part of it
        if m.start() > at:
            parts.append({"text": text[at:m.start()], "url": None})
        parts.append({"text": url, "url": safe_url(url)})
        at = m.start() + len(url)
    if at < len(text):
        parts.append({"text": text[at:], "url": None})
    return parts
