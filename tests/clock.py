"""The one fake clock of the tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs


@attrs.define
class FakeClock:
    """A clock that reads `moment`, which a test sets or moves; with a `tick`, every reading first
    moves it on by that much.

    It starts at the real current moment, so that tokens issued at its time still verify against
    the real one; tests that need a known day pass their own.
    """

    moment: datetime = attrs.field(factory=lambda: datetime.now(UTC))
    tick: timedelta = timedelta()

    def now(self) -> datetime:
        """The clock's moment (after a tick, when it has one)."""
        self.moment += self.tick
        return self.moment
