"""Self-contained remote code for Seedformer checkpoints.

transformers' own code copy (`register_for_auto_class` -> `custom_object_save`) copies the defining file plus its
*single-dot* relative imports, flat, by basename. Our code is split across two sub-packages (`configuration/`,
`modeling/`) and `modeling_seedformer.py` imports `..configuration.configuration_seedformer`, which that copy cannot
follow. So instead of asking transformers to copy files, we export them ourselves:

- every module under the shipped sub-packages (`SHIPPED_PACKAGES`, discovered on disk, so new modules ship without
  touching this file) is written flat into the checkpoint folder;
- imports of package-internal modules are rewritten to single-dot sibling imports (`from .attention import ...`);
- imports of package modules that do not ship (e.g. this module, used by the `save_pretrained` hook) are allowed
  only inside a `try:` that handles `ImportError`, and become `raise ImportError(...)` in the copy;
- `config.json` gets an `auto_map` entry for EVERY Auto class in `seedformer.registration.AUTO_CLASSES`.

The result loads with `AutoModel*.from_pretrained(folder, trust_remote_code=True)` where Seedformer is not installed,
and, since the copy is flat with single-dot imports, saving such a remotely loaded model again lets transformers'
own copy produce a loadable folder too.

`audit_exported_code` checks what we ship: imports limited to torch, transformers and a small stdlib allow-list, and
no eval/exec, file, process or network calls.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from transformers import PreTrainedModel, TrainerCallback

PACKAGE = __name__.split(".")[0]  # "seedformer"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
# Sub-packages whose modules make up the model code that a checkpoint needs.
SHIPPED_PACKAGES = ("configuration", "modeling")
CONFIG_NAME = "config.json"

# What exported code may import: torch, transformers (and huggingface_hub, a hard dependency of transformers that
# provides the config's `@strict`), plus harmless stdlib modules.
ALLOWED_THIRD_PARTY = frozenset({"torch", "transformers", "huggingface_hub"})
ALLOWED_STDLIB = frozenset(
    {
        "__future__", "abc", "collections", "contextlib", "copy", "dataclasses", "enum", "functools", "itertools",
        "math", "numbers", "operator", "typing", "types", "warnings",
    }
)
# Calls that would execute strings, touch files, spawn processes or reach the network.
FORBIDDEN_CALLS = frozenset({"eval", "exec", "compile", "__import__", "open", "breakpoint", "input"})
FORBIDDEN_METHODS = frozenset(
    {
        "write", "write_text", "write_bytes", "writelines", "save", "system", "popen", "remove", "unlink",
        "rmtree", "rename", "mkdir", "makedirs", "urlopen", "import_module", "load",
    }
)


class RemoteCodeExportError(RuntimeError):
    """The package code cannot be turned into a self-contained remote-code folder (says where and why)."""


@dataclass(frozen=True)
class ShippedModule:
    name: str  # flat basename in the checkpoint, e.g. "attention"
    qualname: str  # import name in the package, e.g. "seedformer.modeling.attention"
    path: Path


def shipped_modules() -> dict[str, ShippedModule]:
    """All modules under `SHIPPED_PACKAGES` (except `__init__.py`), keyed by their flat basename."""
    modules: dict[str, ShippedModule] = {}
    for sub in SHIPPED_PACKAGES:
        for path in sorted((PACKAGE_ROOT / sub).glob("*.py")):
            if path.name == "__init__.py":
                continue
            name = path.stem
            if name in modules:
                raise RemoteCodeExportError(
                    f"{path} and {modules[name].path} have the same basename; the exported folder is flat, so "
                    "module names must be unique across " + ", ".join(SHIPPED_PACKAGES)
                )
            modules[name] = ShippedModule(name, f"{PACKAGE}.{sub}.{name}", path)
    return modules


def auto_map() -> dict[str, str]:
    """`auto_map` for the checkpoint: AutoConfig plus every registered Auto model class."""
    from ..configuration import SeedformerConfig
    from ..registration import AUTO_CLASSES

    shipped = {m.qualname: m.name for m in shipped_modules().values()}

    def ref(cls: type) -> str:
        if cls.__module__ not in shipped:
            raise RemoteCodeExportError(f"{cls.__qualname__} lives in {cls.__module__}, which is not a shipped module")
        return f"{shipped[cls.__module__]}.{cls.__name__}"

    return {"AutoConfig": ref(SeedformerConfig), **{name: ref(cls) for name, cls in AUTO_CLASSES.items()}}


# ------------------------------------------------------------------------------------------------------------------
# Import rewriting
# ------------------------------------------------------------------------------------------------------------------
def _resolve(node: ast.ImportFrom, module_qualname: str) -> str:
    """Absolute dotted target of a `from X import ...` written in `module_qualname`."""
    if node.level == 0:
        return node.module or ""
    base = module_qualname.split(".")[: -node.level]
    return ".".join(base + ([node.module] if node.module else []))


def _guarded_by_import_error(tree: ast.Module) -> set[int]:
    """ids of import nodes that sit directly in the body of a `try:` whose handlers catch ImportError."""
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        caught = set()
        for handler in node.handlers:
            types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            caught |= {getattr(t, "id", None) for t in types}
        if caught & {"ImportError", "ModuleNotFoundError", "Exception", None}:
            guarded |= {id(stmt) for stmt in node.body if isinstance(stmt, (ast.Import, ast.ImportFrom))}
    return guarded


def _names(aliases: list[ast.alias]) -> str:
    return ", ".join(a.name if a.asname is None else f"{a.name} as {a.asname}" for a in aliases)


def rewrite_module(module: ShippedModule, modules: dict[str, ShippedModule], pull_in: tuple[str, ...] = ()) -> str:
    """Source of `module` with package-internal imports turned into flat sibling imports.

    `pull_in` names sibling modules to reference from a guarded trailer: transformers' own code copy (what runs when
    a remotely loaded model is saved again) copies the class's file and its relative imports only, and the trailer
    makes that copy include every module the `auto_map` needs.
    """
    source = module.path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(module.path))
    by_qualname = {m.qualname: m for m in modules.values()}
    guarded = _guarded_by_import_error(tree)
    lines = source.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []  # (first line, last line) 1-based inclusive -> replacement

    def where(node) -> str:
        return f"{module.path}:{node.lineno}"

    def not_shipped(node, target: str):
        if id(node) in guarded:
            return f"raise ImportError({target!r} + ' is not part of the exported remote code')"
        raise RemoteCodeExportError(
            f"{where(node)} imports {target}, which is not shipped with checkpoints ({', '.join(SHIPPED_PACKAGES)}); "
            "move it there or guard it with try/except ImportError"
        )

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name == PACKAGE or a.name.startswith(PACKAGE + ".")]
            if targets:
                edits.append((node.lineno, node.end_lineno, not_shipped(node, targets[0])))
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        target = _resolve(node, module.qualname)
        if node.level == 0 and not (target == PACKAGE or target.startswith(PACKAGE + ".")):
            continue  # torch, transformers, stdlib: unchanged
        if target in by_qualname:
            replacement = f"from .{by_qualname[target].name} import {_names(node.names)}"
        elif any(target.startswith(q + ".") for q in by_qualname):
            raise RemoteCodeExportError(f"{where(node)} imports from inside module {target}; import the module's names")
        elif target in {f"{PACKAGE}.{sub}" for sub in SHIPPED_PACKAGES}:
            # `from ..configuration import SeedformerConfig`: find the module that defines each name.
            package = importlib.import_module(target)
            groups: dict[str, list[ast.alias]] = {}
            for alias in node.names:
                obj = getattr(package, alias.name, None)
                home = getattr(obj, "__module__", None) if not inspect.ismodule(obj) else getattr(obj, "__name__", None)
                if home not in by_qualname or inspect.ismodule(obj):
                    raise RemoteCodeExportError(
                        f"{where(node)}: cannot map `{alias.name}` from {target} to a shipped module; "
                        "import it from its defining module (`from .attention import X`)"
                    )
                groups.setdefault(by_qualname[home].name, []).append(alias)
            # One statement per line: transformers' relative-import scan reads only the first `from .x` of a line.
            replacement = "\n".join(f"from .{name} import {_names(aliases)}" for name, aliases in groups.items())
        else:
            replacement = not_shipped(node, target)
        edits.append((node.lineno, node.end_lineno, replacement))

    for first, last, replacement in sorted(edits, reverse=True):
        indent = lines[first - 1][: len(lines[first - 1]) - len(lines[first - 1].lstrip())]
        new_lines = [indent + line + "\n" for line in replacement.split("\n")]
        # Pad to the statement's line count, so that tracebacks in the exported copy point at the source's lines
        # (plus the one header line).
        lines[first - 1 : last] = new_lines + ["\n"] * max(0, last - first + 1 - len(new_lines))
    header = f"# Exported from the {PACKAGE} package ({module.qualname}) for trust_remote_code loading.\n"
    trailer = ""
    if pull_in:
        trailer = (
            "\n\n# Added by the export: reference every shipped module so that saving a remotely loaded model again\n"
            "# (transformers copies this file and its relative imports) yields a folder that serves the whole auto_map.\n"
            "try:\n"
            + "".join(f"    from .{name} import __name__ as _shipped_{name}  # noqa: F401\n" for name in pull_in)
            + "except ImportError:\n    pass\n"
        )
    return header + "".join(lines) + trailer


# ------------------------------------------------------------------------------------------------------------------
# Export and the save hook
# ------------------------------------------------------------------------------------------------------------------
def _write_atomically(path: Path, text: str) -> None:
    # Several processes may save into one folder (one per rank, or a user's parallel jobs): write a private temporary
    # file and rename it over the target, so a reader never sees a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def export_remote_code(save_directory: str | os.PathLike, update_config: bool = True) -> list[Path]:
    """Write the flat model code into `save_directory` and (with `update_config`) add the full `auto_map` to its
    `config.json`; every file is replaced atomically.

    Returns the written `.py` files. Raises `RemoteCodeExportError` if the package code cannot be exported.
    """
    folder = Path(save_directory)
    folder.mkdir(parents=True, exist_ok=True)
    modules = shipped_modules()
    model_homes = {ref.split(".")[0] for name, ref in auto_map().items() if name != "AutoConfig"}
    written = []
    for module in modules.values():
        pull_in = tuple(n for n in modules if n != module.name) if module.name in model_homes else ()
        text = rewrite_module(module, modules, pull_in)
        path = folder / f"{module.name}.py"
        _write_atomically(path, text)
        written.append(path)
    config_path = folder / CONFIG_NAME
    if update_config and config_path.is_file():
        config = json.loads(config_path.read_text(encoding="utf-8"))
        config["auto_map"] = {**config.get("auto_map", {}), **auto_map()}
        _write_atomically(config_path, json.dumps(config, indent=2, sort_keys=True) + "\n")
    return written


def _set_auto_map(model: PreTrainedModel) -> None:
    # In the config before it is written, so the save needs no read-modify-write of config.json (another process
    # saving into the same folder may be rewriting it at that moment).
    model.config.auto_map = {**(getattr(model.config, "auto_map", None) or {}), **auto_map()}


_SAVE_PARAMETERS = frozenset(inspect.signature(PreTrainedModel.save_pretrained).parameters) - {"self", "push_to_hub"}


def save_pretrained_with_code(model: PreTrainedModel, save, save_directory, push_to_hub: bool = False, **kwargs):
    """`save(save_directory, **kwargs)` (the model's `PreTrainedModel.save_pretrained`) followed by the export.

    With `push_to_hub=True` this mirrors transformers' own push branch (create the repo, note the timestamps, save,
    upload what changed) with the export *before* the upload, so the Hub commit carries the code.
    """
    is_main = model.should_save_on_this_rank(kwargs.get("is_main_process", True))
    _set_auto_map(model)
    if not push_to_hub:
        result = save(save_directory, **kwargs)
        if is_main:
            export_remote_code(save_directory, update_config=False)
        return result

    from huggingface_hub import create_repo

    save_kwargs = {k: v for k, v in kwargs.items() if k in _SAVE_PARAMETERS}
    hub_kwargs = {k: v for k, v in kwargs.items() if k not in _SAVE_PARAMETERS}
    commit_message = hub_kwargs.pop("commit_message", None)
    create_pr = hub_kwargs.pop("create_pr", False)
    repo_id = hub_kwargs.pop("repo_id", Path(save_directory).name)
    os.makedirs(save_directory, exist_ok=True)
    if is_main:
        repo_id = create_repo(repo_id, exist_ok=True, token=kwargs.get("token"), **hub_kwargs).repo_id
        timestamps = model._get_files_timestamps(save_directory)
    result = save(save_directory, **save_kwargs)
    if is_main:
        export_remote_code(save_directory, update_config=False)
        readme = Path(save_directory) / "README.md"
        if not readme.exists():  # as `push_to_hub` does: the Hub's card if there is one, else a Seedformer card
            from .model_card import card_for_push

            card_for_push(model, repo_id, token=kwargs.get("token")).save(readme)
        model._upload_modified_files(
            save_directory, repo_id, timestamps, commit_message=commit_message, token=kwargs.get("token"),
            create_pr=create_pr,
        )
    return result


class RemoteCodeCallback(TrainerCallback):
    """Writes the remote code into `output_dir` when a Seedformer model starts training with `push_to_hub=True`.

    With the default `hub_strategy="every_save"` the Trainer pushes `output_dir` after each checkpoint, having copied
    only the config and the weights there; without this callback those intermediate Hub commits would carry a
    `config.json` whose `auto_map` names files that are not uploaded yet. (Other models, and peft adapters, are left
    alone: the code describes a full Seedformer checkpoint.)
    """

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        from ..modeling import SeedformerPreTrainedModel

        if args.push_to_hub and state.is_world_process_zero and isinstance(model, SeedformerPreTrainedModel):
            export_remote_code(args.output_dir)


# ------------------------------------------------------------------------------------------------------------------
# Audit
# ------------------------------------------------------------------------------------------------------------------
def audit_source(source: str, filename: str = "<exported>", siblings: set[str] | frozenset = frozenset()) -> list[str]:
    """Problems in one exported module: disallowed imports, dynamic code, file/process/network calls.

    Imports inside `try:` blocks are checked too (only stricter than transformers' `check_imports`).
    """
    problems = []
    tree = ast.parse(source, filename=filename)
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            tops = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level != 1 or (node.module or "") not in siblings:
                    problems.append(f"{where}: relative import {'.' * node.level}{node.module or ''} is not a sibling")
                continue
            tops = [(node.module or "").split(".")[0]]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                problems.append(f"{where}: call to {func.id}()")
            elif isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_METHODS:
                problems.append(f"{where}: call to .{func.attr}()")
            continue
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_CALLS | {"__builtins__", "globals"}:
            problems.append(f"{where}: reference to {node.id}")
            continue
        else:
            continue
        for top in tops:
            if top not in ALLOWED_THIRD_PARTY | ALLOWED_STDLIB:
                problems.append(f"{where}: imports {top}")
    return problems


def audit_exported_code(folder: str | os.PathLike) -> list[str]:
    """`audit_source` over every `.py` file in a checkpoint folder; an empty list means clean."""
    files = sorted(Path(folder).glob("*.py"))
    siblings = {f.stem for f in files}
    problems = []
    for path in files:
        problems += audit_source(path.read_text(encoding="utf-8"), path.name, siblings)
    return problems


__all__ = [
    "RemoteCodeCallback",
    "RemoteCodeExportError",
    "audit_exported_code",
    "audit_source",
    "auto_map",
    "export_remote_code",
    "rewrite_module",
    "save_pretrained_with_code",
    "shipped_modules",
]
