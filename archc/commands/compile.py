"""``archc compile SPEC``: write a self-contained PyTorch module for the spec."""

from __future__ import annotations

import argparse
import sys

from ._common import EXIT_OK, STDIN, add_spec_options, limits, overrides, spec_source


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compile", help="write PyTorch source for the spec (one class per block)",
                       description="Write a self-contained Python module that builds the network: one nn.Module "
                                   "class per block definition, a top-level class named after the spec, and a "
                                   "build() function. It imports only torch. archc.build() executes exactly this "
                                   "source.")
    p.add_argument("spec", metavar="SPEC", help="a spec file or a shipped spec name; - reads a spec from stdin")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="where to write the module (default: <spec name>.py, or <spec name>_inference.py with "
                        "--inference, in the current directory; '-' for stdout)")
    p.add_argument("--inference", action="store_true",
                   help="the inference variant: batch norms folded into the convolutions before them, dropout and "
                        "training-only heads removed, with fold_state_dict() to load the plain network's weights")
    add_spec_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..api import compile_source, load
    from ..output import write_output

    budget = limits(args)
    program = spec_source(args.spec, budget) if args.spec == STDIN else load(args.spec, limits=budget)
    source = compile_source(program, input=args.input, inference=args.inference, limits=budget, **overrides(args))
    target = args.output or f"{program.name}{'_inference' if args.inference else ''}.py"
    if target == "-":
        sys.stdout.write(source)
        return EXIT_OK
    path = write_output(target, source, inputs=program.files)
    print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK
