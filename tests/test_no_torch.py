"""torch is optional (``pip install "archc[torch]"``): every command but ``bench`` and ``port`` works
without it, and what needs it (``archc bench``, ``archc port``, ``archc.build``) says so with E810 and
the install line.

Two checks, each in a fresh interpreter: with torch installed, the torch-free commands never
import it (it costs seconds and hundreds of MB); with torch made unimportable (as in an
environment where it is not installed), they all still succeed and the others fail cleanly.
tests/test_packaging.py does the same from a wheel installed in an environment without torch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# The commands a plain `pip install archc` must run, with what each needs to write (under OUT).
TORCH_FREE = [
    ["validate", "resnet50", "googlenet"],
    ["table", "resnet50", "--format", "json"],
    ["table", "googlenet", "--depth", "2", "--count", "all", "--columns", "all"],
    ["table", "resnet18", "--format", "html"],
    ["diff", "resnet18", "resnet34"],
    ["compile", "resnet50", "-o", "OUT/resnet50.py"],
    ["compile", "googlenet", "--inference", "-o", "OUT/googlenet_inference.py"],
    ["diagram", "resnet50", "--depth", "2", "--format", "dot", "-o", "OUT/resnet50.dot"],
    ["list"],
    ["ops"],
    ["schema", "-o", "OUT/archc.schema.json"],
]

SCRIPT = """
import contextlib, io, json, sys
if sys.argv[1] == "block":
    sys.modules["torch"] = None  # `import torch` now raises ModuleNotFoundError, as where it is not installed
from archc.cli import main
results = []
def heavy():
    return {m.split(".")[0] for m, v in sys.modules.items() if v is not None
            and m.split(".")[0] in ("torch", "numpy", "graphviz")}
for argv in json.loads(sys.argv[2]):
    out, err, before = io.StringIO(), io.StringIO(), heavy()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    results.append({"argv": argv, "code": code, "out": out.getvalue(), "err": err.getvalue(),
                    "heavy": sorted(heavy() - before)})
if sys.argv[1] == "block":
    import archc
    try:
        archc.build("lenet5")
    except archc.ArchcError as e:
        results.append({"argv": ["archc.build('lenet5')"], "code": 2, "out": "", "err": str(e), "heavy": []})
print(json.dumps(results))
"""


def run(mode: str, commands: list[list[str]], out: Path) -> list[dict]:
    commands = [[a.replace("OUT", str(out)) for a in argv] for argv in commands]
    proc = subprocess.run([sys.executable, "-c", SCRIPT, mode, json.dumps(commands)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def check_torch_free(results: list[dict], out: Path) -> None:
    for r in results:
        assert r["code"] == 0 and "error" not in r["err"] and "Traceback" not in r["err"], (r["argv"], r["err"])
    by = {" ".join(r["argv"][:2]): r for r in results}
    assert json.loads(by["table resnet50"]["out"])["totals"]["params"] == 25_557_032
    assert "25,557,032" in by["list"]["out"] and "conv" in by["ops"]["out"]
    assert "<table" in by["table resnet18"]["out"] and "layer1" in by["diff resnet18"]["out"]
    assert "class Bottleneck(nn.Module):" in (out / "resnet50.py").read_text(encoding="utf-8")
    assert "def fold_state_dict" in (out / "googlenet_inference.py").read_text(encoding="utf-8")
    assert (out / "resnet50.dot").read_text(encoding="utf-8").startswith("digraph")
    assert json.loads((out / "archc.schema.json").read_text(encoding="utf-8"))["title"]


def test_the_torch_free_commands_do_not_import_torch(tmp_path: Path) -> None:
    results = run("watch", TORCH_FREE, tmp_path)
    check_torch_free(results, tmp_path)
    for r in results:  # what each command imported that none before it had; only diagram needs graphviz
        allowed = ["graphviz"] if r["argv"][0] == "diagram" else []
        assert r["heavy"] in ([], allowed), f"`archc {' '.join(r['argv'])}` imported {r['heavy']}"


def test_without_torch_every_command_works_or_says_how_to_install_it(tmp_path: Path) -> None:
    results = run("block", [*TORCH_FREE, ["bench", "lenet5", "--iters", "1"],
                            ["bench", "resnet18", "--device", "cpu", "--mode", "train", "--format", "json"],
                            ["port", "OUT/none.pt", "--from", "lenet5", "--to", "lenet5", "-o", "OUT/lenet5.pt"]],
                  tmp_path)
    check_torch_free(results[:len(TORCH_FREE)], tmp_path)
    needs_torch = results[len(TORCH_FREE):]
    assert [" ".join(r["argv"][:1]) for r in needs_torch] == ["bench", "bench", "port", "archc.build('lenet5')"]
    for r, who in zip(needs_torch, ["archc bench", "archc bench", "archc port", "archc.build()"]):
        assert r["code"] == 2 and r["out"] == "", r
        assert f"error[E810]: {who} needs PyTorch, which is not installed" in r["err"], r["err"]
        assert 'pip install "archc[torch]"' in r["err"], r["err"]
        assert "internal error" not in r["err"] and "Traceback" not in r["err"]


def test_a_broken_torch_is_e810_too(tmp_path: Path) -> None:
    """torch installed but unusable (a shared library missing, a dependency gone): E810 with the reason."""
    fake = tmp_path / "torch"
    fake.mkdir()
    (fake / "__init__.py").write_text('raise OSError("libtorch_cpu.so: cannot open shared object file")\n')
    script = "import sys; sys.path.insert(0, sys.argv[1]); from archc.cli import main; sys.exit(main(sys.argv[2:]))"
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path), "bench", "lenet5"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "error[E810]: archc bench needs PyTorch, which is installed but cannot be imported: libtorch_cpu.so: " \
           "cannot open shared object file" in proc.stderr, proc.stderr
    assert "--force-reinstall torch" in proc.stderr and "internal error" not in proc.stderr
