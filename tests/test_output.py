"""The one JSON writer (core/output.py): strict JSON whatever the data holds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from core.output import json_text, write_json


def _strict(text: str):
    """``json.loads`` that refuses NaN and Infinity, as every other JSON reader does."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_float_json_cannot_hold_is_null(value):
    data = {"mips": value, "cells": [{"overhead": value}, (1.5, value)]}
    assert _strict(json_text(data)) == {"mips": None, "cells": [{"overhead": None}, [1.5, None]]}


def test_finite_values_are_written_as_json_dump_writes_them():
    data = {"a": [1, 2.5, 0.1 + 0.2, True, None, "x"], "b": {"c": ()}}
    assert json_text(data) == json.dumps(data, indent=2)


def test_values_json_has_no_type_for_are_their_text(tmp_path):
    path = tmp_path / "out.json"
    write_json(str(path), {"program": Path("/a/b.elf")})
    assert path.read_text() == '{\n  "program": "/a/b.elf"\n}\n'


def test_the_file_is_strict_json(tmp_path):
    path = tmp_path / "out.json"
    write_json(str(path), {"wall_seconds": math.nan})
    assert _strict(path.read_text()) == {"wall_seconds": None}
