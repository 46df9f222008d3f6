"""Importers that turn other models' checkpoints into Seedformer checkpoints with identical numbers."""

from .bart import convert_bart_checkpoint, convert_bart_state_dict, seedformer_config_from_bart
from .bert import ConversionReport, convert_bert_checkpoint, convert_bert_state_dict, seedformer_config_from_bert

__all__ = [
    "convert_bart_checkpoint",
    "convert_bart_state_dict",
    "seedformer_config_from_bart",
    "ConversionReport",
    "convert_bert_checkpoint",
    "convert_bert_state_dict",
    "seedformer_config_from_bert",
]
