"""The code that ships with Seedformer checkpoints, so that `trust_remote_code=True` loads them without the package.

The model code lives in `configuration/` and `modeling/`. `hub/remote_code/` holds a flat copy of it, generated from
those sources by `generate_remote_code.py` (the tests check that it is current): `configuration_seedformer.py` and
`modeling_seedformer.py`, which import only torch, transformers, huggingface_hub and the standard library. Every save
writes these files next to the weights and an `auto_map` naming them for every Auto class into `config.json`.

- `remote_code_auto_map()`: that `auto_map` (AutoConfig plus every class of `registration.AUTO_CLASSES`).
- `write_remote_code(folder)`: copies the generated files into a folder, each one atomically.
- `save_pretrained_with_code(model, save, folder, ...)`: what `SeedformerPreTrainedModel.save_pretrained` runs.
- `RemoteCodeCallback`: a `Trainer`'s checkpoint pushes (which copy only config and weights) carry the code too.

The generated classes register themselves for their Auto classes (`register_for_auto_class`), so a model loaded
with `trust_remote_code=True` and saved or pushed again ships the same two files through transformers' own
`custom_object_save`: no Seedformer code is needed on that path.
"""

from __future__ import annotations

import inspect
import os
import stat
from pathlib import Path

from transformers import PreTrainedModel, TrainerCallback

from ..files import write_atomically

# The generated bundle, and the sub-packages it is generated from (in the order their files are generated: the
# modeling file imports the configuration file).
REMOTE_CODE_DIR = Path(__file__).resolve().parent / "remote_code"
SHIPPED_PACKAGES = ("configuration", "modeling")
CONFIG_NAME = "config.json"


def bundle_module(sub_package: str) -> str:
    """Name of the generated file (without `.py`) that holds a shipped sub-package: `modeling_seedformer`."""
    from ..configuration import SeedformerConfig

    return f"{sub_package}_{SeedformerConfig.model_type}"


def auto_classes() -> dict[str, type]:
    """Auto class name -> Seedformer class, for the `auto_map`: AutoConfig and `registration.AUTO_CLASSES`."""
    from ..configuration import SeedformerConfig
    from ..registration import AUTO_CLASSES

    return {"AutoConfig": SeedformerConfig, **AUTO_CLASSES}


def remote_code_auto_map() -> dict[str, str]:
    """`{"AutoConfig": "configuration_seedformer.SeedformerConfig", "AutoModel": "modeling_seedformer....", ...}`."""
    package = __name__.split(".")[0]
    refs = {}
    for auto_name, cls in auto_classes().items():
        parts = cls.__module__.split(".")
        if len(parts) < 3 or parts[0] != package or parts[1] not in SHIPPED_PACKAGES:
            raise ValueError(
                f"{auto_name} -> {cls.__qualname__} lives in {cls.__module__}, outside {SHIPPED_PACKAGES}"
            )
        refs[auto_name] = f"{bundle_module(parts[1])}.{cls.__name__}"
    return refs


def remote_code_files() -> list[Path]:
    """The generated files that ship with every checkpoint."""
    files = [REMOTE_CODE_DIR / f"{bundle_module(sub)}.py" for sub in SHIPPED_PACKAGES]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(
            f"The generated remote code is missing ({', '.join(missing)}): regenerate it with "
            "`python -m seedformer.hub.generate_remote_code` (a wheel must ship hub/remote_code/*.py as package data)."
        )
    return files


def write_remote_code(folder: str | os.PathLike) -> list[Path]:
    """Copy the generated code into `folder` (created if needed), each file atomically. Returns the written paths.

    Several processes may save into one folder (one per rank, or parallel jobs): none ever sees a half-written file,
    and each copy keeps its source's permissions."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in remote_code_files():
        write_atomically(folder / source.name, source.read_bytes(), stat.S_IMODE(source.stat().st_mode))
        written.append(folder / source.name)
    return written


_SAVE_SIGNATURE = inspect.signature(PreTrainedModel.save_pretrained)


def save_pretrained_with_code(model: PreTrainedModel, save, save_directory, *args, **kwargs):
    """`save(save_directory, ...)` (transformers' `save_pretrained`, same arguments) plus the code.

    The `auto_map` goes into `model.config` before the save writes `config.json`, so no file is read back and
    rewritten (another process may be saving into the same folder). With `push_to_hub=True` the upload happens after
    the code is written, through `huggingface_hub`'s public `create_commit`: transformers' own push branch would
    upload before the code is there.
    """
    bound = _SAVE_SIGNATURE.bind(model, save_directory, *args, **kwargs)
    bound.apply_defaults()
    arguments = bound.arguments
    model.config.auto_map = {**(getattr(model.config, "auto_map", None) or {}), **remote_code_auto_map()}
    is_main = model.should_save_on_this_rank(arguments["is_main_process"])
    if not arguments["push_to_hub"]:
        result = save(*bound.args[1:], **bound.kwargs)
        if is_main and not os.path.isfile(save_directory):  # (transformers logs that error and saves nothing)
            write_remote_code(save_directory)
        return result

    # The push branch: the same arguments as transformers' (`repo_id`, `commit_message`, `create_pr`; the rest of
    # `**kwargs` goes to `create_repo`).
    from huggingface_hub import HfApi

    hub_kwargs = dict(arguments.pop("kwargs"))
    repo_id = hub_kwargs.pop("repo_id", Path(save_directory).name)
    commit_message = hub_kwargs.pop("commit_message", None) or "Upload model"
    create_pr = hub_kwargs.pop("create_pr", False)
    token = arguments["token"]
    arguments["push_to_hub"] = False
    api = HfApi()
    folder = Path(save_directory)
    if is_main:
        repo_id = api.create_repo(repo_id, exist_ok=True, token=token, **hub_kwargs).repo_id
        folder.mkdir(parents=True, exist_ok=True)
        before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()}
    result = save(*bound.args[1:], **bound.kwargs)
    if is_main:
        write_remote_code(folder)
        if not (folder / "README.md").exists():  # as transformers' push: the Hub's card if there is one, else ours
            from .model_card import card_for_push

            card_for_push(model, repo_id, token=token).save(folder / "README.md")
        from huggingface_hub import CommitOperationAdd

        # What this save wrote (as transformers' push: files new or modified since the save began), minus the hidden
        # temporary files of another process saving into the same folder.
        changed = sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and before.get(p.name) != p.stat().st_mtime_ns
        )
        api.create_commit(
            repo_id=repo_id,
            operations=[CommitOperationAdd(path_in_repo=p.name, path_or_fileobj=str(p)) for p in changed],
            commit_message=commit_message,
            token=token,
            create_pr=create_pr,
        )
    return result


class RemoteCodeCallback(TrainerCallback):
    """Puts the code into a `Trainer`'s `output_dir` before each push of a Seedformer model.

    With `push_to_hub=True` (default `hub_strategy="every_save"`) the Trainer pushes `output_dir` after each checkpoint,
    having copied only the config and the weights there; without the code, those Hub commits would carry a
    `config.json` whose `auto_map` names files that are not uploaded. (Other models and peft adapters are left alone.)
    """

    def on_push_begin(self, args, state, control, model=None, **kwargs):
        from ..modeling import SeedformerPreTrainedModel

        if state.is_world_process_zero and isinstance(model, SeedformerPreTrainedModel):
            write_remote_code(args.output_dir)


__all__ = [
    "REMOTE_CODE_DIR",
    "RemoteCodeCallback",
    "auto_classes",
    "bundle_module",
    "remote_code_auto_map",
    "remote_code_files",
    "save_pretrained_with_code",
    "write_remote_code",
]
