"""Shared fixtures. Tests never touch the network: the Hub is switched off before transformers is imported."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
if os.environ.get("PYTEST_XDIST_WORKER"):
    # One BLAS/OpenMP thread per xdist worker (and per subprocess it starts): the workers are the parallelism.
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SEEDFORMER_SHARED_DATA", REPO.parent / "shared" / "data"))


# Under `-n 2`, xdist hands each worker a run of tests in collection order. The README test alone is about half a
# worker's time in the whole suite; collected in file order (near the end) it started minutes in and was the suite's
# tail. Collected first, it starts at once and the other worker absorbs the rest.
def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.name != "test_readme_runs_top_to_bottom")  # stable: the rest keep their order


def tiny_config(**overrides):
    """A few-thousand-parameter config for fast tests."""
    from seedformer import SeedformerConfig

    kwargs = dict(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    kwargs.update(overrides)
    return SeedformerConfig(**kwargs)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set SEEDFORMER_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
