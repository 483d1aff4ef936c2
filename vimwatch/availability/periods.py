"""The time window a report covers, from what a caller typed: `30d`, or since/until."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from vimwatch.errors import BadRequest

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_WINDOW = re.compile(r"(\d{1,6})([mhdw])")
#: The longest window: any longer goes beyond every history the retention keeps.
LONGEST = timedelta(days=3660)
DEFAULT_WINDOW = "30d"
# Times every database stores and compares alike (MariaDB's DATETIME starts at year 1000).
EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(9999, 1, 1)


def parse_window(text: str) -> timedelta:
    """`90m`, `1h`, `24h`, `7d`, `30d`, `2w`: a positive length up to LONGEST."""
    match = _WINDOW.fullmatch(text.strip())
    if not match:
        raise BadRequest(
            f"window must be a number and a unit (m, h, d or w), such as 30d, not {text!r}"
        )
    length = timedelta(seconds=int(match[1]) * _UNITS[match[2]])
    if not timedelta(0) < length <= LONGEST:
        raise BadRequest(f"window must be longer than 0 and at most {LONGEST.days}d, not {text}")
    return length


def parse_time(text: str, what: str) -> datetime:
    """An ISO 8601 time; one with an offset is turned into the naive UTC the registry uses."""
    problem = f"{what} must be an ISO 8601 time such as 2026-01-31T12:00:00, not {text!r}"
    try:
        value = datetime.fromisoformat(text.strip())
        offset = value.utcoffset()
        if offset is not None:
            value = (value - offset).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise BadRequest(problem) from None
    if not EARLIEST <= value <= LATEST:
        raise BadRequest(f"{what} must lie between {EARLIEST.year} and {LATEST.year}")
    return value


def report_period(
    now: datetime,
    window: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> tuple[datetime, datetime]:
    """[since, until) of a report: the last `window` before `until` (now by default), or
    from `since`. A period reaching past now ends now: the future has no history yet."""
    if window is not None and since is not None:
        raise BadRequest("give either window or since, not both")
    end = min(parse_time(until, "until"), now) if until is not None else now
    if since is not None:
        start = parse_time(since, "since")
    else:
        start = end - parse_window(window or DEFAULT_WINDOW)
    if start >= end:
        raise BadRequest("since must come before until (and before now)")
    if end - start > LONGEST:
        raise BadRequest(f"a report covers at most {LONGEST.days} days")
    return start, end
