"""Finetuning recipes for the downstream tasks, shared by scripts/finetune.py and the tests."""
