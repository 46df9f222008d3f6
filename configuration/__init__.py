from .configuration_seedformer import SeedformerConfig

__all__ = ["SeedformerConfig"]
