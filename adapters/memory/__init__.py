"""In-memory repositories and unit of work with the same behaviour as the SQL ones."""

from adapters.memory.store import MemoryStore, MemoryUnitOfWork

__all__ = ["MemoryStore", "MemoryUnitOfWork"]
