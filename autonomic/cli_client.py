"""The ``autonomic`` commands that talk to a running supervisor over its HTTP API.

``tree``, ``get``, ``invoke``, ``decisions``, ``why``, ``mode``, ``approve``
and ``reject``. Each takes ``--url`` (default ``$AUTONOMIC_URL``, else
http://127.0.0.1:8470), ``--token`` (default ``$AUTONOMIC_TOKEN``) and
``--json`` (print the API's JSON instead of tables).

Exit codes: 0 done; 1 the supervisor refused (4xx/5xx) or the action did
not succeed; 2 bad usage; 3 the supervisor cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from autonomic.api.client import DEFAULT_URL, ApiClient, ApiError, Unreachable

__all__ = ["parse_assignments", "register_client_commands"]

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

_FINAL = {"ok", "error", "timeout", "held", "dry_run", "skipped", "unknown", "rejected", "expired"}
_FAILED = {"held", "error", "timeout", "skipped", "unknown", "rejected", "expired"}
_DECIDED = {"approve": "approved", "reject": "rejected"}
_CELL = 60


class _UsageError(Exception):
    """A command line that cannot be sent."""


def parse_assignments(items: Sequence[str]) -> dict[str, Any]:
    """``key=value`` items as arguments: values are JSON when they parse (``4``, ``true``, ``[1]``), else strings."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise _UsageError(f"argument {item!r} is not key=value")
        if key in out:
            raise _UsageError(f"argument {key!r} is given twice")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


# -- output ------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    cells = [[_cell(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _when(t: float | None) -> str:
    """Wall-clock times as local time; small (virtual clock) times as seconds."""
    if t is None:
        return "-"
    if t > 1e9:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
    return f"t={t:.1f}"


def _yes(flag: Any) -> str:
    return "yes" if flag else "no"


def _call(action: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in (action.get("args") or {}).items())
    return f"{action.get('target')}.{action.get('effector')}({args})"


def _outcome(a: dict[str, Any]) -> str:
    text = str(a["status"])
    if a.get("duration") is not None:
        text += f" in {a['duration']:.2f} s"
    if a.get("error"):
        text += f": {a['error']}"
    return text


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


# -- commands ----------------------------------------------------------------------------
def _tree(client: ApiClient, args: argparse.Namespace) -> int:
    doc = client.entities()
    if args.json:
        _print_json(doc)
        return 0
    base = doc["root"].count("/")
    rows = []
    for e in doc["entities"]:
        depth = e["id"].count("/") - base
        rows.append(
            [
                "  " * depth + e["name"],
                e["type"],
                e["lifecycle"],
                _yes(e["up"]),
                _yes(e["ready"]),
                e["mode"] if e["managed"] else "-",
            ]
        )
    _table(["ENTITY", "TYPE", "LIFECYCLE", "UP", "READY", "MANAGER"], rows)
    return 0


def _get(client: ApiClient, args: argparse.Namespace) -> int:
    e = client.entity(args.id)
    if args.json:
        _print_json(e)
        return 0
    lc = e["lifecycle"]
    print(f"{e['id']}  ({e['type']})")
    print(f"  lifecycle  {lc['actual']} (expected {lc['expected']}, since {_when(lc['since'])})")
    print(f"  up         {_yes(e['up'])}" + "".join(f"; {k}: {v}" for k, v in e["not_up_reasons"].items()))
    print(f"  ready      {_yes(e['ready'])}")
    m = e["manager"]
    if m is not None:
        print(
            f"  manager    {m['mode']} (configured {m['configured_mode']}); policies {', '.join(m['packages'])}; "
            f"every {m['interval']:g} s; {m['rounds_run']} rounds"
        )
    else:
        print("  manager    - (not managed)")
    if e["children"]:
        print(f"  children   {', '.join(e['children'])}")
    if e["depends_on"]:
        print(f"  depends on {', '.join(e['depends_on'])}")
    print("config")
    for line in json.dumps(e["config"], indent=2, sort_keys=True, default=str).splitlines():
        print(f"  {line}")
    print("sensors")
    rows = []
    for name, s in sorted(e["sensors"].items()):
        value = "stale" if s["stale"] else ("-" if s["value"] is None else s["value"])
        note = s["problem"] or ""
        rows.append([f"  {name}", value, s["unit"], _when(s["time"]), note])
    _table(["  NAME", "VALUE", "UNIT", "UPDATED", "PROBLEM"], rows)
    print("effectors")
    rows = []
    for f in e["effectors"]:
        params = ", ".join(f"{p['name']}: {p['type']}" + ("" if p["required"] else "?") for p in f["params"])
        rows.append([f"  {f['name']}", params or "-", f"{f['timeout']:g} s", _yes(f["idempotent"]), f["description"]])
    _table(["  NAME", "PARAMS", "TIMEOUT", "IDEMPOTENT", "DESCRIPTION"], rows)
    return 0


