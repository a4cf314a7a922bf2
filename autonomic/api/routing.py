"""A small router: path patterns with one greedy parameter, and declared query parameters.

Entity ids contain ``/``, so a pattern may hold one greedy parameter,
``{id...}``, that takes one or more segments; literal segments after it
(``/mode``, ``/effectors/{name}``) are matched from the end of the path.
Each segment is percent-decoded after the split, so an id may also be sent
as one segment with its slashes encoded (``shop%2Fweb``): that form is never
ambiguous, and the client always uses it.

The most specific pattern that matches a path names the resource (patterns
with more literal segments first); a method it does not serve is a 405, never
a fall-through to another pattern.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote

import attrs

from autonomic.api.http import HttpError, Scope

if TYPE_CHECKING:
    from autonomic.api.http import Request, Response

__all__ = ["Handler", "QueryParam", "Route", "Router", "path_segments"]

Handler = Callable[["Request"], Awaitable["Response"]]

_MAX_QUERY_FIELDS = 32
_MAX_QUERY_VALUE = 1024


@attrs.frozen(kw_only=True)
class QueryParam:
    """A query parameter a route accepts: its kind, bounds and meaning."""

    name: str
    kind: Literal["str", "int", "float", "choice", "choices"] = "str"
    description: str = ""
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    #: allowed values, for ``choice`` (one) and ``choices`` (a comma-separated subset)
    choices: tuple[str, ...] = ()

    def parse(self, raw: str) -> Any:
        """The value of ``raw``; raises a 400 saying what was expected."""
        if len(raw) > _MAX_QUERY_VALUE:
            raise HttpError(400, f"query parameter {self.name!r} is longer than {_MAX_QUERY_VALUE} characters")
        if self.kind == "str":
            return raw
        if self.kind == "choice":
            if raw not in self.choices:
                raise HttpError(
                    400, f"query parameter {self.name!r} must be one of {', '.join(self.choices)}; got {raw[:60]!r}"
                )
            return raw
        if self.kind == "choices":
            picked = [p.strip() for p in raw.split(",") if p.strip()]
            bad = [p for p in picked if p not in self.choices]
            if bad or not picked:
                raise HttpError(
                    400,
                    f"query parameter {self.name!r} must be a comma-separated list of "
                    f"{', '.join(self.choices)}; got {raw[:60]!r}",
                )
            return tuple(dict.fromkeys(picked))
        try:
            number: float = int(raw) if self.kind == "int" else float(raw)
        except ValueError:
            what = "an integer" if self.kind == "int" else "a number"
            raise HttpError(400, f"query parameter {self.name!r} must be {what}; got {raw[:60]!r}") from None
        if not math.isfinite(number):
            raise HttpError(400, f"query parameter {self.name!r} must be finite; got {raw[:60]!r}")
        if self.minimum is not None and number < self.minimum:
            raise HttpError(400, f"query parameter {self.name!r} must be at least {self.minimum:g}; got {number:g}")
        if self.maximum is not None and number > self.maximum:
            raise HttpError(400, f"query parameter {self.name!r} must be at most {self.maximum:g}; got {number:g}")
        return number


@attrs.frozen(kw_only=True)
class _Segment:
    text: str
    param: bool = False
    greedy: bool = False


def _compile(pattern: str) -> tuple[_Segment, ...]:
    if not pattern.startswith("/"):
        raise ValueError(f"route pattern {pattern!r} must start with /")
    out: list[_Segment] = []
    for part in pattern[1:].split("/"):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            greedy = name.endswith("...")
            out.append(_Segment(text=name.removesuffix("..."), param=True, greedy=greedy))
        else:
            out.append(_Segment(text=part))
    if sum(s.greedy for s in out) > 1:
        raise ValueError(f"route pattern {pattern!r} has more than one greedy parameter")
    return tuple(out)


@attrs.frozen(kw_only=True)
class Route:
    """One operation: method and pattern, the handler, its name, and what it accepts.

    ``auth`` routes need a bearer token; ``GET`` routes that need one are also
    authorized as ``read`` before the handler runs (mutations authorize
    themselves, since their resource depends on the body).
    """

    method: str
    pattern: str
    handler: Handler = attrs.field(repr=False)
    name: str
    summary: str
    auth: bool = True
    query: tuple[QueryParam, ...] = ()
    segments: tuple[_Segment, ...] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "segments", _compile(self.pattern))

    @property
    def path_params(self) -> list[str]:
        """The names of the path parameters, in order."""
        return [s.text for s in self.segments if s.param]

    @property
    def specificity(self) -> tuple[int, int]:
        """Literal segments, then all segments: the more, the earlier the pattern is tried."""
        return (sum(not s.param for s in self.segments), len(self.segments))

    def match(self, parts: Sequence[str]) -> dict[str, str] | None:
        """The path parameters if ``parts`` (decoded segments) fit the pattern, else None."""
        segs = self.segments
        greedy_at = next((i for i, s in enumerate(segs) if s.greedy), None)
        if greedy_at is None:
            if len(parts) != len(segs):
                return None
            pairs = list(zip(segs, parts, strict=True))
            params: dict[str, str] = {}
        else:
            tail = len(segs) - greedy_at - 1
            if len(parts) < len(segs):
                return None
            middle = parts[greedy_at : len(parts) - tail]
            if any(not p for p in middle):
                return None
            params = {segs[greedy_at].text: "/".join(middle)}
            pairs = list(zip(segs[:greedy_at], parts[:greedy_at], strict=True))
            pairs += list(zip(segs[greedy_at + 1 :], parts[len(parts) - tail :], strict=True))
        for seg, part in pairs:
            if seg.param:
                if not part:
                    return None
                params[seg.text] = part
            elif seg.text != part:
                return None
        return params

    def parse_query(self, query_string: bytes) -> dict[str, Any]:
        """The declared query parameters, checked and converted (defaults filled in)."""
        try:
            pairs = parse_qsl(
                query_string.decode("latin-1"),
                keep_blank_values=True,
                errors="strict",
                max_num_fields=_MAX_QUERY_FIELDS,
            )
        except UnicodeDecodeError:
            raise HttpError(400, "the query string is not valid UTF-8 once decoded") from None
        except ValueError as exc:
            raise HttpError(400, f"bad query string: {exc}") from None
        known = {q.name: q for q in self.query}
        out: dict[str, Any] = {q.name: q.default for q in self.query}
        seen: set[str] = set()
        for key, raw in pairs:
            q = known.get(key)
            if q is None:
                accepted = ", ".join(known) or "none"
                raise HttpError(400, f"unknown query parameter {key[:60]!r}; accepted: {accepted}")
            if key in seen:
                raise HttpError(400, f"query parameter {key!r} is given more than once")
            seen.add(key)
            out[key] = q.parse(raw)
        return out


def path_segments(scope: Scope) -> list[str]:
    """The path's segments, split on ``/`` first and percent-decoded after (so ``%2F`` stays inside one)."""
    raw = scope.get("raw_path")
    if not raw:
        raw = scope["path"].encode("utf-8")
    raw = raw.split(b"?", 1)[0]
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise HttpError(400, "the path must be ASCII (percent-encode other characters)") from None
    if not text.startswith("/"):
        raise HttpError(400, "the path must start with /")
    try:
        return [unquote(p, errors="strict") for p in text[1:].split("/")]
    except UnicodeDecodeError:
        raise HttpError(400, "the path is not valid UTF-8 once percent-decoded") from None


@attrs.define
class Router:
    """Finds the route of a request: 404 when no pattern fits, 405 when the method does not."""

    routes: tuple[Route, ...]
    _order: list[Route] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        seen: set[tuple[str, str]] = set()
        for r in self.routes:
            if (r.method, r.pattern) in seen:
                raise ValueError(f"route {r.method} {r.pattern} is declared twice")
            seen.add((r.method, r.pattern))
        self._order = sorted(self.routes, key=lambda r: r.specificity, reverse=True)

    def match(self, method: str, parts: Sequence[str]) -> tuple[Route, dict[str, str]]:
        """The route for ``method`` on the decoded path ``parts``, and its path parameters."""
        for route in self._order:
            params = route.match(parts)
            if params is None:
                continue
            same = [r for r in self._order if r.pattern == route.pattern]
            for r in same:
                if r.method == method:
                    return r, params
            allowed = ", ".join(sorted(r.method for r in same))
            raise HttpError(
                405,
                f"method {method} is not allowed here; allowed: {allowed}",
                headers=[("allow", allowed)],
            )
        raise HttpError(404, f"no route for {method} /{'/'.join(parts)[:200]}", detail={"routes": "/openapi.json"})
