"""Strict local fake of the Ometria Data API v2 ("the sandbox") for first runs, demos and tests.

Endpoints under ``/v2`` mirror the real API (push, push errors, a few REST reads); inspection and control
endpoints live under ``/__sandbox``. The real ``GET /v2/push/_errors`` only guarantees ``error_message`` and
``error_path``; the sandbox adds ``record_id``, ``record_type`` and ``request_id``.
"""

from .app import create_app
from .config import SandboxConfig
from .server import running_sandbox, serve

__all__ = ["SandboxConfig", "create_app", "running_sandbox", "serve"]
