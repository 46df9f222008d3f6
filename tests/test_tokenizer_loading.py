"""Loading a Seedformer checkpoint's tokenizer where the package is not installed never stops at a prompt.

Why there is a prompt at all: transformers 5's `AutoTokenizer.from_pretrained(folder)` always loads the folder's
config first (`AutoConfig.from_pretrained(folder, trust_remote_code=None)`, models/auto/tokenization_auto.py), before
it looks at `tokenizer_config.json`. A checkpoint that ships its model code has `auto_map["AutoConfig"]` in
`config.json` and a `model_type` transformers does not know, so `resolve_trust_remote_code` asks `[y/N]` (waiting up
to 15 s on an open stdin) although the tokenizer itself is a stock `TokenizersBackend`. Nothing in the tokenizer files
can skip that config load; the answer is to say `trust_remote_code=False` (no custom code runs, the stock tokenizer
loads), as the model card's "without the package" snippet does.
"""

import os
import re
import subprocess
import sys
import textwrap
import time

import pytest
from _finetuning_helpers import make_tokenizer, save_checkpoint
from test_remote_code import ISOLATED_PRELUDE
from transformers import AutoModelForSequenceClassification

from seedformer.hub.model_card import build_model_card

PROMPT = "[y/N]"


def run_isolated_with_stdin(script: str, cwd, stdin) -> tuple[int, str, float]:
    """`python -I -S` without seedformer on the path (see test_remote_code); returns (rc, stdout + stderr, seconds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "HF_", "TRANSFORMERS_"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(cwd / "hf_home"), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", ISOLATED_PRELUDE + textwrap.dedent(script)],
        cwd=cwd,
        env=env,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - start


@pytest.mark.slow
def test_model_card_snippet_loads_the_tokenizer_without_a_prompt(tmp_path):
    folder = save_checkpoint(tmp_path / "ckpt", AutoModelForSequenceClassification, num_labels=3)
    card = str(build_model_card(AutoModelForSequenceClassification.from_pretrained(folder), repo_id=str(folder)))
    snippet = re.findall(r"```python\n(.*?)```", card, re.S)[1]  # the "without the package" block
    assert "trust_remote_code=False" in snippet and "import seedformer" not in snippet
    expected = make_tokenizer()("good film")["input_ids"]
    read_fd, write_fd = os.pipe()  # stdin open with nothing to read: an input() prompt would wait here
    try:
        rc, output, seconds = run_isolated_with_stdin(
            snippet
            + textwrap.dedent(
                f"""
                assert type(tokenizer).__name__ == "TokenizersBackend", type(tokenizer)
                assert tokenizer("good film")["input_ids"] == {expected!r}
                assert model(**tokenizer("good film", return_tensors="pt")).logits.shape == (1, 3)
                print("LOADED")
                """
            ),
            tmp_path,
            stdin=read_fd,
        )
    finally:
        os.close(read_fd), os.close(write_fd)
    assert rc == 0 and "LOADED" in output, output[-3000:]
    assert PROMPT not in output and "custom code" not in output
    assert seconds < 60


def test_which_folders_make_autotokenizer_ask(tmp_path):
    """A tokenizer saved on its own (train_tokenizer, the quickstart's tokenizer/) has no config.json: no question.
    A code-carrying checkpoint without an answer still gets transformers' question (stdin closed here, so it falls
    through at once): the behaviour the snippet above works around. If this starts failing, transformers stopped
    asking and the `trust_remote_code=False` advice can go."""
    make_tokenizer().save_pretrained(tmp_path / "tok")
    folder = save_checkpoint(tmp_path / "ckpt")
    rc, output, _ = run_isolated_with_stdin(
        f"""
        from transformers import AutoTokenizer
        print("TOKENIZER_ONLY", type(AutoTokenizer.from_pretrained({str(tmp_path / "tok")!r})).__name__, flush=True)
        print("CHECKPOINT", type(AutoTokenizer.from_pretrained({str(folder)!r})).__name__, flush=True)
        """,
        tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert rc == 0 and "TOKENIZER_ONLY TokenizersBackend" in output, output[-3000:]
    assert "CHECKPOINT TokenizersBackend" in output  # the prompt fell through to the stock tokenizer
    before, after = output.split("TOKENIZER_ONLY", 1)
    assert PROMPT not in before and PROMPT in after
