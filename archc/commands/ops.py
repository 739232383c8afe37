"""``archc ops``: every op a spec can use, with its arguments and the PyTorch module it becomes.

``--format markdown`` prints the op reference, docs/ops.md. It lives here, not beside the
registry in archc/ops, because it runs the whole pipeline: each op's example is lowered and
emitted for real, so the shape and the PyTorch line shown are what archc computes and writes,
and the page cannot drift from the code (tests/test_docs.py compares docs/ops.md with it).
"""

from __future__ import annotations

import argparse
import sys

from ..ops import registry
from ..ops.base import Op, fmt_shape
from ..ops.registry import describe
from ._common import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ops", help="the ops a spec can use, with their arguments",
                       description="List every registered op: arguments with defaults, the PyTorch module it "
                                   "becomes. --format markdown prints the op reference (docs/ops.md), with an "
                                   "example of each op lowered and emitted by archc.")
    p.add_argument("--format", choices=("text", "markdown"), default="text",
                   help="text (one line per op, the default) or markdown (the full reference)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(markdown() if args.format == "markdown" else text())
    return EXIT_OK


def signature(op: Op) -> str:
    parts = [k if v is ... else f"{k}={_show(v)}" for k, v in describe(op).items()]
    return f"{op.name}({', '.join(parts)})" if parts else op.name


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    return repr(value)


def text() -> str:
    lines = []
    for op in registry():
        aliases = f"  (also: {', '.join(op.aliases)})" if op.aliases else ""
        target = op.torch_class or {"concat": "torch.cat", "add": "+", "mul": "*"}.get(op.name, "")
        lines.append(f"{signature(op)}  -> {target}  [{op.family}]{aliases}")
    return "\n".join(lines) + "\n"


def _example(op: Op) -> tuple[str, str, str]:
    """(YAML entry, output shape, PyTorch line) of the op's example, made by archc itself."""
    from ..api import analyze, compile_source, load  # the pipeline, only for --format markdown

    call, shape = op.example
    if op.arity is None:  # a merge: join two named layers with `from:`
        entry = f"x: {{from: [a, b], merge: {op.name}}}"
        layers = ["  - a: identity", "  - b: identity", f"  - {entry}"]
    else:
        entry = f"x: {call}"
        layers = [f"  - {entry}"]
    text = "\n".join(["archc: 1", "name: example", f"input: {list(shape)}", "layers:", *layers]) + "\n"
    program = load("example.yaml", text=text)
    report = analyze(program)
    source = compile_source(program)
    if op.arity is None:
        line = next(ln.strip() for ln in source.splitlines() if "torch.cat" in ln
                    or ((" + " in ln or " * " in ln) and "=" in ln))
    else:
        line = next(ln.strip() for ln in source.splitlines() if ln.strip().startswith("self.x = "))
    row = next(r for r in report.rows if r.path == "x") if op.arity == 1 else None
    out = fmt_shape(row.shape if row else report.output_shape)
    return f"- {entry}", out, line


def _md(doc: str) -> str:
    """A module docstring as Markdown: ``code`` to `code`, ``text::`` blocks to fenced code."""
    out: list[str] = []
    lines = doc.replace("``", "`").split("\n")
    k = 0
    while k < len(lines):
        line = lines[k]
        if line.rstrip().endswith("::"):
            label = line.rstrip()[:-2]
            if label.strip():
                out.append(label.rstrip() + ":")
            k += 1
            block: list[str] = []
            while k < len(lines) and (not lines[k].strip() or lines[k].startswith("    ")):
                block.append(lines[k][4:])
                k += 1
            while block and not block[-1].strip():
                block.pop()
            while block and not block[0].strip():
                block.pop(0)
            lang = "yaml" if label.strip().lower().startswith("yaml") else ""
            out += ["", f"```{lang}", *block, "```", ""]
            continue
        out.append(line)
        k += 1
    text = "\n".join(out)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()


def markdown() -> str:
    families: dict[str, list[Op]] = {}
    for op in registry():
        families.setdefault(type(op).__module__, []).append(op)
    out = ["# Ops", "",
           "Every op a spec can call, by family: its arguments (in positional order, with defaults), the",
           "PyTorch it becomes, and an example that archc lowered and emitted to write this page",
           "(`archc ops --format markdown` regenerates it). Sizes that follow from the input are never",
           "written: they are inferred. See [language.md](language.md) for how calls are written.", ""]
    for module, ops in families.items():
        doc = (sys.modules[module].__doc__ or "").strip()
        title, _, body = doc.partition("\n")
        out += [f"## {_md(title.split(':')[0])}", "", _md(body), ""]
        for op in ops:
            aliases = f" (also {', '.join(f'`{a}`' for a in op.aliases)})" if op.aliases else ""
            target = f"`{op.torch_class}`" if op.torch_class else {"concat": "`torch.cat`", "add": "`+`",
                                                                   "mul": "`*`"}[op.name]
            entry, shape, line = _example(op)
            out += [f"### `{op.name}`{aliases}", "",
                    f"`{signature(op)}` → {target}", "",
                    "```yaml", f"{entry}    # input {fmt_shape(op.example[1])} → {shape}", "```", "",
                    "becomes", "", "```python", line, "```", ""]
    return "\n".join(out).rstrip() + "\n"
