"""The code blocks of README.md and the docs pages, as the docs tests read them.

A fenced block is ```` ```LANGUAGE ```` ... ```` ``` ```` at the start of a line. A ```` ```text ```` block
that follows a python or bash block with nothing but blank lines between is that block's printed output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", flags=re.S | re.M)


@dataclass(frozen=True)
class Block:
    """One fenced code block: its page, first line number, language, code and shown output (or None)."""

    page: str
    line: int
    language: str
    code: str
    output: str | None

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def user_pages() -> list[str]:
    """README.md and every docs page a user reads, as paths relative to the repository root."""
    pages = sorted(str(path.relative_to(ROOT)) for path in DOCS.rglob("*.md"))
    return ["README.md", *pages]


def written_pages() -> list[str]:
    """The pages written by hand: README.md and docs/ without the generated docs/results/."""
    return [page for page in user_pages() if not page.startswith("docs/results/")]


def blocks(page: str) -> list[Block]:
    """The page's code blocks in order; output blocks are attached to the block they follow."""
    text = (ROOT / page).read_text()
    found, previous_end, previous = [], None, None
    for match in _FENCE.finditer(text):
        language, code = match.group(1), match.group(2)
        follows = previous is not None and text[previous_end : match.start()].strip() == ""
        if language == "text" and follows and previous.language in ("python", "bash"):
            found[-1] = Block(previous.page, previous.line, previous.language, previous.code, code)
        else:
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(page, line, language, code, None))
        previous_end, previous = match.end(), found[-1]
    return found
