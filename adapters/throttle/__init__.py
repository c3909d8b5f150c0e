"""Attempt counting on the `limits` library: in process by default, Redis when configured."""

from adapters.throttle.limits_throttle import LimitsThrottle

__all__ = ["LimitsThrottle"]
