"""Knowledge: the entity graph, sensor and policy histories, the journal and its stores."""

from autonomic.knowledge.graph import EntityGraph
from autonomic.knowledge.history import NamedHistory, SensorHistory
from autonomic.knowledge.knowledge import Knowledge, ManagerState
from autonomic.knowledge.memory import MemoryStore
from autonomic.knowledge.records import ActionRecord, ActionStatus, RoundRecord
from autonomic.knowledge.sqlite import SQLiteStore
from autonomic.knowledge.store import JournalQuery, KnowledgeStore

__all__ = [
    "ActionRecord",
    "ActionStatus",
    "EntityGraph",
    "JournalQuery",
    "Knowledge",
    "KnowledgeStore",
    "ManagerState",
    "MemoryStore",
    "NamedHistory",
    "RoundRecord",
    "SQLiteStore",
    "SensorHistory",
]
