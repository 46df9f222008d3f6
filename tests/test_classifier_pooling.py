"""`classifier_pooling="mean"`: the sequence-classification and multiple-choice heads pool the mean of the real
tokens' final states (ModernBERT's option), with the same padding guarantees as [CLS] pooling."""

import pytest
import torch
from huggingface_hub.errors import StrictDataclassError

from seedformer import SeedformerConfig
from seedformer.modeling import SeedformerForMultipleChoice, SeedformerForSequenceClassification


def tiny(**kwargs):
    return SeedformerConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **kwargs,
    )  # fmt: skip


@pytest.mark.parametrize("preset", [{}, {"norm_position": "pre", "position_embedding_type": "rope"}])
@pytest.mark.parametrize("unpadded_execution", ["never", "always"])
def test_mean_pooling_is_the_pooler_on_the_mean_of_real_tokens(preset, unpadded_execution):
    torch.manual_seed(0)
    model = SeedformerForSequenceClassification(
        tiny(classifier_pooling="mean", unpadded_execution=unpadded_execution, num_labels=3, **preset)
    ).eval()
    ids = torch.tensor([[2, 7, 8, 9, 3], [2, 11, 3, 0, 0]])
    mask = (ids != 0).long()
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
        states = model.seedformer(input_ids=ids, attention_mask=mask).last_hidden_state
        mean = torch.stack([states[0].mean(0), states[1, :3].mean(0)])
        expected = model.classifier(model.seedformer.pooler(mean))
        alone = model(input_ids=ids[1:, :3]).logits
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(logits[1:], alone, rtol=1e-5, atol=1e-5)  # padding does not move the mean


def test_mean_and_cls_pooling_differ_and_cls_stays_bert():
    torch.manual_seed(0)
    cls_model = SeedformerForSequenceClassification(tiny()).eval()
    mean_model = SeedformerForSequenceClassification(tiny(classifier_pooling="mean")).eval()
    mean_model.load_state_dict(cls_model.state_dict())  # same weights: only the pooling differs
    ids = torch.tensor([[2, 7, 8, 9, 3]])
    with torch.no_grad():
        cls_logits = cls_model(input_ids=ids).logits
        out = cls_model.seedformer(input_ids=ids)
        mean_logits = mean_model(input_ids=ids).logits
    torch.testing.assert_close(cls_logits, cls_model.classifier(out.pooler_output))
    assert not torch.allclose(cls_logits, mean_logits)


def test_multiple_choice_pools_each_choice_by_its_own_mask():
    torch.manual_seed(0)
    model = SeedformerForMultipleChoice(tiny(classifier_pooling="mean")).eval()
    ids = torch.tensor([[[2, 7, 8, 3], [2, 9, 3, 0]]])
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=(ids != 0).long()).logits
        second_alone = model(input_ids=ids[:, 1:, :3]).logits
    assert logits.shape == (1, 2)
    torch.testing.assert_close(logits[:, 1], second_alone[:, 0], rtol=1e-5, atol=1e-5)


def test_unknown_pooling_names_the_field():
    # transformers' strict config wraps the validator's ValueError; the message keeps the field and the choices
    with pytest.raises(StrictDataclassError, match=r"`classifier_pooling` must be one of \['cls', 'mean'\]"):
        tiny(classifier_pooling="max")
