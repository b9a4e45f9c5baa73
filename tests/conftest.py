"""Shared test helpers: where the read-only reference material lives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
LME4 = SHARED / "reference" / "lme4"


def load_lme4(name: str) -> dict:
    """The tight-tolerance lme4 refit stored in ``shared/reference/lme4/<name>.json``."""
    path = LME4 / f"{name}.json"
    if not path.exists():
        pytest.skip(f"reference file {path} not available")
    return json.loads(path.read_text())["extras"]["tight_refit"]
