"""Shared test helpers: where the reference material lives.

The golden values the tests compare against are facts from reference
implementations (lme4, hierreg), copied into ``tests/data/reference`` so that any
clone runs them; ``tests/data/reference/README.md`` says where they come from.
``../shared`` (beside the checkout, read-only) is only used to check that the
package's shipped datasets equal the shared originals.  Under ``CI=true`` a
missing file is a failure, not a skip.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
REFERENCE = DATA / "reference"
SHARED = TESTS.parents[0].parent / "shared"
LME4 = REFERENCE / "lme4"
LME4_TURN2 = REFERENCE / "lme4-turn2"
LME4_TURN3 = REFERENCE / "lme4-turn3"  # made by tests/data/r/make_turn3.R (see its README)
CSV = DATA / "csv"


def require(path: Path) -> Path:
    """``path`` if it exists; otherwise skip (a failure under ``CI=true``)."""
    if not path.exists():
        msg = f"reference file {path} not available"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " (CI=true: missing references are failures)")
        pytest.skip(msg)
    return path


def load_json(path: Path) -> dict:
    return json.loads(require(path).read_text())


def load_lme4(name: str) -> dict:
    """The tight-tolerance lme4 refit of ``tests/data/reference/lme4/<name>.json``."""
    return load_json(LME4 / f"{name}.json")["extras"]["tight_refit"]


def load_lme4_turn2(name: str) -> dict:
    """A turn-2 reference (top level is the tight refit): ``lme4-turn2/<name>.json``."""
    return load_json(LME4_TURN2 / f"{name}.json")


def load_lme4_turn3(name: str) -> dict:
    """A turn-3 reference (top level is the tight refit): ``tests/data/reference/lme4-turn3/<name>.json``."""
    return load_json(LME4_TURN3 / f"{name}.json")
