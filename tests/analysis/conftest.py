"""Shared by the analysis tests: which shipped specs follow torchvision's layout."""

from __future__ import annotations

import json

from archc.spec.loader import shipped_names

from ..conftest import FIXTURES


def torchvision_specs() -> list[str]:
    """Every shipped spec with torchvision's layout: those named in the torchvision reference
    fixture. As the zoo grows, the tests parametrized over this pick the new specs up."""
    models = json.loads((FIXTURES / "torchvision_reference.json").read_text())["models"]
    return [name for name in shipped_names() if name in models]

