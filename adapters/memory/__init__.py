"""In-memory repositories and unit of work with the same behaviour as the SQL ones."""

from adapters.memory.store import AlwaysReady, MemoryStore, MemoryUnitOfWork

__all__ = ["AlwaysReady", "MemoryStore", "MemoryUnitOfWork"]
