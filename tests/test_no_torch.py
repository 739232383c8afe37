"""`archc validate`, `table` and `schema` never import torch (it costs seconds and hundreds of MB)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from archc.cli import main
codes = [main(["validate", "resnet50", "googlenet"]), main(["table", "resnet50", "--format", "json"]),
         main(["table", "googlenet", "--depth", "2"]), main(["schema"])]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "numpy", "graphviz"))
print("CODES", codes, "HEAVY", heavy)
"""


def test_validate_and_table_do_not_import_torch() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "CODES [0, 0, 0, 0] HEAVY []" in proc.stdout, proc.stdout[-500:]
