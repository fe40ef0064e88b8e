"""An API key as the records keep it and every protocol checks it (no protocol here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    """An API key: ``secret_key`` in clear (HMAC needs it), the owning ``account``, an optional
    session ``token``; revoked keys are never returned by a lookup."""

    secret_id: str
    secret_key: str
    account: str
    token: str | None = None
