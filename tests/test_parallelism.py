"""Parallelism plans: none is declared rather than a wrong one (issue 14, item 17)."""

import pytest
from conftest import tiny_config

from seedformer.registration import AUTO_CLASSES


@pytest.mark.parametrize("auto_name", sorted(AUTO_CLASSES))
def test_no_tensor_parallel_plan_splits_fused_projections(auto_name):
    # A plain colwise split of the fused q|k|v (or gate|up) weight gives each rank a slice across q, k and v: wrong
    # attention, no error. Until a packed plan is written and run, every class must declare none.
    cls = AUTO_CLASSES[auto_name]
    config = (
        tiny_config(is_encoder_decoder=True, decoder_start_token_id=2) if "Seq2Seq" in auto_name else tiny_config()
    )
    model = cls(config)
    assert not model._tp_plan
    assert not getattr(model.config, "base_model_tp_plan", None)
