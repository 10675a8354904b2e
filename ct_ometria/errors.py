"""Errors that name what was wrong and where, never a secret's value."""

from __future__ import annotations


class CtOmetriaError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(CtOmetriaError):
    """A setting is missing or wrong. The message names the variable or config key."""


class UpstreamError(CtOmetriaError):
    """An API answered with an error that retrying will not fix."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class UpstreamUnavailable(CtOmetriaError):
    """An API stayed unreachable or overloaded for the whole retry budget."""
