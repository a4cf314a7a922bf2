"""The ``autonomic`` command: validate and run blueprints, test and evaluate policies."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from autonomic.cli_client import register_client_commands
from autonomic.errors import AutonomicError, BlueprintError, PolicyError
from autonomic.simulate.cli import register as register_simulate

__all__ = ["main"]


def _cmd_validate(args: argparse.Namespace) -> int:
    from autonomic.blueprint import load_blueprint

    try:
        bp = load_blueprint(args.blueprint)
        root, managed = bp.build()
    except BlueprintError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        print(f"{args.blueprint}: {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    n = sum(1 for _ in root.walk())
    print(
        f"{args.blueprint}: ok: {n} entities, {len(managed)} managed, "
        f"{len(bp.policies.sources)} policy modules (version {bp.policies.version}), engine {bp.engine.type}"
    )
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from autonomic.blueprint import load_blueprint
    from autonomic.knowledge.memory import MemoryStore
    from autonomic.knowledge.sqlite import SQLiteStore
    from autonomic.knowledge.store import KnowledgeStore
    from autonomic.observability import configure_logging
    from autonomic.supervisor import Supervisor

    view = args.view if args.view is not None else sys.stdout.isatty()
    if view and args.log_file is None:
        args.log_file = str(Path(args.blueprint).resolve().parent / ".autonomic" / "supervisor.log")
    log_stream = None
    if args.log_file:
        Path(args.log_file).parent.mkdir(parents=True, exist_ok=True)
        log_stream = open(args.log_file, "a", encoding="utf-8")  # noqa: SIM115 - open for the daemon's life
        print(f"logging to {args.log_file}", file=sys.stderr)
    configure_logging(
        json={"json": True, "console": False, "auto": None}[args.log_format] if log_stream is None else True,
        level=args.log_level,
        stream=log_stream,
    )
    try:
        bp = load_blueprint(args.blueprint)
    except BlueprintError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        return 1
    store: KnowledgeStore | None = None
    if args.store == "memory":
        store = MemoryStore()
    elif args.store:
        store = SQLiteStore(args.store)
    sup = Supervisor(bp, store=store)
    return anyio.run(lambda: sup.run(duration=args.duration, view=view))


def _cmd_policy_test(args: argparse.Namespace) -> int:
    from autonomic.policy.engine import library_path
    from autonomic.policy.testing import run_policy_tests

    paths = args.paths or [str(library_path())]
    try:
        results = run_policy_tests(paths, name_filter=args.run)
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = [r for r in results if not r.passed]
    for r in results:
        if args.verbose or not r.passed:
            status = "PASS" if r.passed else "FAIL"
            print(f"{r.location}: {status}: {r.package}.{r.name} ({r.duration_s * 1000:.1f} ms)")
            if r.message:
                print(f"    {r.message}")
    print("-" * 60)
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if not results:
        print("no test_* rules found in " + ", ".join(paths), file=sys.stderr)
        return 1
    return 1 if failed else 0


def _cmd_policy_eval(args: argparse.Namespace) -> int:
    from autonomic.policy.embedded import EmbeddedEngine
    from autonomic.policy.engine import UNDEFINED, PolicySet

    try:
        text = sys.stdin.read() if args.input == "-" else Path(args.input).read_text(encoding="utf-8")
        doc: Any = json.loads(text) if text.strip() else None
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: input {args.input}: {exc}", file=sys.stderr)
        return 2
    try:
        engine = EmbeddedEngine(PolicySet.from_paths(args.data))
        value = engine.evaluate_sync(args.query, doc)
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if value is UNDEFINED:
        print(json.dumps({"undefined": True, "query": args.query}))
        return 0
    print(json.dumps(value, indent=2, sort_keys=True))
    return 0


def _cmd_policy_check(args: argparse.Namespace) -> int:
    from autonomic.policy.embedded import EmbeddedEngine
    from autonomic.policy.engine import PolicySet

    problems = 0
    try:
        sources = PolicySet.from_paths(args.paths, include_tests=True).sources
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for src in sources:  # each module alone, so every broken file is named
        try:
            EmbeddedEngine(PolicySet((src,)))
        except PolicyError as exc:
            problems += 1
            print(f"error: {exc}", file=sys.stderr)
    if problems == 0:
        try:
            EmbeddedEngine(PolicySet(sources))  # and all together (conflicts between modules)
        except PolicyError as exc:
            problems += 1
            print(f"error: {exc}", file=sys.stderr)
    print(f"{len(sources)} modules checked, {problems} with errors")
    return 1 if problems else 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (for docs and tests)."""
    p = argparse.ArgumentParser(prog="autonomic", description="Self-managing systems with Rego policies.")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check a blueprint and report every problem with its location")
    v.add_argument("blueprint")
    v.set_defaults(fn=_cmd_validate)

    r = sub.add_parser("run", help="run the supervisor on a blueprint")
    r.add_argument("blueprint")
    r.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    r.add_argument("--store", default=None, help="'memory', or a SQLite file (overrides the blueprint)")
    r.add_argument("--log-format", choices=["auto", "json", "console"], default="auto")
    r.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    r.add_argument(
        "--view",
        dest="view",
        action="store_true",
        default=None,
        help="live terminal view of the tree and decisions (default when stdout is a terminal)",
    )
    r.add_argument("--no-view", dest="view", action="store_false")
    r.add_argument("--log-file", default=None, help="write logs (JSON lines) here instead of stderr")
    r.set_defaults(fn=_cmd_run)

    pol = sub.add_parser("policy", help="test, evaluate and check Rego policies")
    psub = pol.add_subparsers(dest="policy_command", required=True)
    t = psub.add_parser("test", help="run test_* rules on the embedded engine")
    t.add_argument("paths", nargs="*", help="Rego files or folders (default: the policy library)")
    t.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    t.add_argument("--run", default=None, help="only tests whose package.rule matches this regex")
    t.set_defaults(fn=_cmd_policy_test)
    e = psub.add_parser("eval", help="evaluate a query and print the result as JSON")
    e.add_argument("--data", nargs="+", required=True, help="Rego files or folders")
    e.add_argument("--input", default="-", help="a JSON file, or - for standard input")
    e.add_argument("query", help="a data path, e.g. data.autonomic.scaling.decision")
    e.set_defaults(fn=_cmd_policy_eval)
    c = psub.add_parser("check", help="compile policies and report errors with file and line")
    c.add_argument("paths", nargs="+")
    c.set_defaults(fn=_cmd_policy_check)
    register_client_commands(sub)
    register_simulate(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``autonomic`` command."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.fn(args)
    except AutonomicError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
