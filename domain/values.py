"""How the domain declares an immutable value whose instances are built in bulk."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

__all__ = ["bulk_value"]

if TYPE_CHECKING:
    # To the type checker (mypy --strict in CI) such a class is a frozen attrs class: assigning
    # to a field of one is an error there.
    from attrs import frozen as bulk_value
else:

    def bulk_value(maybe_cls: Any = None, /, **options: Any) -> Any:
        """A frozen attrs class to the type checker; at run time, one without the frozen guard.

        A frozen class's __init__ sets every field through object.__setattr__: callgrind counts
        19,500 instructions to build a Task that way and 9,600 without the guard, and a list
        reads one Task per row. So immutability is left to the type checker, and the class
        keeps the hash that frozen attrs classes have.
        """
        return attrs.define(maybe_cls, unsafe_hash=True, **options)