def _wait_for(events: Iterable[dict[str, Any]], action_id: str) -> dict[str, Any] | None:
    for ev in events:
        data: dict[str, Any] = ev["data"]
        if ev["event"] == "action" and data.get("id") == action_id and data.get("status") in _FINAL:
            return data
    return None


def _invoke(client: ApiClient, args: argparse.Namespace) -> int:
    arguments = parse_assignments(args.args)
    stream = None
    if args.wait:
        # Subscribe before invoking, so the outcome cannot slip by unseen.
        stream = client.events(types=["action"], timeout=args.wait_timeout)
        next(stream)
    try:
        record = client.invoke(args.id, args.effector, arguments, reason=args.reason)
        final = _wait_for(stream, record["id"]) if stream is not None and record["status"] not in _FINAL else None
    finally:
        if stream is not None:
            stream.close()
    shown = final or record
    if args.json:
        _print_json(shown)
    else:
        print(f"{record['id']} {_outcome(shown)}: {_call(record)}")
        if args.wait and final is None and record["status"] not in _FINAL:
            print(f"no outcome within {args.wait_timeout:g} s; see: autonomic why {record['id']}")
    status = shown["status"]
    if status in _FAILED:
        return EXIT_REFUSED
    if args.wait and status != "ok":
        return EXIT_REFUSED
    return 0


def _round_row(r: dict[str, Any]) -> list[Any]:
    d = r.get("decision") or {}
    symptoms = ", ".join(s.get("name", "?") for s in d.get("symptoms", []))
    acts = ", ".join(f"{a.get('target')}.{a.get('effector')}" for a in d.get("actions", []))
    return [
        _when(r["started"]),
        r["id"],
        r["entity"],
        r["trigger"],
        r["mode"],
        symptoms or "-",
        acts or "-",
        r["error"] or "",
    ]


_ROUND_HEADERS = ["TIME", "ROUND", "ENTITY", "TRIGGER", "MODE", "SYMPTOMS", "ACTIONS", "ERROR"]


def _decisions(client: ApiClient, args: argparse.Namespace) -> int:
    stream = None
    if args.follow:
        stream = client.events(types=["round", "action"], entity=args.entity)
        next(stream)  # subscribed first: nothing falls between the list and the stream
    try:
        rounds = list(reversed(client.rounds(entity=args.entity, limit=args.limit)))
        if args.json:
            for r in rounds:
                print(json.dumps(r, default=str), flush=True)
        else:
            _table(_ROUND_HEADERS, [_round_row(r) for r in rounds])
        if stream is None:
            return 0
        seen = {r["id"] for r in rounds}
        for ev in stream:
            data = ev["data"]
            if args.json:
                print(json.dumps(ev, default=str), flush=True)
            elif ev["event"] == "round" and data["id"] not in seen:
                print("  ".join(_cell(c) for c in _round_row(data)).rstrip(), flush=True)
            elif ev["event"] == "action" and data.get("status") in _FINAL:
                print(f"  -> {data['id']} {_call(data)} {_outcome(data)}", flush=True)
            elif ev["event"] == "action" and data.get("status") == "awaiting_approval":
                print(f"  -> {data['id']} {_call(data)} awaits approval: autonomic approve {data['id']}", flush=True)
            elif ev["event"] == "dropped":
                print(f"  ({data.get('dropped')} events missed: the terminal fell behind)", flush=True)
    except KeyboardInterrupt:
        return 0
    finally:
        if stream is not None:
            stream.close()
    return 0


def _why(client: ApiClient, args: argparse.Namespace) -> int:
    w = client.why(args.action_id)
    if args.json:
        _print_json(w)
        return 0
    a = w["action"]
    print(f"action    {a['id']}  {_call(a)}")
    print(
        f"outcome   {_outcome(a)}"
        + (f"; result {json.dumps(a['result'], default=str)}" if a.get("result") is not None else "")
    )
    print(f"reason    {a['reason'] or '-'}")
    by = w["invoked_by"]
    if "recovery_of" in by:
        print(f"invoked   by the supervisor after a restart: {by['recovery_of']} was in flight when it stopped")
        return 0
    if "operator" in by:
        print(f"invoked   by operator {by['operator']} at {_when(a['requested'])} (no policy decided it)")
        return 0
    r = w["round"]
    if r is None:
        print(f"decided   by the manager of {by['manager']} in round {a['round']} (no longer in the journal)")
        return 0
    print(f"decided   by the manager of {r['entity']} in round {r['id']} at {_when(r['started'])}")
    print(f"trigger   {r['trigger']} (mode {r['mode']})")
    print(f"input     digest {r['input_digest']}; policy version {w['policy_version']}")
    for s in w["symptoms"]:
        detail = f" {json.dumps(s.get('detail'), default=str)}" if s.get("detail") else ""
        print(f"symptom   {s.get('name')} ({s.get('severity', '-')}){detail}")
    if not w["symptoms"]:
        print("symptom   -")
    if len(w["plan"]) > 1:
        print(f"plan      {' -> '.join(w['plan'])} (run in order; later ones only after earlier ones succeed)")
    for p in r["problems"]:
        print(f"problem   {p}")
    return 0


