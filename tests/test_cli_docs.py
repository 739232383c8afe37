"""docs/cli.md documents every command, option and choice that `archc` has, and no option it lacks.

The parser is walked, not a list kept by hand: a command or option added to
``archc.cli.build_parser()`` fails here until docs/cli.md explains it in the
section of its command, headed ``## `archc NAME```.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from archc.cli import build_parser

from .conftest import ROOT

DOC = ROOT / "docs" / "cli.md"
HELP = ("-h", "--help")


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command (``"table"``, or ``"a b"`` for nested ones) with its parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield " ".join((*path, name)), sub
                yield from walk(sub, (*path, name))


COMMANDS = dict(walk(build_parser()))


def visible(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.help != argparse.SUPPRESS
            and not isinstance(a, (argparse._SubParsersAction, argparse._HelpAction))]


def sections() -> dict[str, str]:
    """The text under each ``## `archc NAME``` heading, up to the next level-2 heading."""
    text = DOC.read_text(encoding="utf-8")
    found = re.finditer(r"^## `archc ([^`]+)`[ \t]*\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    return {m[1].strip(): m[2] for m in found}


def mentioned(word: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def bullet_heads(section: str) -> str:
    """The start of each list item that opens with code (``- `--depth N` — ...``): where options are explained."""
    return "\n".join(re.findall(r"^\s*- (`.*?)(?: — |$)", section, re.M))


def test_every_command_has_a_section_and_every_section_a_command() -> None:
    assert COMMANDS, "no subcommands found: did build_parser() change shape?"
    documented = sections()
    assert sorted(set(COMMANDS) - set(documented)) == [], "commands without a `## `archc NAME`` section in docs/cli.md"
    assert sorted(set(documented) - set(COMMANDS)) == [], "sections in docs/cli.md for commands archc does not have"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_choice_and_argument_is_documented(command: str) -> None:
    section = sections().get(command, "")
    heads = bullet_heads(section)
    missing = []
    for action in visible(COMMANDS[command]):
        if action.option_strings:  # an option: a list item of its own, opening with it
            missing += [o for o in action.option_strings if o not in HELP and not mentioned(o, heads)]
        else:  # a positional: its metavar, as in the usage line
            missing += [w for w in [action.metavar or action.dest] if not mentioned(w, section)]
        missing += [f"`{c}`" for c in action.choices or () if f"`{c}`" not in section]
    assert missing == [], f"docs/cli.md, section `archc {command}`, does not explain {missing}"


def test_global_options_are_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for action in visible(build_parser()):
        for option in action.option_strings:
            assert mentioned(option, text), f"docs/cli.md does not mention archc's global option {option}"


def test_docs_mention_no_option_archc_lacks() -> None:
    known = {s for p in [build_parser(), *COMMANDS.values()] for a in p._actions for s in a.option_strings}
    text = DOC.read_text(encoding="utf-8")
    stale = sorted({m for m in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text)} - known)
    assert stale == [], f"docs/cli.md documents options archc does not have: {stale}"
