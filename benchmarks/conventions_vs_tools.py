"""archc's counting conventions side by side with the tools they name, on shipped specs.

    python benchmarks/conventions_vs_tools.py [SPEC ...]      # default: resnet50 googlenet

For each spec: archc's totals (computed without torch, from the graph) in every
convention, then the tools' own totals on ``archc.build(spec).eval()`` with a batch
of one at the spec's input: torchvision's published ``_ops`` where the reference
fixture has it, ``fvcore.nn.FlopCountAnalysis(model, x).total()``,
``ptflops.get_model_complexity_info(model, shape, as_strings=False)`` (default
pytorch backend) and ``FlopCounterMode().get_total_flops()``. Prints a Markdown
table for docs/counting.md; exits 1 if a tool disagrees with its convention.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("specs", nargs="*", default=["resnet50", "googlenet"])
    args = parser.parse_args()

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    import archc
    from tests.measure import fvcore_total, ptflops_total

    reference = json.loads((ROOT / "tests" / "fixtures" / "torchvision_reference.json").read_text())["models"]
    print("| spec | convention | archc | tool | tool's figure |")
    print("|---|---|---:|---|---:|")
    failed = False
    for name in args.specs:
        report = archc.analyze(name)
        costs = report.totals.costs
        model = archc.build(name).eval()
        x = torch.randn(1, *report.input_shape)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(x)
        tools = {
            "macs": ("torchvision `_ops` (exact, tests/fixtures)", reference.get(name, {}).get("macs")),
            "flops": ("`FlopCounterMode`", counter.get_total_flops()),
            "fvcore": ("`fvcore` `FlopCountAnalysis.total()`", fvcore_total(model, [x])),
            "ptflops": ("`ptflops` `get_model_complexity_info`", ptflops_total(model, [report.input_shape])),
            "all": ("(archc only)", None),
        }
        for convention, (tool, figure) in tools.items():
            shown = f"{figure:,}" if figure is not None else "–"
            print(f"| {name} | `{convention}` | {costs[convention]:,} | {tool} | {shown} |")
            failed |= figure is not None and figure != costs[convention]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
