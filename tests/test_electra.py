"""ELECTRA replaced-token detection (`--objective electra`): it trains, its discriminator is a normal encoder
checkpoint, and a run resumes from a Trainer checkpoint."""

import pytest
import torch
from safetensors.torch import load_file
from test_pretraining import corpus, losses, parse, run_args  # noqa: F401  (the corpus fixture and helpers)
from transformers import AutoModelForSequenceClassification

from seedformer import SeedformerConfig
from seedformer.pretraining.electra import SeedformerElectraForPreTraining, generator_config
from seedformer.pretraining.run import pretrain


def test_generator_is_narrower_and_shares_the_token_embeddings():
    config = SeedformerConfig.cpu_small(vocab_size=100, hidden_size=64, num_attention_heads=4, intermediate_size=128)
    config.electra_generator_size_divisor = 4
    gen = generator_config(config, 4)
    assert (gen.hidden_size, gen.num_attention_heads, gen.intermediate_size) == (16, 1, 32)
    model = SeedformerElectraForPreTraining(config)
    # the detection logit starts at the prior odds of a replaced token, not at 50%
    assert torch.sigmoid(model.discriminator.detection_out.bias).item() == pytest.approx(0.13, abs=0.01)
    assert model.generator.embeddings.word_embeddings is None  # reads the discriminator's table through a projection
    ids = torch.randint(9, 100, (2, 12))
    ids[:, 3:6] = 7  # the masked positions' original token
    labels = torch.full_like(ids, -100)
    labels[:, 3:6] = 7
    masked = ids.clone()
    masked[:, 3:6] = 4
    out = model(input_ids=masked, attention_mask=torch.ones_like(ids), labels=labels)
    out.loss.backward()
    shared = model.get_input_embeddings().weight
    assert shared.grad is not None and shared.grad.abs().sum() > 0
    assert out.loss.item() == pytest.approx(float(out.generator_loss + 50 * out.discriminator_loss), rel=1e-5)
    with torch.no_grad():
        # a generator that always samples the original token: nothing counts as replaced
        model.generator_bias[7] = 1e4
        out = model(input_ids=masked, attention_mask=torch.ones_like(ids), labels=labels)
        assert (out.discriminator_labels == 0).all()
        # one that always samples another token: exactly the masked positions are replaced; padding is ignored
        model.generator_bias[7], model.generator_bias[8] = 0.0, 1e4
        attention = torch.ones_like(ids)
        attention[1, 10:] = 0
        out = model(input_ids=masked, attention_mask=attention, labels=labels)
    expected = torch.zeros_like(ids)
    expected[:, 3:6] = 1
    expected[1, 10:] = -100
    assert torch.equal(out.discriminator_labels, expected)


@pytest.mark.slow
def test_electra_loss_falls_and_discriminator_finetunes(corpus, tmp_path):  # noqa: F811
    out = tmp_path / "electra"
    metrics = pretrain(
        *parse(run_args(corpus, out, "--objective", "electra", "--do_train", "--do_eval", "--max_steps", "40"))
    )
    logged = losses(metrics["log_history"])
    first, last = logged[min(logged)], logged[max(logged)]
    assert last < first - 1.0, logged
    assert 0 <= metrics["eval_mlm_accuracy"] <= 1
    # the output is the discriminator alone, a normal encoder checkpoint
    saved = load_file(out / "model.safetensors")
    assert not any(k.startswith(("generator", "discriminator.")) for k in saved)
    clf = AutoModelForSequenceClassification.from_pretrained(out, num_labels=2)
    for name, tensor in saved.items():
        if name.startswith("seedformer."):
            assert torch.equal(clf.state_dict()[name], tensor), name
    assert type(clf).__name__ == "SeedformerForSequenceClassification"


@pytest.mark.slow
def test_electra_resumes_from_checkpoint(corpus, tmp_path):  # noqa: F811
    """Resume from the step-10 Trainer checkpoint of a 20-step run (the joint model, optimizer, scheduler, RNG):
    it ends where the uninterrupted run does (generator sampling uses torch's RNG, restored with the checkpoint)."""
    extra = [
        "--objective",
        "electra",
        "--do_train",
        "--max_steps",
        "20",
        "--save_steps",
        "10",
        "--logging_steps",
        "10",
    ]
    clean = pretrain(*parse(run_args(corpus, tmp_path / "clean", *extra)))
    checkpoint = tmp_path / "clean" / "checkpoint-10"
    assert (checkpoint / "trainer_state.json").is_file()
    resumed = pretrain(
        *parse(run_args(corpus, tmp_path / "resumed", *extra, "--resume_from_checkpoint", str(checkpoint)))
    )
    assert resumed["global_step"] == 20
    assert losses(resumed["log_history"])[20] == pytest.approx(losses(clean["log_history"])[20], rel=1e-4)
    assert (tmp_path / "resumed" / "model.safetensors").is_file()
