"""Workload traces: the two file formats, arrival times, and the generators shipped with autonomic.

A trace says when requests arrive. Two formats, one value per line (or any
whitespace between values), ``#`` starting a comment:

- ``interarrival`` (SWIM's ``.delta`` files): each value is the time in
  seconds since the previous request; the first is the time of the first one.
- ``rate``: each value is a request rate (requests per second) held for one
  interval of ``interval`` seconds; arrivals within an interval are a Poisson
  process of that rate, drawn from the run's seed.

The format is said by a header, comment lines of ``key: value`` before the
first value::

    # format: rate
    # interval: 60
    12.5
    14.0

A file without a ``format`` header is read as ``interarrival`` (so SWIM's
traces work as they are) unless the caller says otherwise; a header and a
caller that disagree are an error, never a guess.
"""

from __future__ import annotations

import enum
import io
import math
import random
import re
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import attrs

from autonomic.errors import AutonomicError

__all__ = [
    "GENERATORS",
    "Trace",
    "TraceError",
    "TraceFormat",
    "diurnal",
    "flash_crowd",
    "format_trace",
    "load_trace",
    "noise",
    "parse_trace",
    "steps",
    "to_interarrival",
    "write_trace",
]

_HEADER = re.compile(r"^#\s*([A-Za-z_-]+)\s*:\s*(.*?)\s*$")


class TraceError(AutonomicError):
    """A trace cannot be read or generated (with the file and line when there is one)."""


class TraceFormat(enum.StrEnum):
    """How the values of a trace are read."""

    INTERARRIVAL = "interarrival"
    RATE = "rate"


