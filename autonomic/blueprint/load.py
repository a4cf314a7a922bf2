"""Blueprints: a YAML file that describes a tree of entities, their policies and managers.

``load_blueprint`` checks everything it can before anything runs (YAML syntax,
keys, types, entity types, each entity's config, policy files and packages,
dependencies, trigger sensors) and reports every problem with its file and
line in one :class:`~autonomic.errors.BlueprintError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from autonomic._convert import structure
from autonomic.blueprint.model import ApiSpec, EngineSpec, ManagerModel, StoreSpec, SupervisorSpec
from autonomic.blueprint.types import EntityTypes
from autonomic.blueprint.yaml_source import Located, Path_, load_yaml
from autonomic.entity import Entity
from autonomic.errors import BlueprintError, PolicyError
from autonomic.knowledge.graph import EntityGraph
from autonomic.mape.settings import (
    HistoryRule,
    ManagementSpec,
    ManagerSettings,
    Mode,
    PolicyBinding,
    Threshold,
    Triggers,
)
from autonomic.policy.embedded import EmbeddedEngine
from autonomic.policy.engine import PolicySet, library_path

__all__ = ["Blueprint", "load_blueprint", "parse_blueprint"]

_TOP_KEYS = {"name", "policies", "engine", "store", "supervisor", "defaults", "entity", "api"}
_ENTITY_KEYS = {"name", "type", "config", "children", "policies", "manager", "depends_on"}
_BINDING_KEYS = {"package", "files", "record", "config"}
_CATTRS_PATH = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\['([^']*)'\]")


def _show(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top)"


def _cattrs_path(base: Path_, text: str) -> Path_:
    out: list[str | int] = list(base)
    for m in _CATTRS_PATH.finditer(text[1:] if text.startswith("$") else text):
        out.append(m.group(1) if m.group(1) is not None else (int(m.group(2)) if m.group(2) else m.group(3)))
    return tuple(out)


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


@attrs.define
class _Problems:
    src: Located | None
    items: list[str] = attrs.field(factory=list)

    def add(self, path: Path_, message: str) -> None:
        where = f"{self.src.where(path)}: " if self.src is not None else ""
        self.items.append(f"{where}{_show(path)}: {message}")


@attrs.frozen(kw_only=True)
class Blueprint:
    """A checked blueprint, ready to build its tree."""

    file: str
    base_dir: Path
    name: str
    engine: EngineSpec
    store: StoreSpec
    supervisor: SupervisorSpec
    policies: PolicySet
    root_spec: dict[str, Any]
    defaults: dict[str, Any]
    types: EntityTypes = attrs.field(eq=False)
    source: Located | None = attrs.field(eq=False, default=None)
    api: ApiSpec = attrs.field(factory=ApiSpec)

    def build(self) -> tuple[Entity, list[tuple[Entity, ManagementSpec]]]:
        """A fresh entity tree and how each managed entity in it is managed."""
        problems = _Problems(self.source)
        built = _build_node(self, self.root_spec, ("entity",), problems, default_name=self.name)
        if problems.items or built is None:
            raise BlueprintError(problems.items or [f"{self.file}: entity: cannot build"])
        return built

    def factory(self, spec: Mapping[str, Any], name: str) -> tuple[Entity, list[tuple[Entity, ManagementSpec]]]:
        """Build one entity (a cluster's member) from a blueprint-style spec."""
        problems = _Problems(None)
        built = _build_node(self, dict(spec), (f"member {name}",), problems, default_name=name, force_name=name)
        if problems.items or built is None:
            raise BlueprintError(problems.items)
        return built


def load_blueprint(path: str | Path, *, types: EntityTypes | None = None) -> Blueprint:
    """Read, check and return the blueprint at ``path``; raise BlueprintError listing every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BlueprintError([f"{p}: cannot read blueprint: {exc}"]) from None
    return parse_blueprint(text, file=str(p), base_dir=p.parent, types=types)


def parse_blueprint(
    text: str, *, file: str = "<blueprint>", base_dir: Path | None = None, types: EntityTypes | None = None
) -> Blueprint:
    """Check a blueprint given as text (see :func:`load_blueprint`)."""
    base = (base_dir or Path.cwd()).resolve()
    try:
        src = load_yaml(text, file)
    except ValueError as exc:
        raise BlueprintError([str(exc)]) from None
    problems = _Problems(src)
    doc = src.data
    if not isinstance(doc, dict):
        raise BlueprintError([f"{file}:1: the blueprint must be a mapping with an 'entity' key"])
    for k in sorted(set(doc) - _TOP_KEYS, key=str):
        problems.add((k,), f"unknown key; expected one of {', '.join(sorted(_TOP_KEYS))}")

    def section(key: str, cls: type[Any]) -> Any:
        value, errs = structure(doc.get(key) or {}, cls, path="$")
        for pth, msg in errs:
            problems.add(_cattrs_path((key,), pth), msg)
        return value or cls()

    engine = section("engine", EngineSpec)
    store = section("store", StoreSpec)
    supervisor = section("supervisor", SupervisorSpec)
    api = section("api", ApiSpec)
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.add(("defaults",), "expected a mapping of manager settings")
        defaults = {}
    name = doc.get("name", "")
    if not isinstance(name, str):
        problems.add(("name",), "expected a string")
        name = ""

    # Policy sources: the library packages bound, the blueprint's own files, and files named by bindings.
    root = doc.get("entity")
    if not isinstance(root, dict):
        problems.add(("entity",) if "entity" in doc else (), "the blueprint needs an 'entity' mapping (the root)")
        raise BlueprintError(problems.items)
    items = _binding_items(root, ("entity",))
    # Member specs of clusters may bind library packages too (config.member.policies).
    items += _member_bindings(root, ("entity",))
    bound = _bound_packages(items)
    library = PolicySet(tuple(s for s in PolicySet.from_paths([library_path()]).sources if s.package in bound))
    paths: list[tuple[Path_, Path]] = []
    raw_policies = doc.get("policies") or []
    if not isinstance(raw_policies, list):
        problems.add(("policies",), "expected a list of Rego files or folders")
        raw_policies = []
    for i, item in enumerate(raw_policies):
        if not isinstance(item, str):
            problems.add(("policies", i), "expected a path")
            continue
        paths.append((("policies", i), (base / item)))
    for pth, b in items:
        if isinstance(b, dict) and isinstance(b.get("files"), list):
            paths.extend(((*pth, "files", j), base / f) for j, f in enumerate(b["files"]) if isinstance(f, str))
    sources = library
    for pth, pp in paths:
        try:
            sources = sources.merged(PolicySet.from_paths([pp]))
        except PolicyError as exc:
            problems.add(pth, str(exc))
    try:
        EmbeddedEngine(sources)  # compiles every module: syntax errors with file and line
    except PolicyError as exc:
        problems.add(("policies",), f"Rego error: {exc}")
    if problems.items:
        raise BlueprintError(problems.items)

    bp = Blueprint(
        file=file,
        base_dir=base,
        name=name or str(root.get("name") or "root"),
        engine=engine,
        store=store,
        supervisor=supervisor,
        policies=sources,
        root_spec=root,
        defaults=defaults,
        types=(types or EntityTypes()).with_search_path(base),
        source=src,
        api=api,
    )
    node_paths: dict[Entity, Path_] = {}
    built = _build_node(bp, root, ("entity",), problems, default_name=bp.name, node_paths=node_paths)
    paths_by_id = {e.id: p for e, p in node_paths.items()}
    if built is not None:
        tree, _ = built
        graph = EntityGraph()
        for e in tree.walk():
            graph.add(e.id, e.type_name, e.parent.id if e.parent else None, e.depends_on)
        for ent, dep in graph.missing_dependencies():
            where = paths_by_id.get(ent, ("entity",))
            problems.add((*where, "depends_on"), f"{ent} depends on {dep!r}, which is not an entity of this blueprint")
        for cycle in graph.dependency_cycles():
            problems.add(("entity",), f"dependency cycle: {' -> '.join(cycle)}")
    if problems.items:
        raise BlueprintError(problems.items)
    return bp


def _binding_items(node: Any, path: Path_) -> list[tuple[Path_, Any]]:
    """Every policy binding in an entity tree (raw), with its path."""
    out: list[tuple[Path_, Any]] = []
    if not isinstance(node, dict):
        return out
    pol = node.get("policies")
    if isinstance(pol, list):
        out.extend(((*path, "policies", i), b) for i, b in enumerate(pol))
    kids = node.get("children")
    if isinstance(kids, list):
        for i, c in enumerate(kids):
            out.extend(_binding_items(c, (*path, "children", i)))
    return out


def _member_bindings(node: Any, path: Path_) -> list[tuple[Path_, Any]]:
    """Bindings inside member specs (``config.member``) anywhere in the tree."""
    out: list[tuple[Path_, Any]] = []
    if not isinstance(node, dict):
        return out
    cfg = node.get("config")
    if isinstance(cfg, dict) and isinstance(cfg.get("member"), dict):
        mpath = (*path, "config", "member")
        out.extend(_binding_items(cfg["member"], mpath))
        out.extend(_member_bindings(cfg["member"], mpath))
    kids = node.get("children")
    if isinstance(kids, list):
        for i, c in enumerate(kids):
            out.extend(_member_bindings(c, (*path, "children", i)))
    return out


def _bound_packages(items: list[tuple[Path_, Any]]) -> set[str]:
    out: set[str] = set()
    for _, b in items:
        name = b if isinstance(b, str) else b.get("package") if isinstance(b, dict) else None
        if isinstance(name, str):
            out.add(name)
    return out


def _bindings(bp: Blueprint, raw: Any, path: Path_, problems: _Problems) -> tuple[PolicyBinding, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add(path, "expected a list of packages")
        return ()
    known = set(bp.policies.packages)
    out = []
    for i, item in enumerate(raw):
        ip = (*path, i)
        if isinstance(item, str):
            item = {"package": item}
        if not isinstance(item, dict):
            problems.add(ip, "expected a package name or a mapping with 'package'")
            continue
        for k in sorted(set(item) - _BINDING_KEYS, key=str):
            problems.add((*ip, k), f"unknown key; expected one of {', '.join(sorted(_BINDING_KEYS))}")
        package = item.get("package")
        if not isinstance(package, str) or not re.fullmatch(
            r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", package
        ):
            problems.add((*ip, "package"), f"expected a Rego package name like autonomic.scaling, got {package!r}")
            continue
        if package not in known:
            problems.add(
                (*ip, "package"), f"no loaded policy declares package {package!r}; loaded: {', '.join(sorted(known))}"
            )
        rules = []
        for j, r in enumerate(item.get("record") or []):
            rule, errs = structure(r, HistoryRule, path="$")
            for pth, msg in errs:
                problems.add(_cattrs_path((*ip, "record", j), pth), msg)
            if rule is not None:
                rules.append(rule)
        cfg = item.get("config") or {}
        if not isinstance(cfg, dict):
            problems.add((*ip, "config"), "expected a mapping of policy settings")
            cfg = {}
        out.append(PolicyBinding.for_package(package, tuple(rules), cfg))
    return tuple(out)


def _settings(model: ManagerModel) -> ManagerSettings:
    t = model.triggers
    return ManagerSettings(
        interval=model.interval,
        min_gap=model.min_gap,
        start_spread=model.start_spread,
        mode=Mode(model.mode),
        triggers=Triggers(
            sensors=tuple(t.sensors),
            child_sensors=tuple(t.child_sensors),
            thresholds=tuple(Threshold(**attrs.asdict(x)) for x in t.thresholds),
            escalations=t.escalations,
            lifecycle=t.lifecycle,
        ),
        history_retention_s=model.history_retention_s,
        history_sensors=tuple(model.history_sensors),
        poll_timeout=model.poll_timeout,
        cooldowns=dict(model.cooldowns),
        gates=model.gates,
    )


def _build_node(
    bp: Blueprint,
    node: Any,
    path: Path_,
    problems: _Problems,
    *,
    default_name: str,
    force_name: str | None = None,
    node_paths: dict[Entity, Path_] | None = None,
) -> tuple[Entity, list[tuple[Entity, ManagementSpec]]] | None:
    if not isinstance(node, dict):
        problems.add(path, "expected an entity mapping (name, type, config, children, policies, manager)")
        return None
    for k in sorted(set(node) - _ENTITY_KEYS, key=str):
        problems.add((*path, k), f"unknown key; expected one of {', '.join(sorted(_ENTITY_KEYS))}")
    name = force_name or node.get("name", default_name)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        problems.add((*path, "name"), f"entity name must match [A-Za-z0-9_.-]+, got {name!r}")
        name = "invalid"
    type_name = node.get("type", "autonomic.entity:Entity")
    cls: type[Entity] | None = None
    if not isinstance(type_name, str):
        problems.add((*path, "type"), "expected an entity type name")
    else:
        try:
            cls = bp.types.resolve(type_name)
        except LookupError as exc:
            problems.add((*path, "type"), str(exc))
    config: Any = None
    raw_config = node.get("config") or {}
    if cls is not None:
        config, errs = structure(raw_config, cls.Config, path="$")
        for pth, msg in errs:
            problems.add(_cattrs_path((*path, "config"), pth), msg)
    deps = node.get("depends_on") or []
    if not (isinstance(deps, list) and all(isinstance(d, str) for d in deps)):
        problems.add((*path, "depends_on"), "expected a list of entity ids")
        deps = []
    bindings = _bindings(bp, node.get("policies"), (*path, "policies"), problems)
    raw_mgr = node.get("manager") or {}
    if not isinstance(raw_mgr, dict):
        problems.add((*path, "manager"), "expected a mapping of manager settings")
        raw_mgr = {}
    model, errs = structure(_deep_merge(bp.defaults, raw_mgr), ManagerModel, path="$")
    for pth, msg in errs:
        problems.add(_cattrs_path((*path, "manager"), pth), msg)
    if raw_mgr and not bindings:
        problems.add((*path, "manager"), "manager settings given but no policies bound")
    entity: Entity | None = None
    if cls is not None and config is not None:
        try:
            entity = cls(name, config, depends_on=tuple(deps))
        except Exception as exc:  # a constructor's failure is a blueprint problem, not a crash
            problems.add(path, f"cannot create {type_name}: {type(exc).__name__}: {exc}")
    if entity is not None and model is not None:
        declared = set(entity.sensor_specs)
        for where, names in (
            (("manager", "triggers", "sensors"), model.triggers.sensors),
            (("manager", "history_sensors"), model.history_sensors),
        ):
            for n in names:
                if n not in declared:
                    problems.add((*path, *where), f"{n!r} is not a sensor of {entity.type_name}")
        for th in model.triggers.thresholds:
            if not th.children and th.sensor not in declared:
                problems.add(
                    (*path, "manager", "triggers"),
                    f"threshold sensor {th.sensor!r} is not a sensor of {entity.type_name}",
                )
    managed: list[tuple[Entity, ManagementSpec]] = []
    if entity is not None and bindings and model is not None:
        managed.append((entity, ManagementSpec(bindings=bindings, settings=_settings(model))))
    kids = node.get("children") or []
    if not isinstance(kids, list):
        problems.add((*path, "children"), "expected a list of entities")
        kids = []
    for i, child in enumerate(kids):
        built = _build_node(
            bp, child, (*path, "children", i), problems, default_name=f"{name}-{i}", node_paths=node_paths
        )
        if built is None or entity is None:
            continue
        c, m = built
        try:
            entity.add_child(c)
        except ValueError as exc:
            problems.add((*path, "children", i, "name"), str(exc))
            continue
        managed.extend(m)
    if entity is None:
        return None
    if node_paths is not None:
        node_paths[entity] = path
    return entity, managed
