"""Sharing on the Hub: self-contained remote-code export, model cards, push.

- `export_remote_code(folder)`: flat model code + full `auto_map` (run by every `save_pretrained`).
- `audit_exported_code(folder)`: what the exported code imports and calls, checked.
- `RemoteCodeCallback`: keeps the code in a Trainer's `output_dir` for its checkpoint pushes.
- `build_model_card` / `write_model_card` / `write_run_model_card`: README.md with Hub metadata and usage.
"""

from .export import RemoteCodeCallback, RemoteCodeExportError, audit_exported_code, auto_map, export_remote_code
from .model_card import build_model_card, card_fields_from_args, write_model_card, write_run_model_card

__all__ = [
    "RemoteCodeCallback",
    "RemoteCodeExportError",
    "audit_exported_code",
    "auto_map",
    "build_model_card",
    "card_fields_from_args",
    "export_remote_code",
    "write_model_card",
    "write_run_model_card",
]
