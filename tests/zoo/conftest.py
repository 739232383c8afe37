"""What every zoo test shares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """These networks are small at these sizes: a second intra-op thread gains little, and on a
    shared machine its spinning waits cost several times the work (measured: 103 s of CPU for
    test_torchvision.py with two threads, 33 s with one, at a load average of 10 to 12 on 2 cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
