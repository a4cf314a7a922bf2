"""Blueprints: YAML descriptions of entity trees, checked with locations, built into entities."""

from autonomic.blueprint.load import Blueprint, load_blueprint, parse_blueprint
from autonomic.blueprint.model import EngineSpec, ManagerModel, StoreSpec, SupervisorSpec
from autonomic.blueprint.types import ENTRY_POINT_GROUP, EntityTypes

__all__ = [
    "ENTRY_POINT_GROUP",
    "Blueprint",
    "EngineSpec",
    "EntityTypes",
    "ManagerModel",
    "StoreSpec",
    "SupervisorSpec",
    "load_blueprint",
    "parse_blueprint",
]
