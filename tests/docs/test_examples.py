"""Every example in README.md and docs/ runs as written and prints what its page shows.

The python blocks of a page run in order in one namespace (they continue one another), in a scratch
directory. A ```` ```text ```` block right after a python block is what that block prints; one right after a
bash block holding one ``cbreservoir`` command is what the command prints. Output is compared as doctest
compares it (``...`` stands for any text, e.g. a time; runs of white space are equal). A block that prints
shows its output, and no output is stated in a comment, where no test would see it go stale
(:func:`test_comments_state_no_output`). The few blocks that do not run here are listed in ``NOT_RUN``
with the reason; blocks run at a smaller size are listed in ``SMALLER`` and their page says so; blocks that
read committed results run from the repository root (``FROM_ROOT``).
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import io
import json
import re
import shlex
import tokenize

import pytest

from cbreservoir.cli import main
from tests.docs.pages import ROOT, Block, blocks, written_pages

_TIMING = "a timing script: it prints this machine's speed"

#: (page, a line of the block) -> why the tests do not run it.
NOT_RUN = {
    ("docs/training.md", "torch.set_num_threads(int(sys.argv[1])"): _TIMING,
    ("docs/tasks.md", "wall = curriculum.run(3).seconds"): _TIMING,
    ("docs/speed.md", 'print("bmm GFLOP/s"'): _TIMING,
    ("docs/speed.md", 'for name, call in [("masked_fill_"'): _TIMING,
    ("docs/estimators.md", "cbrnn = CBRNNClassifier("): "trains for about a minute; the table below has it",
    ("docs/estimators.md", "predicted = CBRNNRegressor("): "trains for half a minute; the table below has it",
    ("docs/real-data.md", "search = GridSearchCV("): "36 fits and a refit, tens of seconds",
    ("docs/reproduce.md", "report = reproduce("): "trains the quick profile's networks for minutes",
    ("docs/scaling-out.md", 'scheduler="tcp://10.0.0.5:8786"'): "needs the page's dask cluster",
}

#: (page, a line of the block) -> why it runs from the repository root (it reads committed results).
FROM_ROOT = {
    ("docs/future-work.md", 'glob.glob("docs/results/study/runs/*.json")'): "reads the committed run records",
}

#: (page, text in a block) -> what the tests run instead; the page says "The docs tests run this block with
#: `<that>`".
SMALLER = {("docs/tasks.md", "n_epochs=1000"): "n_epochs=2"}

_OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _listed(table: dict, block: Block) -> list:
    return [key for key in table if key[0] == block.page and key[1] in block.code]


def _runs(block: Block) -> bool:
    return block.language == "python" and not _listed(NOT_RUN, block)


def _pages_with_examples() -> list[str]:
    return [
        page
        for page in written_pages()
        if any(_runs(block) or (block.language == "bash" and block.output) for block in blocks(page))
    ]


def _check_output(block: Block, printed: str) -> None:
    if block.output is None:
        assert printed == "", f"{block} prints but its page shows no output block:\n{printed}"
        return
    checker = doctest.OutputChecker()
    if not checker.check_output(block.output, printed, _OPTIONS):
        example = doctest.Example(source=block.code, want=block.output)
        raise AssertionError(
            f"{block} prints other output than its page shows:\n"
            + checker.output_difference(example, printed, _OPTIONS)
        )


def _run_python(block: Block, namespace: dict) -> str:
    code = block.code
    for key in _listed(SMALLER, block):
        code = code.replace(key[1], SMALLER[key])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(block), "exec"), namespace)
    return printed.getvalue()


def _run_command(block: Block) -> str:
    (command,) = [line for line in block.code.splitlines() if line.strip()]
    program, *argv = shlex.split(command, comments=True)
    assert program == "cbreservoir", f"{block}: an output block follows a command the tests cannot run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        main(argv)
    return printed.getvalue()


@pytest.mark.parametrize("page", _pages_with_examples())
def test_examples_print_what_their_page_shows(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "docs_example"}
    for block in blocks(page):
        if _runs(block):
            with contextlib.chdir(ROOT) if _listed(FROM_ROOT, block) else contextlib.nullcontext():
                printed = _run_python(block, namespace)
            _check_output(block, printed)
        elif block.language == "bash" and block.output is not None:
            _check_output(block, _run_command(block))


def test_every_listed_block_exists_once_and_a_smaller_one_is_said_so():
    """A stale entry of NOT_RUN, SMALLER or FROM_ROOT (its block changed or gone) fails here."""
    for table in (NOT_RUN, SMALLER, FROM_ROOT):
        for page, text in table:
            matching = [block for block in blocks(page) if text in block.code]
            assert len(matching) == 1, f"{page}: {text!r} is in {len(matching)} blocks"
    for (page, _), smaller in SMALLER.items():
        assert f"The docs tests run this block with `{smaller}`" in (ROOT / page).read_text(), page


def test_output_blocks_follow_something_that_prints():
    """An output block after a block that is never run would be an unchecked claim."""
    for page in written_pages():
        for block in blocks(page):
            if block.output is not None:
                assert _runs(block) or block.language == "bash", f"{block}: its output is not checked"


def _train_json(*argv: str) -> dict:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["train", *argv, "--steps", "2", "--test-batches", "1", "--json"]) == 0
    return json.loads(printed.getvalue())


def test_the_train_documents_hold_what_the_command_line_page_lists():
    text = (ROOT / "docs" / "cli.md").read_text()
    (shown,) = [json.loads(block.code) for block in blocks("docs/cli.md") if block.language == "json"]
    fixed = _train_json(
        "--mode", "fixed_level", "--model", "cbrnn", "--task", "dms", "--n", "5", "--ensemble", "8"
    )
    assert set(fixed) == set(shown)
    same = ("mode", "model", "task", "n", "ensemble", "seed", "batch_size", "units", "parameters", "seeds")
    assert {key: fixed[key] for key in same} == {key: shown[key] for key in same}
    listed = re.search(r"For the curriculum: (.*?) — one list per member", text, flags=re.S).group(1)
    curriculum = _train_json("--mode", "curriculum", "--model", "cbrnn", "--task", "dms", "--epochs", "1")
    assert set(re.findall(r"`(\w+)`", listed)) - {"curriculum"} <= set(curriculum)
    assert curriculum["mode"] == "curriculum"


# -------------------------------------------------------------------------------- output in comments

#: A comment that states a value: a tuple holding a number (a shape), a boolean, or an error message.
_VALUE = re.compile(r"\([^()]*\d[^()]*,[^()]*\)|\(\d+,\)|\b(True|False)\b|^\s*\w+(Error|Warning)\b")


def _comments(code: str) -> dict[int, str]:
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    return {token.start[0]: token.string[1:] for token in tokens if token.type == tokenize.COMMENT}


def _output_claims(block: Block) -> list[str]:
    """What in the block's comments states output, with its line on the page."""
    comments, code = _comments(block.code), block.code.splitlines()
    claims = [line for line, comment in comments.items() if _VALUE.search(comment)]
    for statement in ast.parse(block.code).body:
        if not isinstance(statement, ast.Expr):
            continue
        call = statement.value if isinstance(statement.value, ast.Call) else None
        if call is None:  # a bare value, which a REPL would display and a script does not
            claims.append(statement.lineno)
        shown = call is None or (isinstance(call.func, ast.Name) and call.func.id == "print")
        lines = [*range(statement.lineno, statement.end_lineno + 1)]
        if statement.end_lineno < len(code) and code[statement.end_lineno].lstrip().startswith("#"):
            lines.append(statement.end_lineno + 1)  # a comment line under it
        claims += [line for line in lines if line in comments and (shown or re.search(r"\d", comments[line]))]
    return [f"{block.page}:{block.line + line} {comments.get(line, '')!r}" for line in sorted(set(claims))]


@pytest.mark.parametrize("page", written_pages())
def test_comments_state_no_output(page):
    """Values go in output blocks, where the tests compare them; comments only explain."""
    for block in blocks(page):
        if block.language == "python":
            assert ">>>" not in block.code, (
                f"{block}: write the example as a python block and an output block"
            )
            claims = _output_claims(block)
            assert claims == [], "print these and show them in an output block:\n" + "\n".join(claims)
