"""One module per ``archc`` subcommand. Each defines ``register(subparsers)``, which adds
its parser and sets ``func``; :data:`COMMANDS` lists them in ``archc --help`` order."""

from __future__ import annotations

COMMANDS = ("validate", "fmt", "table", "diff", "compile", "diagram", "bench", "port", "list", "ops", "schema")
