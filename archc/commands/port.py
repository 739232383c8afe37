"""``archc port CHECKPOINT --from A --to B -o OUT.pt``: move a state_dict saved for spec A onto spec B."""

from __future__ import annotations

import argparse
import sys

from ._common import EXIT_OK, add_limit_option, limits, setting_arg, shape_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "port", help="move a checkpoint's weights from spec A onto spec B (a variant): a report of every tensor",
        description="Read CHECKPOINT, a state_dict saved for spec A (with torch.load(weights_only=True): no pickled "
                    "code runs), and write a complete state_dict for spec B that loads with strict=True into "
                    "archc.build(B). Tensors are copied unchanged where the module path matches (numbered layers "
                    "aligned as `archc diff` aligns them), then where modules left on both sides match by "
                    "structure; B's tensors left keep B's initialisation (new), A's are dropped. The report lists "
                    "every tensor that did not stay under its own name.")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a state_dict saved with torch.save (.pt, .pth)")
    p.add_argument("--from", dest="source", required=True, metavar="SPEC_A",
                   help="the spec the checkpoint was saved from (a file or a shipped name)")
    p.add_argument("--to", dest="target", required=True, metavar="SPEC_B",
                   help="the spec to port onto (a file or a shipped name), typically a variant of SPEC_A")
    p.add_argument("-o", "--output", required=True, metavar="OUT.pt",
                   help="where to write B's state_dict (written whole or not at all)")
    p.add_argument("--strict", action="store_true",
                   help="fail (exit 2) unless every new or dropped tensor lies in an entry SPEC_B declares with "
                        "replace: or drop:")
    p.add_argument("--key", metavar="NAME",
                   help="the entry of a training checkpoint that holds the state_dict, e.g. --key model")
    p.add_argument("--all", action="store_true", help="list every tensor, also those copied under their own name")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="the report: text (default) or json (every tensor)")
    for side, name in (("from", "SPEC_A"), ("to", "SPEC_B")):
        p.add_argument(f"--set-{side}", action="append", type=setting_arg, metavar="NAME=VALUE",
                       help=f"override a parameter of {name} (repeatable), e.g. --set-{side} num_classes=10")
    p.add_argument("--input", type=shape_arg, metavar="CxHxW", help="override the input shape of both specs")
    add_limit_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._torch import require_torch
    from ..ir.params import SetValue
    from ..output import write_output
    from ..porting import port

    require_torch("archc port")  # before reading anything: say what is missing first
    budget = limits(args)
    result = port(args.checkpoint, args.source, args.target, strict=args.strict, key=args.key, input=args.input,
                  limits=budget, what="archc port",
                  source_overrides={k: SetValue(v) for k, v in args.set_from or []},
                  target_overrides={k: SetValue(v) for k, v in args.set_to or []})
    path = write_output(args.output, result.to_bytes(), inputs=result.files)
    sys.stdout.write(result.render(args.format, every=args.all))
    print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK
