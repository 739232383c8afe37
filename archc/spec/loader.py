"""Loading a spec and everything it refers to: ``extends`` bases and ``imports``.

``load("resnet50")`` finds a shipped spec by name; ``load("net.yaml")`` reads a file.
A spec also comes as text (a ``str`` holding a line break, or ``text=``: named
``<string>``, or ``<stdin>`` for ``archc table -``) or as a mapping such as
``yaml.safe_load`` returns (dumped to YAML text named ``<dict>``, so that errors
point at a line of that text, which they show).
Paths in ``extends:`` and ``imports:`` are relative to the file that names them,
or to the working directory for a spec given as text or a mapping (a bare name
such as ``_resnet.yaml`` also finds a shipped file). Each file is read
once per load; cycles of imports or bases are errors, as are missing files and
names that clash (a block named like an op, a parameter named like a block).
"""

from __future__ import annotations

import numbers
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from ..diagnostics import Note, Reporter, Span, did_you_mean
from ..limits import Limits
from . import model as m
from .parser import Parser
from .source import parse_yaml


@dataclass(frozen=True, eq=False)
class BlockRef:
    """A block as a value: its definition and the unit it was defined in."""

    name: str
    defn: m.BlockDef
    unit: Unit

    type_name = "block"

    def __repr__(self) -> str:
        return self.name


@dataclass(eq=False)
class Unit:
    """One loaded spec file: its model and the blocks visible in it (own and imported)."""

    spec: m.Spec
    path: Path
    blocks: dict[str, BlockRef] = field(default_factory=dict)


@dataclass
class Program:
    """A loaded spec, ready to lower: the unit whose layers define the network, and
    what the extends chain (leaf first) changed about it."""

    unit: Unit
    leaf: m.Spec
    chain: list[m.Spec]  # leaf, its base, the base's base...
    sources: dict[str, str]
    files: list[Path] = field(default_factory=list)  # every file read (outputs must not overwrite them)

    @property
    def name(self) -> str:
        return self.leaf.name

    @property
    def class_name(self) -> tuple[str, Span] | None:
        """The network class's name as a spec of the extends chain gives it (leaf first)."""
        for spec in self.chain:
            if spec.class_name is not None:
                return spec.class_name, spec.class_span or spec.span
        return None

    @property
    def doc(self) -> str:
        for spec in self.chain:
            if spec.doc:
                return spec.doc
        return ""

    @property
    def input(self) -> tuple[tuple[int, ...], Span] | None:
        for spec in self.chain:
            if spec.input is not None:
                return spec.input, spec.input_span or spec.span
        return None

    def param_defaults(self) -> list[tuple[m.ParamDecl, m.Code | None]]:
        """Declared params with the default that wins along the extends chain."""
        out = []
        for decl in self.unit.spec.params:
            default = decl.default
            for spec in reversed(self.chain[:-1]):  # from the base's child down to the leaf
                for d in spec.params:
                    if d.name == decl.name and d.default is not None:
                        default = d.default
            out.append((decl, default))
        return out

    @property
    def train_outputs(self) -> tuple[m.Ref, ...]:
        for level, spec in enumerate(self.chain):
            if spec.train_outputs:
                # a head that a variant below the spec that ordered the heads drops is no longer there
                dropped = {d.name for later in self.chain[:level] for d in later.drop}
                return tuple(ref for ref in spec.train_outputs if ref.name not in dropped)
        return ()

    @property
    def edits(self) -> list[tuple[str, str, Span]]:
        """What the variants of the chain replace or drop in their base: ``(kind, path, span)``,
        base-most first (``kind`` is ``replace`` or ``drop``)."""
        from .edit import edited_paths

        return edited_paths(list(reversed(self.chain[:-1])))

    @property
    def freeze(self) -> m.Freeze | None:
        """What is frozen: the leaf-most spec's ``freeze:`` (a variant's replaces its base's)."""
        for spec in self.chain:
            if spec.freeze is not None:
                return spec.freeze
        return None

    @property
    def init(self) -> m.InitSpec | None:
        for spec in self.chain:
            if spec.init is not None:
                return spec.init
        return None


