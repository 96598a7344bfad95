"""docs/events-and-verdicts.md shows the JSON schemas the code generates, not older ones."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from policysim.policies.model import event_schema, verdict_schema

PAGE = Path(__file__).resolve().parents[2] / "docs" / "events-and-verdicts.md"


def schema_block(title: str) -> dict:
    """The JSON in the ```json block under ``<summary>TITLE</summary>``."""
    found = re.search(
        rf"<summary>{re.escape(title)}</summary>\s*```json\n(.*?)\n```", PAGE.read_text(), re.S
    )
    assert found, f"{PAGE.name} has no {title!r} block"
    return json.loads(found.group(1))


@pytest.mark.parametrize(
    ("title", "schema"),
    [("Event JSON schema", event_schema), ("Verdict JSON schema", verdict_schema)],
)
def test_documented_schema_is_the_generated_one(title: str, schema) -> None:
    assert schema_block(title) == schema()
