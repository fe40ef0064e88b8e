from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from distributed import postgres_url, redis_url, s3_env  # noqa: E402, F401 - shared fixtures

if not DATA.is_dir():
    raise pytest.UsageError(
        f"test data not found at {DATA}: the shared folder must sit beside the repo"
    )


@pytest.fixture
def models() -> Path:
    return DATA / "models"


@pytest.fixture
def fbx_dir() -> Path:
    return DATA / "fbx"
