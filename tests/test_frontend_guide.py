"""docs/writing-a-frontend.md documents every hook spec (the guide a plugin author reads)."""

from __future__ import annotations

import inspect
from pathlib import Path

from core import hookspecs


def test_every_hook_is_in_the_frontend_guide():
    guide = (Path(__file__).resolve().parents[1] / "docs" / "writing-a-frontend.md").read_text()
    specs = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
             if name.startswith("tcglab_")]
    assert len(specs) >= 8
    missing = [name for name in specs if f"`{name}(" not in guide]
    assert not missing, f"hooks missing from docs/writing-a-frontend.md: {missing}"
