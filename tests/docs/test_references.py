"""What the pages name exists: ``cbreservoir`` commands parse, Python names import, files are there."""

from __future__ import annotations

import importlib
import re
import shlex

import pytest
import torch

from cbreservoir.cli import build_parser
from tests.docs.pages import ROOT, blocks, written_pages

#: ``benchmarks/...`` or ``tests/...``, with ``::test_name`` if given; not after "the former `".
_REPOSITORY_PATH = re.compile(r"(?<![\w/.-])(?<!former `)((?:benchmarks|tests)/[\w./-]*\w)(?:::(\w+))?")

#: Words that end a command: a redirection, a pipe, a command list.
_SHELL_OPERATORS = {">", ">>", "<", "|", "||", "&&", ";", "&", "2>", "2>&1"}

#: Shell words before the program: environment settings, ``nice -n K``, ``time``.
_PREFIX = re.compile(r"^(?:\w+=\S+\s+|nice\s+-n\s+\d+\s+|time\s+)*")


def _commands(page: str) -> list[list[str]]:
    """The ``cbreservoir`` command lines of the page's bash blocks, as argument lists."""
    found = []
    for block in blocks(page):
        if block.language != "bash":
            continue
        for line in block.code.replace("\\\n", " ").splitlines():
            command = _PREFIX.sub("", line.strip())
            if command.startswith("cbreservoir "):
                words = shlex.split(command, comments=True)[1:]
                shell = [i for i, word in enumerate(words) if word in _SHELL_OPERATORS]
                found.append(words[: shell[0]] if shell else words)
    return found


@pytest.mark.parametrize("page", written_pages())
def test_every_command_parses(page):
    parser = build_parser()
    for argv in _commands(page):
        if "cuda" in argv and not torch.cuda.is_available():  # --device cuda is refused without a GPU
            argv = ["cpu" if word == "cuda" else word for word in argv]
        try:
            parser.parse_args(argv)
        except SystemExit as exit_:
            assert exit_.code == 0, f"{page}: cbreservoir {shlex.join(argv)} does not parse"


def _resolves(name: str) -> bool:
    parts = name.split(".")
    for length in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:length]))
        except ModuleNotFoundError:
            continue
        try:
            for attribute in parts[length:]:
                found = getattr(found, attribute)
        except AttributeError:
            return False
        return True
    return False


@pytest.mark.parametrize("page", written_pages())
def test_every_python_name_exists(page):
    """``cbreservoir.a.b`` in a code span is a module, or an attribute of one."""
    names = set(re.findall(r"`(cbreservoir(?:\.\w+)+)", (ROOT / page).read_text()))
    assert sorted(name for name in names if not _resolves(name)) == []


@pytest.mark.parametrize("page", written_pages())
def test_every_repository_file_exists(page):
    """The scripts and tests a page points to (``benchmarks/...``, ``tests/...::test``) are there.

    A script the page calls "the former `benchmarks/...`" is history and may be gone.
    """
    text = (ROOT / page).read_text()
    missing = []
    for path, test in _REPOSITORY_PATH.findall(text):
        where = ROOT / path
        if not where.exists() or (test and f"def {test}(" not in where.read_text()):
            missing.append(f"{path}::{test}" if test else path)
    assert missing == []
