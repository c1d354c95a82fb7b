"""docs/security.md states the per-stage security settings that stages.json holds."""

from __future__ import annotations

import pytest

from chalicelib import config
from ops.emulator import ROOT

pytestmark = pytest.mark.unit

DOC = ROOT / "docs" / "security.md"


def expected_row(stage: config.StageConfig) -> str:
    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:g}"

    cells = [
        f"`{stage.stage}`",
        f"`{stage.region}`",
        f"`{stage.api_auth}`",
        number(stage.api_rate_limit),
        number(stage.api_burst_limit),
        number(stage.retention_days) if stage.retention_days else "kept forever",
        stage.account_id or "any",
    ]
    return "| " + " | ".join(cells) + " |"


def test_the_settings_table_is_stages_json():
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| `")]
    documented = {row.split(" | ")[0].strip("| `"): row for row in rows if row.count("|") == 8}
    stages = [config.load(name, environ={}) for name in config.stage_names()]
    assert documented == {stage.stage: expected_row(stage) for stage in stages}