def shipped_dir() -> Path:
    """Where the shipped specs live: inside the installed package (wheel), or the repo's specs/."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "specs", here.parent / "specs"):
        if candidate.is_dir():
            return candidate
    return here / "specs"


def shipped_names() -> list[str]:
    """Names of the shipped networks (files starting with '_' hold shared definitions), in
    natural order: resnet18 before resnet101, vgg11 before vgg11_bn before vgg13."""
    names = [p.stem for p in shipped_dir().glob("*.yaml") if not p.name.startswith("_")]
    return sorted(names, key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n)])


def resolve_spec(name: str | os.PathLike[str]) -> Path | None:
    """A spec argument as a file: an existing path, or a shipped spec's name."""
    path = Path(name)
    if path.is_file():
        return path
    text = str(name)
    if os.sep not in text and "/" not in text:
        stem = text[:-5] if text.endswith(".yaml") else text
        shipped = shipped_dir() / f"{stem}.yaml"
        if shipped.is_file():
            return shipped
    return None


def display_name(path: Path) -> str:
    """How a file is named in diagnostics: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        if path.resolve().parent == shipped_dir().resolve():
            return f"specs/{path.name}"
        return str(path)


class Loader:
    def __init__(self, reporter: Reporter, limits: Limits | None = None, *, strict_yaml: bool = False):
        self.r = reporter
        self.limits = limits or Limits()
        self.strict_yaml = strict_yaml  # flow items only archc reads as one: errors, not warnings
        self.units: dict[Path, Unit | None] = {}
        self.loading: list[Path] = []  # files being loaded, for cycle detection

    def program(self, name: SpecSource | None, text: str | None = None) -> Program:
        """Load a spec (by path or shipped name, from YAML text or from a mapping; or from
        ``text``, named ``name``) and its bases and imports."""
        if text is None and isinstance(name, Mapping):
            text, name = self._dump(name), DICT_NAME
            self.r.check()
        elif text is None and is_text(name):
            text, name = str(name), TEXT_NAME
        if text is not None:
            path = Path(TEXT_NAME if name is None else name)  # type: ignore[arg-type]
        elif name is None:
            raise TypeError("load() needs a spec: a path, a shipped name, YAML text or a mapping")
        elif not isinstance(name, (str, os.PathLike)):
            raise TypeError(f"a spec is a path, a shipped name, YAML text or a mapping, not {type(name).__name__}")
        else:
            found = resolve_spec(name)
            if found is None and Path(name).is_dir():
                self.r.error("E100", f"'{name}' is a directory, not a spec file", None,
                             "pass a .yaml file, or a shipped name (`archc list` shows them)")
                self.r.check()
            if found is None:
                best = did_you_mean(Path(str(name)).stem, shipped_names())
                hint = f"did you mean '{best}'?" if best else "pass a path to a .yaml file, or a shipped name " \
                                                             "(`archc list` shows them)"
                if _looks_like_yaml(str(name)):
                    hint = ("a spec's text on one line is taken for a file name: pass it as archc.loads(text) "
                            "in Python, or on standard input as `archc table -`")
                self.r.error("E100", f"no spec file or shipped spec named '{name}'", None, hint)
                self.r.check()
            path = found  # type: ignore[assignment]
        unit = self.unit(path, text=text)
        self.r.check()
        assert unit is not None
        chain = [unit.spec]
        root = unit
        seen = [path.resolve()]
        while root.spec.extends is not None:
            ref = root.spec.extends
            if not _is_spec_name(ref.name):
                self.r.error("E307", f"'{ref.name}' is not a spec file name", ref.span, _SPEC_NAME_HINT)
                break
            base_path = self._find(ref.name, root.path)
            if base_path is None:
                self.r.error("E307", f"cannot find the base spec '{ref.name}'", ref.span,
                             "paths in `extends:` are relative to this file")
                break
            if base_path.resolve() in seen:
                cycle = " → ".join(p.name for p in [*seen, base_path])
                self.r.error("E307", f"extends cycle: {cycle}", ref.span)
                break
            seen.append(base_path.resolve())
            base = self.unit(base_path, via=ref.span)
            if base is None:
                break
            chain.append(base.spec)
            root = base
        self.r.check()
        variants = [spec for spec in reversed(chain[:-1]) if spec.replace or spec.drop]  # base-most first
        if variants and root.spec.layers is not None:
            from .edit import apply_edits

            layers = apply_edits(root.spec.layers, variants, self.r, root.spec.span)
            self.r.check()
            # a unit of its own (the base's stays as loaded, for other specs that use it)
            root = Unit(root.spec.model_copy(update={"layers": layers}), root.path, root.blocks)
        program = Program(root, unit.spec, chain, self.r.sources,
                          [p for p in self.units if not str(p).startswith("<text:")])
        self._check_overrides(program)
        self.r.check()
        return program

    def _find(self, name: str, importer: Path) -> Path | None:
        candidate = (importer.parent / name)
        if candidate.is_file():
            # a symbolic link named x.yaml must lead to a spec file too
            return candidate if _is_spec_name(candidate.resolve().name) else None
        if "/" not in name and os.sep not in name:
            shipped = shipped_dir() / name
            if shipped.is_file():
                return shipped
        return None

    def unit(self, path: Path, *, text: str | None = None, via: Span | None = None) -> Unit | None:
        key = path.resolve() if text is None else Path(f"<text:{path}>")
        if key in self.units:
            return self.units[key]
        if key in self.loading:
            cycle = " → ".join(p.name for p in [*self.loading[self.loading.index(key):], key])
            self.r.error("E307", f"import cycle: {cycle}", via)
            return None
        name = display_name(path) if text is None else str(path)
        if text is None:
            text = self._read(path, name, via)
            if text is None:
                self.units[key] = None
                return None
        root = parse_yaml(name, text, self.r, max_bytes=self.limits.max_bytes, max_depth=self.limits.max_depth,
                          strict_yaml=self.strict_yaml)
        try:
            spec = Parser(name, self.r, self.limits).spec(root) if root is not None or not self.r.errors else None
        except RecursionError:  # only with a raised max_depth: Python's stack ran out first
            self.r.error("E103", "the spec nests too deeply for archc to read", Span(name, 1, 1, 1, 2),
                         f"nest less deeply (max_depth is {self.limits.max_depth:,}, more than Python's stack allows)")
            spec = None
        if spec is None:
            self.units[key] = None
            return None
        unit = Unit(spec, path)
        self.loading.append(key)
        try:
            for block in spec.blocks:
                unit.blocks[block.name] = BlockRef(block.name, block, unit)
            self._imports(unit)
            self._check_names(unit)
        finally:
            self.loading.pop()
        self.units[key] = unit
        return unit

    def _read(self, path: Path, name: str, via: Span | None) -> str | None:
        """The text of a spec file, or None after reporting why it cannot be read. At most
        ``max_bytes`` are read, whatever the file claims to hold (pipes, /proc files)."""
        try:
            with path.open("rb") as handle:
                data = handle.read(self.limits.max_bytes + 1)
        except OSError as err:
            what = "it is a directory" if path.is_dir() else (err.strerror or str(err))
            self.r.error("E100", f"cannot read '{name}': {what}", via,
                         "pass a spec file" if path.is_dir() else "check the path and its permissions")
            return None
        return self.decode(data, name, via)

    def decode(self, data: bytes, name: str, via: Span | None = None) -> str | None:
        """``data`` (at most ``max_bytes`` and one more) as text, or None after reporting why it is
        not a spec's text: too large, or not UTF-8 (located at the first bad byte)."""
        limit = self.limits.max_bytes
        if len(data) > limit:
            self.r.error("E102", f"'{name}' is larger than the limit of {limit:,} bytes", via or Span(name, 1, 1, 1, 2),
                         "split the spec into files with `imports:`, or raise the limit with --limit max_bytes=N")
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as err:
            # locate the first bad byte: its line, and its column in characters
            line = data.count(b"\n", 0, err.start) + 1
            start = data.rfind(b"\n", 0, err.start) + 1
            col = len(data[start:err.start].decode("utf-8", "replace")) + 1
            self.r.sources[name] = data[: err.start].decode("utf-8")
            self.r.error("E100", f"'{name}' is not UTF-8 text (byte 0x{data[err.start]:02x}: {err.reason})",
                         Span(name, line, col, line, col + 1),
                         "save the file as UTF-8; a spec is a text file",
                         [Note("read because of this line", via)] if via else ())
            return None

    def _dump(self, spec: Mapping[Any, Any]) -> str | None:
        """A mapping as YAML text in block style, one key or item a line, so that an error's
        line and excerpt show where it is. Values YAML cannot hold are reported by key path."""
        try:
            plain = _plain(spec, "spec", self.r, self.limits.max_depth, [])
            if self.r.errors:
                return None
            return yaml.dump(plain, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                             width=2**30)
        except RecursionError:  # only with a raised max_depth: Python's stack ran out first
            self.r.error("E103", "the mapping nests too deeply for archc to read", None,
                         f"nest less deeply (max_depth is {self.limits.max_depth:,}, more than Python's stack allows)")
            return None

    def _imports(self, unit: Unit) -> None:
        for imp in unit.spec.imports:
            if not _is_spec_name(imp.path):
                self.r.error("E307", f"'{imp.path}' is not a spec file name", imp.span, _SPEC_NAME_HINT)
                continue
            target = self._find(imp.path, unit.path)
            if target is None:
                self.r.error("E307", f"cannot find the imported file '{imp.path}'", imp.span,
                             "paths in `imports:` are relative to this file")
                continue
            other = self.unit(target, via=imp.span)
            if other is None:
                continue
            for ref in imp.blocks:
                block = other.blocks.get(ref.name)
                if block is None:
                    best = did_you_mean(ref.name, other.blocks)
                    self.r.error("E307", f"'{imp.path}' defines no block '{ref.name}'", ref.span,
                                 f"did you mean '{best}'?" if best else
                                 f"it defines: {', '.join(other.blocks) or 'no blocks'}")
                    continue
                if ref.name in unit.blocks and unit.blocks[ref.name] is not block:
                    self.r.error("E303", f"block '{ref.name}' is both imported and defined here", ref.span,
                                 notes=[Note("defined here", unit.blocks[ref.name].defn.name_span)])
                    continue
                unit.blocks[ref.name] = block

    def _check_names(self, unit: Unit) -> None:
        from ..ops import registry

        ops = registry()
        for block in unit.spec.blocks:
            if block.name in ops:
                self.r.error("E303", f"block '{block.name}' has the name of an op", block.name_span,
                             f"rename the block, e.g. '{block.name[:1].upper()}{block.name[1:]}Block'")
            seen: set[str] = set()
            for p in block.params:
                if p.name in seen:
                    self.r.error("E303", f"parameter '{p.name}' declared twice", p.span)
                seen.add(p.name)
        for p in unit.spec.params:
            if p.name in unit.blocks:
                self.r.error("E303", f"parameter '{p.name}' has the name of a block", p.span, "rename one of them")

    def _check_overrides(self, program: Program) -> None:
        declared = {p.name for p in program.unit.spec.params}
        for spec in program.chain[:-1]:
            for p in spec.params:
                if p.name not in declared:
                    self.r.error("E309", f"'{p.name}' is not a parameter of the base spec", p.span,
                                 (f"did you mean '{did_you_mean(p.name, declared)}'?" if did_you_mean(p.name, declared)
                                  else f"the base declares: {', '.join(sorted(declared)) or 'no parameters'}"))
                elif p.type is not None:
                    self.r.error("E204", f"'{p.name}' is declared in the base spec; a variant only sets its value",
                                 p.span)


