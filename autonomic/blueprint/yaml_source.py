"""YAML to plain data, keeping the line of every node so problems can name it."""

from __future__ import annotations

from typing import Any

import attrs
import yaml

__all__ = ["Located", "Path_", "load_yaml"]

Path_ = tuple[str | int, ...]


@attrs.frozen
class Located:
    """Plain data plus the line (1-based) of each node, by path."""

    data: Any
    file: str
    lines: dict[Path_, int]

    def where(self, path: Path_) -> str:
        """``file:line`` of the node at ``path`` (or of its nearest ancestor)."""
        p = tuple(path)
        while p and p not in self.lines:
            p = p[:-1]
        line = self.lines.get(p, 1)
        return f"{self.file}:{line}"


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for k, v in node.value:
            key = _walk(k, (*path, "<key>"), {})
            if isinstance(key, (list, dict)):
                raise yaml.MarkedYAMLError(problem="a mapping key must be a scalar", problem_mark=k.start_mark)
            if key in out:
                raise yaml.MarkedYAMLError(problem=f"duplicate key {key!r}", problem_mark=k.start_mark)
            lines[(*path, key)] = k.start_mark.line + 1
            out[key] = _walk(v, (*path, key), lines)
            lines[(*path, key)] = k.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(v, (*path, i), lines) for i, v in enumerate(node.value)]
    return _scalar(node)


_RESOLVER_LOADER = yaml.SafeLoader("")


def _scalar(node: yaml.Node) -> Any:
    # Construct a scalar with SafeLoader's resolution (ints, floats, bools, nulls, strings).
    return _RESOLVER_LOADER.construct_object(node, deep=True)


def load_yaml(text: str, file: str) -> Located:
    """Parse one YAML document; raise ``ValueError`` with ``file:line: problem`` on a syntax error."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        lines: dict[Path_, int] = {}
        data = None if node is None else _walk(node, (), lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ValueError(f"{file}:{line}: YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{file}: YAML: {exc}") from None
    return Located(data=data, file=file, lines=lines)
