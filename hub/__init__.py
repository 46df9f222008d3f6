"""Sharing on the Hub: the code that ships with checkpoints, model cards, push.

- `write_remote_code(folder)` / `remote_code_auto_map()`: the generated flat model code (`hub/remote_code/`, made by
  `python -m seedformer.hub.generate_remote_code`) and the `auto_map` naming it; every `save_pretrained` uses both.
- `RemoteCodeCallback`: keeps the code in a Trainer's `output_dir` for its checkpoint pushes.
- `build_model_card` / `write_model_card` / `write_run_model_card`: README.md with Hub metadata and usage.
"""

from .export import RemoteCodeCallback, remote_code_auto_map, write_remote_code
from .model_card import build_model_card, card_fields_from_args, write_model_card, write_run_model_card

__all__ = [
    "RemoteCodeCallback",
    "build_model_card",
    "card_fields_from_args",
    "remote_code_auto_map",
    "write_model_card",
    "write_remote_code",
    "write_run_model_card",
]