# What a spec that is not a file is called in diagnostics (and ``Program.file``).
TEXT_NAME, DICT_NAME, STDIN_NAME = "<string>", "<dict>", "<stdin>"

SpecSource = str | os.PathLike[str] | Mapping[str, Any]


def is_text(spec: object) -> bool:
    """Whether a ``str`` given for a spec is YAML text rather than a path or shipped name: it
    holds a line break. No shipped name does, and a file whose name does (a rarity no shell
    makes easy) is passed as a ``pathlib.Path``, which is always a path."""
    return isinstance(spec, str) and ("\n" in spec or "\r" in spec)


def _looks_like_yaml(name: str) -> bool:
    return name.lstrip().startswith(("{", "archc:")) or ": " in name


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a value used twice is written out twice: specs refuse aliases (E104)


_SCALARS = (str, bool, type(None))


def _plain(value: Any, path: str, r: Reporter, max_depth: int, parents: list[int]) -> Any:
    """``value`` as the plain types YAML writes (dict, list, str, int, float, bool, None): tuples
    become lists, numbers such as ``numpy.int64`` Python numbers. Anything else, a mapping or list
    that contains itself, or nesting beyond ``max_depth``, is reported at its key path."""
    if isinstance(value, _SCALARS):
        return str(value) if isinstance(value, str) else value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if not isinstance(value, (Mapping, list, tuple)):
        r.error("E202", f"{path} is a {type(value).__name__}; a spec holds mappings, lists, strings, numbers, "
                        "booleans and null", None, "write the value as one of those (a layer as a string such as "
                                                   "'conv(64, 3)')")
        return None
    if id(value) in parents:
        r.error("E104", f"{path} contains itself", None, "a spec is a tree: write the value out where it is used")
        return None
    if len(parents) >= max_depth:
        r.error("E103", f"{path} nests more than {max_depth} levels deep", None,
                "nest less deeply, or raise the limit with limits=Limits(max_depth=N)")
        return None
    parents.append(id(value))
    try:
        if isinstance(value, Mapping):
            out = {}
            for key, item in value.items():
                if not isinstance(key, _SCALARS + (numbers.Real,)):
                    r.error("E202", f"a key of {path} is a {type(key).__name__}; keys are strings", None,
                            "write the key as a string")
                    continue
                out[_plain(key, path, r, max_depth, parents)] = _plain(item, f"{path}[{key!r}]", r, max_depth,
                                                                       parents)
            return out
        return [_plain(item, f"{path}[{i}]", r, max_depth, parents) for i, item in enumerate(value)]
    finally:
        parents.pop()


