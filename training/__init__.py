"""What every training run shares, pretraining (`pretraining/run.py`) or finetuning (`finetuning/runner.py`).

- `budget`: `--max_train_minutes` (wall or CPU clock) and the learning-rate schedule that ends with the budget.
- `resume`: which checkpoint a re-run resumes from, refused with a message when a file it needs is truncated.
- `config_overrides`: `--config_overrides "key=value,..."`, typed by the `SeedformerConfig` fields.
"""
