"""The entity graph: containment and depends-on edges, in networkx."""

from __future__ import annotations

from typing import Any

import networkx as nx

__all__ = ["CONTAINS", "DEPENDS_ON", "EntityGraph"]

CONTAINS = "contains"
DEPENDS_ON = "depends_on"


class EntityGraph:
    """A directed graph of entity ids; edge ``kind`` is ``contains`` or ``depends_on``."""

    def __init__(self) -> None:
        self.graph: nx.DiGraph[str] = nx.DiGraph()

    def add(self, entity_id: str, type_name: str, parent: str | None, depends_on: tuple[str, ...] = ()) -> None:
        """Add an entity, its containment edge and its dependencies."""
        self.graph.add_node(entity_id, type=type_name)
        if parent is not None:
            self.graph.add_edge(parent, entity_id, kind=CONTAINS)
        for dep in depends_on:
            self.graph.add_edge(entity_id, dep, kind=DEPENDS_ON)

    def remove(self, entity_id: str) -> None:
        """Remove an entity and its edges."""
        if entity_id in self.graph:
            self.graph.remove_node(entity_id)

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self.graph

    def __len__(self) -> int:
        return int(self.graph.number_of_nodes())

    def _neighbours(self, entity_id: str, kind: str, *, incoming: bool = False) -> list[str]:
        if entity_id not in self.graph:
            return []
        edges: Any = (
            self.graph.in_edges(entity_id, data="kind") if incoming else self.graph.out_edges(entity_id, data="kind")
        )
        return sorted((u if incoming else v) for u, v, k in edges if k == kind)

    def children(self, entity_id: str) -> list[str]:
        """Contained entities."""
        return self._neighbours(entity_id, CONTAINS)

    def dependencies(self, entity_id: str) -> list[str]:
        """What the entity depends on."""
        return self._neighbours(entity_id, DEPENDS_ON)

    def dependents(self, entity_id: str) -> list[str]:
        """What depends on the entity."""
        return self._neighbours(entity_id, DEPENDS_ON, incoming=True)

    def missing_dependencies(self) -> list[tuple[str, str]]:
        """``(entity, dependency)`` pairs whose dependency is not an entity in the tree."""
        return sorted(
            (u, v) for u, v, k in self.graph.edges(data="kind") if k == DEPENDS_ON and "type" not in self.graph.nodes[v]
        )

    def dependency_cycles(self) -> list[list[str]]:
        """Cycles among depends-on edges."""
        dep = nx.DiGraph((u, v) for u, v, k in self.graph.edges(data="kind") if k == DEPENDS_ON)
        return [sorted(c) for c in nx.simple_cycles(dep)]