def read_stdin(limits: Limits | None = None) -> str:
    """The spec on standard input (``archc table -``), at most ``max_bytes`` of UTF-8 text; raises
    :class:`~archc.diagnostics.ArchcError` when there is none to read (a terminal would wait)."""
    import sys

    r = Reporter()
    loader = Loader(r, limits)
    text = None
    try:
        handle: BinaryIO | None = getattr(sys.stdin, "buffer", None)
        if handle is None:
            r.error("E100", "standard input is closed: there is no spec to read", None,
                    "pipe or redirect a spec into it, e.g. `archc table - < net.yaml`")
        elif handle.isatty():
            r.error("E100", "standard input is a terminal, not a spec", None,
                    "pipe or redirect a spec into it, e.g. `archc table - < net.yaml`, or pass a file name")
        else:
            text = loader.decode(handle.read(loader.limits.max_bytes + 1), STDIN_NAME)
    except (OSError, ValueError) as err:  # ValueError: a closed file
        r.error("E100", f"cannot read standard input: {getattr(err, 'strerror', None) or err}", None,
                "pipe or redirect a spec into it, e.g. `archc table - < net.yaml`")
    r.check()
    assert text is not None
    return text


_SPEC_NAME_HINT = ("imports and bases are .yaml (or .yml) files; a spec cannot make archc read other files, "
                   "whose lines an error message would show")


def _is_spec_name(name: str) -> bool:
    """Only spec files can be imported or extended: a spec from elsewhere must not be able to make
    archc read (and quote, in an error) /proc/self/environ, ~/.ssh/id_rsa or a .env file."""
    return name.lower().endswith((".yaml", ".yml"))


def load(spec: SpecSource | None, *, text: str | None = None, limits: Limits | None = None,
         reporter: Reporter | None = None, strict_yaml: bool = False) -> Program:
    """Load a spec by path or shipped name, from YAML text or a mapping (see :meth:`Loader.program`);
    raise :class:`~archc.diagnostics.ArchcError` on errors."""
    r = reporter or Reporter()
    return Loader(r, limits, strict_yaml=strict_yaml).program(spec, text=text)


__all__ = ["DICT_NAME", "STDIN_NAME", "TEXT_NAME", "BlockRef", "Loader", "Program", "SpecSource", "Unit", "is_text",
           "load", "read_stdin", "resolve_spec", "shipped_dir", "shipped_names"]