def _mode(client: ApiClient, args: argparse.Namespace) -> int:
    if args.mode is None:
        m = client.mode(args.id)
    else:
        before = client.mode(args.id)["mode"]
        m = client.set_mode(args.id, args.mode)
    if args.json:
        _print_json(m)
    elif args.mode is None:
        print(f"{m['entity']}: {m['mode']} (configured {m['configured']}; modes: {', '.join(m['modes'])})")
    else:
        print(f"{m['entity']}: {before} -> {m['mode']}")
    return 0


def _decide(verdict: str) -> Callable[[ApiClient, argparse.Namespace], int]:
    def run(client: ApiClient, args: argparse.Namespace) -> int:
        try:
            result = client.decide(args.action_id, verdict)
        except ApiError as exc:
            if exc.status == 405 or (exc.status == 404 and exc.message.startswith("no route")):
                print(
                    f"error: approvals are not supported by this daemon yet ({verdict} {args.action_id})",
                    file=sys.stderr,
                )
                return EXIT_REFUSED
            raise
        if args.json:
            _print_json(result)
        else:
            print(f"{args.action_id}: {_DECIDED[verdict]}; now {_outcome(result)}")
        return 0

    return run


# -- wiring --------------------------------------------------------------------------------
def _run(fn: Callable[[ApiClient, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        url = args.url or os.environ.get("AUTONOMIC_URL") or DEFAULT_URL
        token = args.token or os.environ.get("AUTONOMIC_TOKEN")
        try:
            with ApiClient(url, token, timeout=args.timeout) as client:
                return fn(client, args)
        except _UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except Unreachable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        except ApiError as exc:
            hint = " (pass --token or set AUTONOMIC_TOKEN)" if exc.status == 401 else ""
            print(f"error: {exc}{hint}", file=sys.stderr)
            return EXIT_REFUSED

    return command


def register_client_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the client commands to the ``autonomic`` parser's subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=None, help=f"the supervisor's API (default: $AUTONOMIC_URL or {DEFAULT_URL})")
    common.add_argument("--token", default=None, help="bearer token (default: $AUTONOMIC_TOKEN)")
    common.add_argument("--json", action="store_true", help="print the API's JSON")
    common.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an answer (default 10)")

    def add(name: str, fn: Callable[[ApiClient, argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_, description=help_)
        p.set_defaults(fn=_run(fn))
        return p

    add("tree", _tree, "show the running supervisor's entity tree")
    g = add("get", _get, "show one entity: lifecycle, sensors, effectors, manager")
    g.add_argument("id", help="entity id, e.g. shop/web")
    i = add("invoke", _invoke, "invoke an effector (journaled as an operator's action)")
    i.add_argument("id", help="entity id")
    i.add_argument("effector")
    i.add_argument(
        "args", nargs="*", metavar="key=value", help="arguments; values are JSON when they parse, else strings"
    )
    i.add_argument("--reason", default=None, help="why, for the journal")
    i.add_argument("--wait", action="store_true", help="wait for the outcome")
    i.add_argument("--wait-timeout", type=float, default=300.0, help="seconds to wait with --wait (default 300)")
    d = add("decisions", _decisions, "list recent rounds and their decisions")
    d.add_argument("--entity", default=None, help="only this entity's rounds")
    d.add_argument("--limit", type=int, default=20, help="how many recent rounds (default 20)")
    d.add_argument("-f", "--follow", action="store_true", help="keep printing new rounds and action outcomes")
    w = add("why", _why, "explain an action: its round, trigger, symptoms, policy version and outcome")
    w.add_argument("action_id")
    m = add("mode", _mode, "show or switch a manager's mode")
    m.add_argument("id", help="entity id")
    m.add_argument("mode", nargs="?", default=None, help="enforce, dry-run, paused, ... (omit to show)")
    for verdict in ("approve", "reject"):
        a = add(verdict, _decide(verdict), f"{verdict} an action waiting for approval")
        a.add_argument("action_id")
