"""The operator's documentation stays true: README, `/partner help`, `partner-bot --help`, .env.example and the manifest
name the same commands, options, settings and defaults as the code (generated comparisons, not copied strings)."""

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


def readme_section(title: str) -> str:
    """README's text under `## title`, up to the next section of that level."""
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def cli_commands() -> dict[str, set[str]]:
    """Every `partner-bot` command (`db upgrade` for a nested one) with the options its parser takes."""
    import argparse

    from bot.cli import build_parser

    def walk(parser: argparse.ArgumentParser, prefix: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found.update(walk(sub, f"{prefix} {name}".strip()))
        if prefix and not found:
            found[prefix] = {
                o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"
            }
        return found

    return walk(build_parser(), "")


def test_every_cli_command_and_option_is_in_readmes_command_line() -> None:
    """README's *Command line* is the operator's reference: each command has its bullet, naming every option, and
    names no command or option the parser refuses."""
    bullets = {
        m[1]: m[0]
        for m in re.findall(
            r"^- (`partner-bot ((?:\w+)(?: (?!-)[a-z]+)?)\b[^`]*`.*?)(?=^- |\Z)",
            readme_section("Command line"),
            re.MULTILINE | re.DOTALL,
        )
    }
    commands = cli_commands()
    assert len(commands) >= 7
    assert set(commands) == set(bullets), "README's Command line and `partner-bot --help` differ"
    for command, options in commands.items():
        named = set(re.findall(r"(--[a-z][a-z-]*)", bullets[command]))
        assert options == named, f"partner-bot {command}: parser {sorted(options)}, README {sorted(named)}"
    for typed in re.findall(r"`partner-bot ([a-z]+(?: [a-z]+)?)", (ROOT / "README.md").read_text()):
        assert typed in commands or typed.split()[0] in commands, f"README names `partner-bot {typed}`"


def readme_command_rows() -> list[str]:
    return re.findall(r"^\| (`/partner [^|]*(?:\\\|[^|]*)*) \|", (ROOT / "README.md").read_text(), re.MULTILINE)


def test_every_slash_command_is_in_readmes_table_with_the_options_help_shows() -> None:
    """README's command table and `/partner help` name the same subcommands and the same `key=` options, and every
    `/partner <word>` README writes is a subcommand the router knows (aliases included)."""
    from handlers.commands.partner import SUBCOMMANDS, route

    rows = readme_command_rows()
    readme = (ROOT / "README.md").read_text()
    for typed in set(re.findall(r"`/partner ([a-z-]+)", readme)):
        assert route(typed)[0] is not None, f"README writes `/partner {typed}`, which Partner does not know"
    for subcommand in SUBCOMMANDS:
        own = [r for r in rows if re.search(rf"`/partner {subcommand.name}\b", r)]
        assert own, f"/partner {subcommand.name} has no row in README's command table"
        in_readme = set(re.findall(r"\b([a-z]+)=", " ".join(own))) - {"key"}
        in_help = set(re.findall(r"\b([a-z]+)=", subcommand.usage))
        assert in_readme <= in_help, f"/partner {subcommand.name}: README's usage has {in_readme - in_help}, help not"
        row_text = "".join(line for line in readme.splitlines() if any(line.startswith(f"| {r}") for r in own))
        missing = {key for key in in_help if f"{key}=" not in row_text}
        assert not missing, f"/partner {subcommand.name}: help shows {sorted(missing)}=, README's row does not"


def test_readmes_setting_defaults_are_env_examples_and_the_codes() -> None:
    """A default written three times — README's table, .env.example, bot/settings.py — is one default."""
    from dotenv import dotenv_values

    from bot.settings import ENV_EXAMPLE_PLACEHOLDERS, Settings

    table = dict(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| ([^|]+) \|", (ROOT / "README.md").read_text(), re.MULTILINE))
    example = {k: v or "" for k, v in dotenv_values(ROOT / ".env.example").items()}
    for name, value in example.items():
        if name in ENV_EXAMPLE_PLACEHOLDERS:
            continue
        documented = table[name].strip()
        assert documented == (f"`{value}`" if value else "empty"), (
            f"{name}: README {documented}, .env.example {value!r}"
        )
    required = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}  # the placeholders, filled in
    assert Settings.from_mapping({**example, **required}) == Settings.from_mapping(required)


def test_the_manifests_usage_hint_shows_subcommands_partner_knows() -> None:
    """Slack shows the hint under `/partner` as it is typed: each form it shows starts with a subcommand."""
    import yaml

    from handlers.commands.partner import route

    (command,) = yaml.safe_load((ROOT / "manifest.yml").read_text())["features"]["slash_commands"]
    for form in command["usage_hint"].split("|"):
        assert route(form.split()[0])[0] is not None, form


def test_help_names_every_shortcut_of_the_manifest() -> None:
    """A message shortcut is found only in a message's ⋯ menu: `/partner help` says it is there, by its name."""
    import yaml

    from handlers.commands.help import help_reply
    from handlers.commands.partner import SUBCOMMANDS

    shortcuts = yaml.safe_load((ROOT / "manifest.yml").read_text())["features"]["shortcuts"]
    reply = help_reply(SUBCOMMANDS)
    assert reply is not None
    shown = str(reply["blocks"])
    for shortcut in shortcuts:
        assert f"*{shortcut['name']}*" in shown, shortcut["name"]


def test_readmes_first_screen_is_two_commands_and_ci_runs_the_test_one() -> None:
    """README opens with two commands, install+run and test, and .ci/run runs exactly that test command."""
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("```bash\n") + len("```bash\n") : readme.index("```", readme.index("```bash\n") + 7)]
    commands = [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(commands) == 2, commands
    assert "partner-bot serve" in commands[0] and "pytest" in commands[1]
    assert commands[1].strip() in (ROOT / ".ci" / "run").read_text().splitlines()


def test_add_and_edit_show_every_key_they_take_in_their_usage_and_readmes_row() -> None:
    """The keys `add`/`edit` read are one table (customer_args): their usage lines (which `/partner help` shows) and
    README's rows name each, and no other, as `key=`, `@owner` or `#channel`."""
    from handlers.commands.add import USAGE as ADD_USAGE
    from handlers.commands.customer_args import ADD_KEYS, EDIT_KEYS
    from handlers.commands.edit import USAGE as EDIT_USAGE

    rows = readme_command_rows()
    for name, usage, keys in (("add", ADD_USAGE, ADD_KEYS), ("edit", EDIT_USAGE, EDIT_KEYS)):
        shown = set(re.findall(r"\b([a-z]+)=", usage)) | set(re.findall(r"\[[@#]([a-z]+)\b", usage))
        assert shown == set(keys), f"/partner {name}: usage shows {sorted(shown)}, the command takes {sorted(keys)}"
        (row,) = [r for r in rows if r.startswith(f"`/partner {name} ")]
        line = next(line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith(f"| {row}"))
        missing = [k for k in keys if not re.search(rf"(?:\b{k}=|[@#]{k}\b)", line)]
        assert not missing, f"/partner {name}: README's row does not name {missing}"
