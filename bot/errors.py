"""Typed errors. Their messages are safe to show to users (CLI, Slack)."""

from __future__ import annotations


class FlywheelError(Exception):
    """Base class: the message is user-safe and actionable."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(FlywheelError):
    pass


class IllegalTransition(FlywheelError):
    pass


class InvalidInput(FlywheelError):
    pass


class ConfigError(FlywheelError):
    pass


class LLMError(FlywheelError):
    """The model failed, refused, timed out or returned unusable output. Nothing was changed."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class AgentError(FlywheelError):
    pass


class PublishError(FlywheelError):
    """The team's KB refused or failed the publish. Nothing was recorded; publishing again is safe."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class NotAllowed(FlywheelError):
    """The user may not do this (publish, dismiss, change settings). Nothing was changed."""
