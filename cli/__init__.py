"""The `seedformer` command: one subcommand per program, `seedformer <command> --help` for its options.

`seedformer pretrain ...`, `python -m seedformer pretrain ...` and `python scripts/pretrain.py ...` run the same
`main` (seedformer/cli/pretrain.py; the files in scripts/ are two-line wrappers kept for a source checkout). A
subcommand is its module's name with dashes: `convert_bert_checkpoint.py` -> `seedformer convert-bert-checkpoint`.
Multi-process launchers take the module form: `torchrun --nproc_per_node 2 -m seedformer pretrain ...`.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

CLI_DIR = Path(__file__).resolve().parent


def commands() -> dict[str, str]:
    """Subcommand -> module name, from the modules in this folder (adding a program adds its subcommand)."""
    return {p.stem.replace("_", "-"): p.stem for p in sorted(CLI_DIR.glob("*.py")) if not p.stem.startswith("_")}


def summary(module: str) -> str:
    """The docstring's opening phrase (up to its first colon or full stop), read without importing the module."""
    doc = ast.get_docstring(ast.parse((CLI_DIR / f"{module}.py").read_text(encoding="utf-8"))) or ""
    first_paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    return re.split(r"[:.](?:\s|$)", first_paragraph, maxsplit=1)[0]


def usage() -> str:
    table = commands()
    width = max(map(len, table))
    lines = [f"  {name:<{width}}  {summary(module)}" for name, module in table.items()]
    return "\n".join(
        [
            "usage: seedformer <command> [options]    (also: python -m seedformer <command> [options])",
            "",
            "commands:",
            *lines,
            "",
            "`seedformer <command> --help` lists the options of one command.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; returns the exit status (0) for `sys.exit`, errors exit through argparse / SystemExit."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from .. import __version__

        print(f"seedformer {__version__}")
        return 0
    table = commands()
    if argv[0] not in table:
        print(f"seedformer: unknown command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(f".{table[argv[0]]}", __name__)
    # argparse names the program after sys.argv[0]: make `--help` and errors say `seedformer <command>`
    sys.argv[0] = f"seedformer {argv[0]}"
    module.main(argv[1:])  # the command's own return value (metrics) is for library callers, not the exit status
    return 0
