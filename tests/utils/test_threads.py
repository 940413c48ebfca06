"""Scoped torch thread counts restore the caller's setting."""

import pytest
import torch

from cbreservoir.utils.threads import torch_threads


def test_block_and_decorator_restore_the_callers_thread_count():
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with torch_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2

        @torch_threads(1)
        def inside() -> int:
            raise RuntimeError(torch.get_num_threads())

        with pytest.raises(RuntimeError, match="1"):
            inside()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (0, ValueError, "n_jobs must be None, -1 or an int in \\[1, .*got 0"),
        (-2, ValueError, "n_jobs must be None, -1 or an int in \\[1, .*got -2"),
        (2**31 - 1, ValueError, "this machine.s cores"),  # issue 34: OpenMP would end the process
        (1.5, TypeError, "n_jobs must be an int"),
        (True, TypeError, "n_jobs must be an int"),
        ("2", TypeError, "n_jobs must be an int"),
    ],
)
def test_bad_thread_counts_are_refused(bad, error, message):
    with pytest.raises(error, match=message), torch_threads(bad):
        pass
