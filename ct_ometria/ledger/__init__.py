"""The sync ledger: what Ometria accepted (hash, version, request id), every push batch, dead
letters, and sensor cursors, in one SQL database (SQLite by default, PostgreSQL in production)."""

from ct_ometria.ledger.store import Ledger, Plan

__all__ = ["Ledger", "Plan"]
