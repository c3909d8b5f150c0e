"""What the service counts to slow down password guessing."""

import enum


class Bucket(enum.Enum):
    """A family of counted attempts, each with its own configured limit."""

    AUTH_PER_ADDRESS = "auth-per-address"
    """Every sign-in or sign-up attempt, by client address."""

    FAILED_SIGN_IN_PER_EMAIL = "failed-sign-in-per-email"
    """Every failed sign-in, by the e-mail it was for."""
