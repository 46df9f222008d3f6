"""Which checkpoint a re-run resumes from, and whether there is anything left to train.

The README's promise is "re-run the same command to resume". That needs three things the stock Trainer does not
check: a checkpoint folder is only *complete* when what a resume reads is readable (a kill or a full disk can leave
an empty `trainer_state.json` or a truncated weights file), a resume never silently continues with a fresh optimizer,
and a run that already reached its last step is not trained again (the Trainer would take one more step each time).
"""

from __future__ import annotations

import json
import logging
import os
import re
import zipfile
from pathlib import Path

from safetensors import safe_open
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

logger = logging.getLogger(__name__)

_CHECKPOINT_RE = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")
TRAINER_STATE = "trainer_state.json"
OPTIMIZER_FILES = ("optimizer.pt", "scheduler.pt")


def read_trainer_state(folder: str | os.PathLike) -> dict:
    """`trainer_state.json` of a checkpoint (or of a finished run's output_dir) as a dict; `ValueError` naming the
    file when it is missing, empty, half-written or not a Trainer state."""
    path = Path(folder) / TRAINER_STATE
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not readable JSON (empty or half-written: {err}).") from None
    if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
        raise ValueError(f"{path} has no integer `global_step`: not a Trainer state.")
    return state


def _check_weights(folder: Path) -> None:
    """`ValueError` unless the folder's safetensors weights (single file, shards, or a LoRA checkpoint's adapter)
    exist with readable headers."""
    index = folder / "model.safetensors.index.json"
    adapter = folder / "adapter_model.safetensors"
    if adapter.is_file() and not (folder / "model.safetensors").is_file() and not index.is_file():
        files = [adapter]
    elif index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (json.JSONDecodeError, KeyError, UnicodeDecodeError) as err:
            raise ValueError(f"{index} is not a readable shard index ({err}).") from None
        files = [folder / shard for shard in shards]
    else:
        files = [folder / "model.safetensors"]
    for file in files:
        if not file.is_file():
            raise ValueError(f"{file} is missing.")
        try:
            with safe_open(str(file), framework="pt") as f:  # reads the header only
                f.keys()
        except Exception as err:  # safetensors raises its own error types for truncated headers
            raise ValueError(f"{file} is not a readable safetensors file (truncated? {err}).") from None


def _check_optimizer_files(folder: Path) -> None:
    for name in OPTIMIZER_FILES:
        file = folder / name
        if not file.is_file():
            raise ValueError(
                f"{file} is missing: resuming would silently continue with a fresh "
                f"{'optimizer' if name == 'optimizer.pt' else 'learning-rate schedule'}. To continue training from "
                f"this checkpoint's weights with a new optimizer, pass --model_name_or_path {folder} (and no "
                "--resume_from_checkpoint) with a new --output_dir."
            )
        try:  # torch.save writes a zip archive; a truncated one has no central directory
            with zipfile.ZipFile(file):
                pass
        except zipfile.BadZipFile:
            raise ValueError(f"{file} is truncated or corrupt (not a complete torch.save archive).") from None


def check_resumable(folder: str | os.PathLike) -> dict:
    """Everything a resume reads, checked without loading it; returns the trainer state. `ValueError` names the
    first unreadable or missing file and what to do."""
    folder = Path(folder)
    state = read_trainer_state(folder)
    _check_weights(folder)
    _check_optimizer_files(folder)
    return state


def last_complete_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The newest `checkpoint-N` folder whose trainer state and weights are readable, or None.

    Newer folders that are not (a save interrupted by a kill or a full disk) are skipped with a warning that says
    why, so a re-run falls back to the previous complete checkpoint instead of dying on every attempt. The optimizer
    files are checked afterwards by `check_resumable`, which refuses rather than skips: falling back past a
    checkpoint saved without them (`--save_only_model`) would throw training away silently.
    """
    root = Path(output_dir)
    if not root.is_dir():
        return None
    candidates = sorted(
        (
            (int(m.group(1)), path)
            for path in root.iterdir()
            if (m := _CHECKPOINT_RE.match(path.name)) and path.is_dir()
        ),
        reverse=True,
    )
    for _, path in candidates:
        try:
            read_trainer_state(path)
            _check_weights(path)
        except ValueError as err:
            logger.warning("Skipping incomplete checkpoint %s: %s", path, err)
            continue
        return str(path)
    return None


def planned_steps(state: dict, max_steps: int, num_train_epochs: float) -> int | None:
    """The last step of the run these arguments describe, as far as a saved state tells: `max_steps` when set,
    else the state's own `max_steps` if it was planned with the same number of epochs (None when unknown)."""
    if max_steps > 0:
        return max_steps
    if state.get("num_train_epochs") == num_train_epochs and isinstance(state.get("max_steps"), int):
        return state["max_steps"]
    return None


def finished_run(
    folders: list[str | os.PathLike | None], max_steps: int, num_train_epochs: float
) -> tuple[str, int] | None:
    """(folder, step) of the first of `folders` (a finished run's output_dir, a checkpoint) whose readable state and
    weights show that the run these arguments describe already reached its last step; None when training is left."""
    for folder in folders:
        if folder is None:
            continue
        try:
            state = read_trainer_state(folder)
            _check_weights(Path(folder))
        except ValueError:
            continue
        target = planned_steps(state, max_steps, num_train_epochs)
        if target is not None and state["global_step"] >= target:
            return str(folder), state["global_step"]
    return None


__all__ = ["check_resumable", "finished_run", "last_complete_checkpoint", "planned_steps", "read_trainer_state"]
