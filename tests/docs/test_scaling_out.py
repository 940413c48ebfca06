"""docs/scaling-out.md: a reproduction pointed at a scheduler that does not answer fails fast, as shown."""

from __future__ import annotations

import contextlib
import io
import re
import socket

import pytest

from cbreservoir.cli import main
from cbreservoir.experiments import sweep
from tests.docs.pages import ROOT

PAGE = ROOT / "docs" / "scaling-out.md"
SHOWN_ADDRESS, SHOWN_TIMEOUT = "tcp://10.0.0.5:8786", 10


@pytest.fixture
def closed_address(monkeypatch) -> str:
    """A local address nobody listens on, and a short connection timeout so that the test stays fast."""
    monkeypatch.setattr(sweep, "SCHEDULER_TIMEOUT_S", 1)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


def _never_called(cell: dict) -> dict:
    raise AssertionError("no cell may run without a scheduler")


def test_the_page_shows_the_timeout_the_code_has():
    assert sweep.SCHEDULER_TIMEOUT_S == SHOWN_TIMEOUT
    assert f"stops after {SHOWN_TIMEOUT} seconds" in PAGE.read_text()


def test_an_unreachable_scheduler_fails_before_any_run_naming_the_address(closed_address, tmp_path):
    with pytest.raises(ConnectionError, match=re.escape(f"expected a dask scheduler at '{closed_address}'")):
        sweep.run_sweep(
            [{"seed": 0}],
            _never_called,
            output_dir=tmp_path,
            backend="dask",
            scheduler=closed_address,
            progress=False,
        )
    assert list(tmp_path.glob("*.json")) == []


def test_the_command_prints_the_pages_message(closed_address, tmp_path):
    (shown,) = re.findall(r"```text\n(cbreservoir reproduce: failed: .*?)\n```", PAGE.read_text(), flags=re.S)
    expected = shown.replace(SHOWN_ADDRESS, closed_address).replace(f" {SHOWN_TIMEOUT} s", " 1 s")
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        code = main(
            [
                "reproduce",
                "--task",
                "dms",
                "--profile",
                "quick",
                "--seeds",
                "1",
                "--conditions",
                "cbrnn",
                "--backend",
                "dask",
                "--scheduler",
                closed_address,
                "--output-dir",
                str(tmp_path / "out"),
                "--quiet",
            ]
        )
    assert code == 1
    assert errors.getvalue().strip() == expected
