"""archc diff stays fast on long lists: aligning them by content is quadratic, so long ones are matched by path."""

from __future__ import annotations

import archc
from archc.analysis.diff import ALIGN_BUDGET, diff_reports
from tests.test_fuzz import hang_guard


def test_two_long_sequentials_are_compared_without_quadratic_alignment() -> None:
    # 2 x 20,000 layers: aligning them by content took a minute
    head = "archc: 1\nname: t\ninput: [3, 8, 8]\nlayers:\n"
    a = archc.analyze(archc.load("a.yaml", text=head + "  - {repeat: 10000, each: [conv(3, 1), relu]}\n"))
    b = archc.analyze(archc.load("b.yaml", text=head + "  - {repeat: 10000, each: [relu, conv(3, 1)]}\n"))
    assert len(a.rows) * len(b.rows) > ALIGN_BUDGET
    with hang_guard(20):
        diff = diff_reports(a, b)
    assert len(diff.rows) >= 20_000
