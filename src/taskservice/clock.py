"""The real clock."""

from datetime import UTC, datetime


class SystemClock:
    """The operating system's clock, in UTC."""

    def now(self) -> datetime:
        """The current moment."""
        return datetime.now(UTC)