@attrs.frozen(kw_only=True)
class Trace:
    """A parsed trace: its format, values, and (rate traces) the interval each value holds for."""

    format: TraceFormat
    values: tuple[float, ...]
    interval_s: float = 60.0

    def __attrs_post_init__(self) -> None:
        if not (self.interval_s > 0 and math.isfinite(self.interval_s)):
            raise TraceError(f"interval must be a positive number of seconds, got {self.interval_s!r}")
        for i, v in enumerate(self.values):
            if not (v >= 0 and math.isfinite(v)):
                raise TraceError(f"value {i + 1} must be a finite number >= 0, got {v!r}")

    @property
    def duration_s(self) -> float:
        """Seconds covered: the last arrival (interarrival) or intervals times values (rate)."""
        if self.format is TraceFormat.RATE:
            return len(self.values) * self.interval_s
        return math.fsum(self.values)

    @property
    def expected_requests(self) -> float:
        """How many requests the trace brings (the mean, for a rate trace)."""
        if self.format is TraceFormat.RATE:
            return math.fsum(self.values) * self.interval_s
        return float(len(self.values))

    def arrivals(self, seed: int | str = 0) -> array[float]:
        """Arrival times in seconds from the start, ascending.

        Interarrival traces are summed as they are (``seed`` is not used); rate
        traces are drawn as a piecewise-constant Poisson process from ``seed``.
        """
        out: array[float] = array("d")
        if self.format is TraceFormat.INTERARRIVAL:
            t = 0.0
            for v in self.values:
                t += v
                out.append(t)
            return out
        rng = random.Random(f"{seed}/arrivals")
        expo = rng.expovariate
        for k, rate in enumerate(self.values):
            if rate <= 0:
                continue
            start = k * self.interval_s
            end = start + self.interval_s
            # The exponential is memoryless, so each interval can start afresh at its own rate.
            t = start + expo(rate)
            while t < end:
                out.append(t)
                t += expo(rate)
        return out

    def rate_series(self, bucket_s: float) -> list[float]:
        """Requests per second in consecutive buckets of ``bucket_s`` seconds (for plots and checks)."""
        if bucket_s <= 0:
            raise TraceError("bucket must be positive")
        n = max(1, math.ceil(self.duration_s / bucket_s))
        if self.format is TraceFormat.RATE:
            return [self._rate_at((i + 0.5) * bucket_s) for i in range(n)]
        counts = [0] * n
        for t in self.arrivals():
            counts[min(n - 1, int(t // bucket_s))] += 1
        return [c / bucket_s for c in counts]

    def _rate_at(self, t: float) -> float:
        k = int(t // self.interval_s)
        return self.values[k] if 0 <= k < len(self.values) else 0.0


def parse_trace(
    text: str,
    *,
    format: TraceFormat | str | None = None,  # noqa: A002 - the file's own word for it
    interval_s: float | None = None,
    source: str = "<trace>",
) -> Trace:
    """Read a trace from text; ``format`` and ``interval_s`` apply when the header does not say.

    Raises :class:`TraceError` naming ``source`` and the line of the first problem.
    """
    header: dict[str, tuple[str, int]] = {}
    values: list[float] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            m = _HEADER.match(stripped)
            if m is not None and not values:
                key = m.group(1).lower().replace("-", "_")
                if key in ("format", "interval", "interval_s"):
                    key = "interval" if key.startswith("interval") else key
                    if key in header:
                        raise TraceError(f"{source}:{lineno}: header {key!r} given twice")
                    header[key] = (m.group(2), lineno)
            continue
        body = stripped.split("#", 1)[0]
        for word in body.split():
            try:
                v = float(word)
            except ValueError:
                raise TraceError(f"{source}:{lineno}: not a number: {word!r}") from None
            if not math.isfinite(v) or v < 0:
                raise TraceError(f"{source}:{lineno}: values must be finite and >= 0, got {word!r}")
            values.append(v)

    fmt = _format(header, format, source)
    interval = _interval(header, fmt, interval_s, source)
    return Trace(format=fmt, values=tuple(values), interval_s=interval)


def _format(header: dict[str, tuple[str, int]], given: TraceFormat | str | None, source: str) -> TraceFormat:
    wanted: TraceFormat | None = None
    if given is not None and str(given) != "auto":
        try:
            wanted = TraceFormat(str(given))
        except ValueError:
            raise TraceError(f"unknown trace format {given!r}; expected interarrival or rate") from None
    if "format" not in header:
        return wanted or TraceFormat.INTERARRIVAL
    text, lineno = header["format"]
    try:
        declared = TraceFormat(text.lower())
    except ValueError:
        raise TraceError(f"{source}:{lineno}: unknown format {text!r}; expected interarrival or rate") from None
    if wanted is not None and wanted is not declared:
        raise TraceError(f"{source}:{lineno}: the file says format {declared.value}, but {wanted.value} was asked for")
    return declared


def _interval(header: dict[str, tuple[str, int]], fmt: TraceFormat, given: float | None, source: str) -> float:
    if "interval" not in header:
        return given if given is not None else 60.0
    text, lineno = header["interval"]
    try:
        declared = float(text.removesuffix("s").strip())
    except ValueError:
        raise TraceError(f"{source}:{lineno}: interval must be a number of seconds, got {text!r}") from None
    if not (declared > 0 and math.isfinite(declared)):
        raise TraceError(f"{source}:{lineno}: interval must be a positive number of seconds, got {text!r}")
    if fmt is TraceFormat.RATE and given is not None and not math.isclose(given, declared):
        raise TraceError(f"{source}:{lineno}: the file says interval {declared:g} s, but {given:g} s was asked for")
    return declared


def load_trace(
    path: str | Path,
    *,
    format: TraceFormat | str | None = None,  # noqa: A002 - the file's own word for it
    interval_s: float | None = None,
) -> Trace:
    """Read the trace file at ``path`` (see :func:`parse_trace`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{p}: cannot read trace: {exc}") from None
    return parse_trace(text, format=format, interval_s=interval_s, source=str(p))


def format_trace(trace: Trace, *, comment: str = "") -> str:
    """The trace as file text, with a header that says its format."""
    buf = io.StringIO()
    _write(trace, buf, comment)
    return buf.getvalue()


def write_trace(trace: Trace, path: str | Path, *, comment: str = "") -> None:
    """Write ``trace`` to ``path`` (see :func:`format_trace`)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", encoding="utf-8") as f:
        _write(trace, f, comment)


def _write(trace: Trace, out: TextIO, comment: str) -> None:
    for line in comment.splitlines():
        out.write(f"# {line}\n" if line else "#\n")
    out.write(f"# format: {trace.format.value}\n")
    if trace.format is TraceFormat.RATE:
        out.write(f"# interval: {trace.interval_s:g}\n")
        out.writelines(f"{_num(v, 4)}\n" for v in trace.values)
    else:
        # Microseconds: finer than any web server's clock, and 140,000 requests stay near 1 MB.
        out.writelines(f"{_num(v, 6)}\n" for v in trace.values)


def _num(v: float, places: int) -> str:
    s = f"{v:.{places}f}".rstrip("0").rstrip(".")
    return s or "0"


# ---------------------------------------------------------------------------------------------
# Generators: each returns a rate trace; to_interarrival draws requests from it.
# ---------------------------------------------------------------------------------------------


def _rate_trace(duration_s: float, interval_s: float, fn: Callable[[float], float]) -> Trace:
    if not (duration_s > 0 and math.isfinite(duration_s)):
        raise TraceError(f"duration must be a positive number of seconds, got {duration_s!r}")
    if not (interval_s > 0 and math.isfinite(interval_s)):
        raise TraceError(f"interval must be a positive number of seconds, got {interval_s!r}")
    n = max(1, math.ceil(duration_s / interval_s - 1e-9))
    values: list[float] = []
    for i in range(n):
        v = fn((i + 0.5) * interval_s)
        values.append(round(max(0.0, v), 4))
    return Trace(format=TraceFormat.RATE, values=tuple(values), interval_s=interval_s)


def _jitter(values: Sequence[float], rng: random.Random, sigma: float, corr: float) -> list[float]:
    """Multiply by a mean-one log-normal AR(1) noise: ``corr`` is the lag-one correlation."""
    if sigma <= 0:
        return list(values)
    x = rng.gauss(0.0, sigma)
    out = []
    scale = math.sqrt(max(0.0, 1.0 - corr * corr))
    for v in values:
        out.append(v * math.exp(x - sigma * sigma / 2))
        x = corr * x + scale * rng.gauss(0.0, sigma)
    return out


def _check_rates(**rates: float) -> None:
    for name, v in rates.items():
        if not (v >= 0 and math.isfinite(v)):
            raise TraceError(f"{name} must be a finite rate >= 0, got {v!r}")


def diurnal(
    duration_s: float,
    *,
    base: float = 10.0,
    peak: float = 60.0,
    period_s: float = 3600.0,
    phase_s: float = 0.0,
    noise_sigma: float = 0.05,
    interval_s: float = 10.0,
    seed: int = 0,
) -> Trace:
    """A day's shape: from ``base`` up to ``peak`` and back every ``period_s``, with mild noise."""
    _check_rates(base=base, peak=peak)
    if period_s <= 0:
        raise TraceError(f"period must be positive, got {period_s!r}")

    def rate(t: float) -> float:
        return base + (peak - base) * (1 - math.cos(2 * math.pi * (t + phase_s) / period_s)) / 2

    clean = _rate_trace(duration_s, interval_s, rate)
    rng = random.Random(f"{seed}/diurnal")
    noisy = _jitter(clean.values, rng, noise_sigma, 0.8)
    return attrs.evolve(clean, values=tuple(round(v, 4) for v in noisy))


def flash_crowd(
    duration_s: float,
    *,
    base: float = 15.0,
    peak: float = 90.0,
    at_s: float | None = None,
    rise_s: float = 60.0,
    decay_s: float = 600.0,
    noise_sigma: float = 0.05,
    interval_s: float = 10.0,
    seed: int = 0,
) -> Trace:
    """Steady ``base`` load, then a crowd: a rise to ``peak`` over ``rise_s`` at ``at_s``, decaying with ``decay_s``."""
    _check_rates(base=base, peak=peak)
    start = duration_s / 3 if at_s is None else at_s
    if rise_s < 0 or decay_s <= 0:
        raise TraceError("rise must be >= 0 and decay > 0 seconds")

    def rate(t: float) -> float:
        if t < start:
            return base
        if t < start + rise_s:
            return base + (peak - base) * (t - start) / rise_s
        return base + (peak - base) * math.exp(-(t - start - rise_s) / decay_s)

    clean = _rate_trace(duration_s, interval_s, rate)
    rng = random.Random(f"{seed}/flash-crowd")
    return attrs.evolve(clean, values=tuple(round(v, 4) for v in _jitter(clean.values, rng, noise_sigma, 0.8)))


def steps(
    duration_s: float,
    *,
    levels: Sequence[float] = (10.0, 40.0, 20.0, 70.0, 30.0),
    step_s: float = 600.0,
    interval_s: float = 10.0,
    seed: int = 0,
) -> Trace:
    """Constant rates, each held for ``step_s``, cycling through ``levels`` (no noise: a test of reactions)."""
    if not levels:
        raise TraceError("steps needs at least one level")
    _check_rates(**{f"levels[{i}]": v for i, v in enumerate(levels)})
    if step_s <= 0:
        raise TraceError(f"step must be positive, got {step_s!r}")
    del seed  # the shape has no randomness; the parameter keeps the generators' signature uniform
    return _rate_trace(duration_s, interval_s, lambda t: levels[int(t // step_s) % len(levels)])


def noise(
    duration_s: float,
    *,
    base: float = 30.0,
    sigma: float = 0.35,
    corr_s: float = 120.0,
    interval_s: float = 10.0,
    seed: int = 0,
) -> Trace:
    """A mean-reverting random walk around ``base``: log-normal, ``sigma`` wide, correlated over ``corr_s``."""
    _check_rates(base=base)
    if sigma < 0 or corr_s <= 0:
        raise TraceError("sigma must be >= 0 and corr-s > 0")
    clean = _rate_trace(duration_s, interval_s, lambda t: base)
    rng = random.Random(f"{seed}/noise")
    corr = math.exp(-interval_s / corr_s)
    return attrs.evolve(clean, values=tuple(round(v, 4) for v in _jitter(clean.values, rng, sigma, corr)))


#: the generators by the name ``autonomic trace generate`` knows them by
GENERATORS: dict[str, Callable[..., Trace]] = {
    "diurnal": diurnal,
    "flash-crowd": flash_crowd,
    "steps": steps,
    "noise": noise,
}


def to_interarrival(trace: Trace, seed: int | str = 0) -> Trace:
    """The same workload as SWIM-style inter-arrival times (drawn from ``seed`` for a rate trace)."""
    if trace.format is TraceFormat.INTERARRIVAL:
        return trace
    times = trace.arrivals(seed)
    deltas: list[float] = []
    prev = 0.0
    for t in times:
        # Rounded as written, so writing and reading back gives the same trace.
        deltas.append(max(0.0, round(t - prev, 6)))
        prev += deltas[-1]
    return Trace(format=TraceFormat.INTERARRIVAL, values=tuple(deltas))
