"""The documentation keeps up with the code: every environment variable that src/ reads and
every command-line option has its place in README.md or docs/*.md."""

from __future__ import annotations

import argparse
import re

from conftest import ROOT
from pixseek.cli import build_parser

ENV_NAME = re.compile(r"\bPIXSEEK_[A-Z0-9_]+\b")
COMMAND_HEADING = re.compile(r"^#+ `(pixseek[^`]*)`", re.MULTILINE)


def documentation() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def cli_reference() -> dict[str, str]:
    """docs/cli.md's sections by the command in their heading: "pixseek search" -> its text."""
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    marks = list(COMMAND_HEADING.finditer(text))
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return {m.group(1).strip(): text[m.end():end] for m, end in zip(marks, ends)}


def commands(parser: argparse.ArgumentParser, path: str = "pixseek"):
    """(command path, its parser) for every command that takes options, subcommands included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{path} {name}")
            return
    yield path, parser


def options(parser: argparse.ArgumentParser) -> list[str]:
    """Each option's long spelling (its short one when it has no other), positionals by metavar."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if action.option_strings:
            longs = [s for s in action.option_strings if s.startswith("--")]
            found.append((longs or action.option_strings)[0])
        elif not isinstance(action, argparse._SubParsersAction):
            found.append(action.metavar or action.dest.upper())
    return found


def test_every_environment_variable_read_in_src_is_documented():
    used = {name for path in (ROOT / "src").rglob("*.py") for name in ENV_NAME.findall(path.read_text(encoding="utf-8"))}
    assert used, "the scan found no variable at all"
    text = documentation()
    assert sorted(name for name in used if name not in text) == []


def test_every_command_line_option_is_documented_under_its_command():
    reference = cli_reference()
    missing = []
    for command, parser in commands(build_parser()):
        if command not in reference:
            missing.append(f"{command} (no section in docs/cli.md)")
            continue
        missing += [f"{command} {option}" for option in options(parser) if option not in reference[command]]
    assert missing == []


def test_the_walk_sees_every_command():
    """The two tests above are only as good as this walk: it must reach nested commands."""
    found = dict(commands(build_parser()))
    assert {"pixseek index", "pixseek search", "pixseek model install"} <= found.keys()
    assert "--min-score" in options(found["pixseek search"]) and "--from" in options(found["pixseek model install"])
