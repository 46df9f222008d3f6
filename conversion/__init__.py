"""Importers that turn other models' checkpoints into Seedformer checkpoints with identical numbers."""

from .bert import ConversionReport, convert_bert_checkpoint, convert_bert_state_dict, seedformer_config_from_bert

__all__ = ["ConversionReport", "convert_bert_checkpoint", "convert_bert_state_dict", "seedformer_config_from_bert"]
