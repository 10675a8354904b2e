"""Configuration of the local Ometria Data API v2 sandbox."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class SandboxConfig(BaseModel):
    """Behaviour switches of the sandbox; every default mirrors the documented (or inferred) real API.

    Each API key is a separate account with its own store, queue, rate windows, errors and request log.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    api_keys: list[str] = Field(min_length=1, repr=False)
    push_rate_per_second: float = Field(default=8, gt=0)
    rest_rate_per_second: float = Field(default=4, gt=0)
    deletion_requests_per_minute: int = Field(default=6, ge=1)
    max_records: int = Field(default=100, ge=1)
    max_record_bytes: int = Field(default=60 * 1024, ge=1)
    queue_capacity: int = Field(default=50_000, ge=1)
    auth_failure_status: Literal[401, 403] = 403
    success_status: int = Field(default=202, ge=200, le=299)
    process_mode: Literal["immediate", "manual"] = "immediate"
    sync_rejects: bool = False
    strict_required: bool = True
    known_event_types: list[str] | None = None
    latency_seconds: float = Field(default=0, ge=0)

    @field_validator("api_keys")
    @classmethod
    def _keys_non_blank(cls, keys: list[str]) -> list[str]:
        if any(not k or not k.strip() for k in keys):
            raise ValueError("api keys must be non-empty strings")
        if len(set(keys)) != len(keys):
            raise ValueError("api keys must be unique")
        return keys

    def __repr__(self) -> str:  # never show key values
        return f"SandboxConfig(api_keys=<{len(self.api_keys)} keys>, process_mode={self.process_mode!r})"

    __str__ = __repr__
