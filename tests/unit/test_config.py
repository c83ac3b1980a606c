"""Settings whose range is part of the product's promise."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.helpers import make_settings


def test_a_high_openai_tier_can_run_up_to_a_thousand_jobs_at_once(tmp_path: Path) -> None:
    assert make_settings(tmp_path, imagebot_max_concurrency=1000).imagebot_max_concurrency == 1000
    with pytest.raises(ValidationError, match="imagebot_max_concurrency") as refused:
        make_settings(tmp_path, imagebot_max_concurrency=1001)
    assert "less than or equal to 1000" in str(refused.value)
