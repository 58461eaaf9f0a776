"""The operator's documentation stays true: every setting Partner reads is in .env.example and README's table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_SOURCE = (ROOT / "bot" / "settings.py").read_text()


def settings_read() -> set[str]:
    return set(re.findall(r'\b(?:get|required|positive)\("([A-Z][A-Z0-9_]+)"', SETTINGS_SOURCE))


def test_every_setting_is_in_env_example() -> None:
    example = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    names = settings_read()
    assert len(names) > 10  # the pattern above still finds how settings.py reads the environment
    assert names - example == set(), "add these to .env.example"
    assert example - names == set(), ".env.example names settings Partner does not read"


def test_every_setting_is_in_the_readme_table() -> None:
    table = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", (ROOT / "README.md").read_text(), re.MULTILINE))
    assert settings_read() - table == set(), "add these to README's settings table"


def test_the_placeholders_settings_refuse_are_env_examples_values() -> None:
    from bot.settings import ENV_EXAMPLE_PLACEHOLDERS

    example = (ROOT / ".env.example").read_text()
    for name, value in ENV_EXAMPLE_PLACEHOLDERS.items():
        assert re.search(rf"^#? ?{name}={re.escape(value)}\s", example, re.MULTILINE), name
