"""Checkpoints carry self-contained remote code; loading never unpickles by default.

The proof runs in a fresh interpreter that cannot import seedformer: `python -I -S` (no PYTHONPATH, no user site, no
`.pth` files, so not the editable install's finder) with only the stdlib and site-packages directories on
`sys.path`, cwd in a temporary folder, `HF_HUB_OFFLINE=1`. There every head loads through its Auto class with
`trust_remote_code=True` and reproduces the outputs computed here with the installed plugin.
"""

import json
import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import transformers
from conftest import tiny_config
from safetensors.torch import load_file, save_file

import seedformer
from seedformer.hub.export import (
    RemoteCodeExportError,
    ShippedModule,
    audit_exported_code,
    audit_source,
    auto_map,
    rewrite_module,
    shipped_modules,
)
from seedformer.registration import AUTO_CLASSES

TEXT = ["the cat sat on the mat", "a dog ran in the park"]

# Interpreter prelude for the isolated process: site-packages without .pth processing (every site-packages folder of
# this interpreter, in order: a venv made with --system-site-packages, as .ci/oldest.sh makes, has two), then prove
# the package is out of reach before anything else runs.
ISOLATED_PRELUDE = textwrap.dedent(
    f"""
    import sys
    sys.path.extend({list(dict.fromkeys(site.getsitepackages()))!r})
    try:
        import seedformer
    except ImportError:
        pass
    else:
        raise SystemExit("seedformer is importable in the isolated process: " + seedformer.__file__)
    """
)


def run_isolated(script: str, cwd: Path, **env_overrides: str) -> str:
    """Run `script` in a Python process that cannot import seedformer; return its stdout (fail on error)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "HF_", "TRANSFORMERS_"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(cwd / "hf_home"), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    env.update(env_overrides)
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", ISOLATED_PRELUDE + textwrap.dedent(script)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"isolated process failed:\n{proc.stdout}\n{proc.stderr[-6000:]}"
    return proc.stdout


def tiny_tokenizer():
    """A WordPiece tokenizer over TEXT, stock transformers class (no custom code needed to load it)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(TEXT, trainers.WordPieceTrainer(vocab_size=60, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=64, model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def model_inputs(auto_name: str, encoded: dict) -> dict:
    """Inputs for one head, built from the tokenizer's batch (multiple choice: the two texts as two choices)."""
    inputs = dict(encoded)
    if "MultipleChoice" in auto_name:
        inputs = {k: v.unsqueeze(0) for k, v in inputs.items()}  # (1, num_choices=2, L)
    if "Seq2Seq" in auto_name:
        inputs["decoder_input_ids"] = encoded["input_ids"][:, :4]
    return inputs


def output_tensors(output) -> dict[str, torch.Tensor]:
    return {k: v for k, v in output.items() if isinstance(v, torch.Tensor)}


# A small sparse-free config that exercises rotary positions, pre-norm and a gated FFN in the exported code too.
CONFIGS = {
    "bert": lambda: tiny_config(),
    "modern": lambda: tiny_config(position_embedding_type="rope", norm_position="pre", norm_type="rms_norm",
                                  hidden_act="geglu", attention_bias=False, mlp_bias=False, norm_bias=False),
}


@pytest.fixture(scope="module")
def saved_heads(tmp_path_factory):
    """Every registered head saved (with a tokenizer) plus its reference outputs, computed with the plugin."""
    root = tmp_path_factory.mktemp("remote")
    tokenizer = tiny_tokenizer()
    encoded = dict(tokenizer(TEXT, padding=True, return_tensors="pt"))
    save_file({k: v.contiguous() for k, v in encoded.items()}, root / "inputs.safetensors")
    cases = []
    for auto_name in AUTO_CLASSES:
        # The modern flavour (rotary, pre-norm, GeGLU) on the LM heads only, to keep the suite fast.
        flavours = CONFIGS if auto_name in ("AutoModelForMaskedLM", "AutoModelForSeq2SeqLM") else ["bert"]
        for flavour in flavours:
            make_config = CONFIGS[flavour]
            torch.manual_seed(0)
            config = make_config()
            if "Seq2Seq" in auto_name:
                config.is_encoder_decoder = True
                config.decoder_start_token_id = 2
            model = getattr(transformers, auto_name).from_config(config).eval()
            folder = root / f"{auto_name}-{flavour}"
            model.save_pretrained(folder)
            tokenizer.save_pretrained(folder)
            with torch.no_grad():
                ref = output_tensors(model(**model_inputs(auto_name, encoded)))
                if "Seq2Seq" in auto_name:  # generation goes through the exported code too
                    ref["generated"] = model.generate(**encoded, max_new_tokens=5, do_sample=False)
            save_file({k: v.contiguous() for k, v in ref.items()}, folder / "reference.safetensors")
            cases.append((auto_name, folder))
    return root, cases


def test_every_registered_head_saves_code_and_full_auto_map(saved_heads):
    _, cases = saved_heads
    expected_files = {f"{name}.py" for name in shipped_modules()}
    assert {"configuration_seedformer.py", "modeling_seedformer.py", "attention.py"} <= expected_files
    for auto_name, folder in cases:
        assert expected_files <= {p.name for p in folder.glob("*.py")}
        config = json.loads((folder / "config.json").read_text())
        assert config["auto_map"] == auto_map()
        assert set(config["auto_map"]) == {"AutoConfig", *AUTO_CLASSES}, auto_name
        assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))
        assert audit_exported_code(folder) == [], auto_name


@pytest.mark.slow
def test_remote_code_loads_without_the_package_and_matches(saved_heads):
    """Fresh process, no seedformer: every head via its Auto class + trust_remote_code; outputs identical.

    A fill-mask pipeline runs on the remote code. Each remotely loaded model is saved again (transformers' own code
    copy, since the exported copy has no exporter) and that second folder loads and matches too.
    """
    root, cases = saved_heads
    mlm_folder = str(dict(cases)["AutoModelForMaskedLM"])
    script = f"""
    import json, torch, transformers
    from safetensors.torch import load_file
    from transformers import AutoTokenizer
    cases = {[(name, str(folder)) for name, folder in cases]!r}
    texts = {TEXT!r}
    expected_inputs = load_file({str(root / "inputs.safetensors")!r})
    report = {{}}
    for auto_name, folder in cases:
        tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=True)
        encoded = dict(tok(texts, padding=True, return_tensors="pt"))
        assert all(torch.equal(encoded[k], expected_inputs[k]) for k in expected_inputs), "tokenizer differs"
        inputs = dict(encoded)
        if "MultipleChoice" in auto_name:
            inputs = {{k: v.unsqueeze(0) for k, v in inputs.items()}}
        if "Seq2Seq" in auto_name:
            inputs["decoder_input_ids"] = encoded["input_ids"][:, :4]
        ref = load_file(folder + "/reference.safetensors")
        generated_ref = ref.pop("generated", None)
        diffs = []
        for attempt, path in enumerate([folder, folder + "-resaved"]):
            model = getattr(transformers, auto_name).from_pretrained(path, trust_remote_code=True).eval()
            assert type(model).__module__.startswith("transformers_modules."), type(model).__module__
            with torch.no_grad():
                out = model(**inputs)
            if generated_ref is not None:
                with torch.no_grad():
                    generated = model.generate(**encoded, max_new_tokens=5, do_sample=False)
                assert torch.equal(generated, generated_ref), "generate() differs"
            assert set(ref) <= set(out.keys()), (set(ref), set(out.keys()))
            diffs.append(max(float((out[k] - ref[k]).abs().max()) for k in ref))
            if attempt == 0:
                model.save_pretrained(folder + "-resaved")
        report[auto_name + ":" + folder.rsplit("-", 1)[-1]] = diffs
    # One re-saved folder serves every Auto class of its auto_map, not only the head that wrote it.
    resaved = cases[0][1] + "-resaved"
    for auto_name in json.load(open(resaved + "/config.json"))["auto_map"]:
        # (an encoder-only checkpoint warm-starts the seq2seq head only when asked to)
        extra = {{"is_encoder_decoder": True, "decoder_start_token_id": 2}} if "Seq2Seq" in auto_name else {{}}
        loaded = getattr(transformers, auto_name).from_pretrained(resaved, trust_remote_code=True, **extra)
        assert type(loaded).__module__.startswith("transformers_modules."), auto_name
    # A remote class fetched without an Auto class (so transformers never registered it) still saves its code.
    from transformers.dynamic_module_utils import get_class_from_dynamic_module
    direct = get_class_from_dynamic_module("modeling_seedformer.SeedformerModel", {mlm_folder!r})
    assert direct._auto_class is None
    direct.from_pretrained({mlm_folder!r}).save_pretrained({mlm_folder!r} + "-direct")
    assert transformers.AutoModel.from_pretrained({mlm_folder!r} + "-direct", trust_remote_code=True) is not None
    # A stock pipeline runs on the remote code as well.
    fill = transformers.pipeline("fill-mask", model={mlm_folder!r}, trust_remote_code=True)
    print("PIPELINE", len(fill("the cat [MASK] on the mat", top_k=3)))
    print("REPORT" + json.dumps(report))
    """
    out = run_isolated(script, cwd=root)
    report = json.loads(out.split("REPORT", 1)[1])
    assert "PIPELINE 3" in out
    assert len(report) == len(cases)
    # Same code and weights; only a different process (thread pool, kernel choice) separates the runs, so the
    # outputs agree to float32 rounding (observed: 0 for most heads, <1e-9 for some).
    for case, diffs in report.items():
        assert len(diffs) == 2 and max(diffs) <= 1e-6, (case, diffs)
    # The resaved folders were written by transformers' copy of the flat files and keep every auto_map entry.
    needed = {ref.split(".")[0] + ".py" for ref in auto_map().values()}
    for _, folder in cases:
        resaved = Path(str(folder) + "-resaved")
        assert json.loads((resaved / "config.json").read_text())["auto_map"] == auto_map()
        assert needed <= {p.name for p in resaved.glob("*.py")}
        assert audit_exported_code(resaved) == []


def test_plugin_path_loads_the_same_checkpoint_identically(saved_heads):
    """With `import seedformer` and no trust_remote_code, the registered classes load and give the same outputs."""
    root, cases = saved_heads
    inputs = load_file(root / "inputs.safetensors")
    for auto_name, folder in cases:
        model = getattr(transformers, auto_name).from_pretrained(folder).eval()
        assert type(model) is AUTO_CLASSES[auto_name]
        ref = load_file(folder / "reference.safetensors")
        with torch.no_grad():
            out = model(**model_inputs(auto_name, inputs))
            if "generated" in ref:
                assert torch.equal(model.generate(**inputs, max_new_tokens=5, do_sample=False), ref.pop("generated"))
        for key in ref:
            torch.testing.assert_close(out[key], ref[key], rtol=0, atol=1e-6)  # observed <= 1e-9


# ------------------------------------------------------------------------------------------------------------------
# The exporter itself
# ------------------------------------------------------------------------------------------------------------------
def _fake_module(tmp_path: Path, source: str) -> tuple[ShippedModule, dict]:
    path = tmp_path / "fake.py"
    path.write_text(textwrap.dedent(source))
    module = ShippedModule("fake", "seedformer.modeling.fake", path)
    return module, {**shipped_modules(), "fake": module}


def test_rewrites_package_imports_to_flat_siblings(tmp_path):
    module, modules = _fake_module(
        tmp_path,
        """
        from ..configuration import SeedformerConfig
        from seedformer.modeling.attention import (
            SelfAttention as SA,
            CrossAttention,
        )
        from .norms import make_norm
        import torch
        try:
            from ..hub.export import export_remote_code
        except ImportError:
            export_remote_code = None
        from ..modeling import SeedformerDecoder, SeedformerModel as Backbone
        """,
    )
    text = rewrite_module(module, modules)
    assert "from .configuration_seedformer import SeedformerConfig" in text
    # Names re-exported by a package map to their defining modules, one `from .x import` per line.
    assert "\nfrom .decoder import SeedformerDecoder\nfrom .modeling_seedformer import SeedformerModel as Backbone\n" in text
    assert "from .attention import SelfAttention as SA, CrossAttention" in text
    assert "from .norms import make_norm" in text and "import torch" in text
    assert "raise ImportError(" in text and "..hub" not in text
    # Line numbers are kept (one header line added) up to a statement that had to become two (the package import,
    # which is the last one here), so tracebacks in the exported copy match the source.
    source_lines, exported_lines = module.path.read_text().splitlines(), text.splitlines()
    assert exported_lines.index("import torch") == source_lines.index("import torch") + 1
    assert exported_lines.index("try:") == source_lines.index("try:") + 1
    namespace_check = compile(text, "fake.py", "exec")  # valid Python
    assert namespace_check is not None


@pytest.mark.parametrize(
    "source, message",
    [
        ("from ..hub.export import export_remote_code\n", "not shipped"),
        ("from seedformer import registration\n", "not shipped"),
        ("from . import attention\n", "cannot map"),
    ],
)
def test_unexportable_imports_fail_loudly(tmp_path, source, message):
    module, modules = _fake_module(tmp_path, source)
    with pytest.raises(RemoteCodeExportError, match=message):
        rewrite_module(module, modules)


def test_shipped_modules_are_discovered_from_disk():
    modules = shipped_modules()
    on_disk = {
        p.stem for sub in ("configuration", "modeling") for p in (Path(seedformer.__file__).parent / sub).glob("*.py")
    } - {"__init__"}
    assert set(modules) == on_disk


@pytest.mark.parametrize(
    "snippet",
    [
        "import socket\n",
        "import seedformer\n",
        "from urllib.request import urlopen\n",
        "import os\n",
        "x = eval('1')\n",
        "exec('x = 1')\n",
        "open('f', 'w').write('x')\n",
        "import torch\ntorch.save({}, 'f')\n",
        "from ..registration import AUTO_CLASSES\n",
        "try:\n    import requests\nexcept ImportError:\n    pass\n",
    ],
)
def test_audit_flags_unsafe_code(snippet):
    assert audit_source(snippet, "m.py", siblings={"attention"})


def test_audit_accepts_plain_model_code():
    clean = "from __future__ import annotations\nimport math\nimport torch\nfrom torch import nn\nfrom .attention import A\n"
    assert audit_source(clean, "m.py", siblings={"attention"}) == []


# ------------------------------------------------------------------------------------------------------------------
# Safe loading
# ------------------------------------------------------------------------------------------------------------------
@pytest.fixture
def pickle_only_checkpoint(tmp_path):
    """A folder whose weights exist only as a pickled `pytorch_model.bin` (as old checkpoints ship)."""
    model = seedformer.SeedformerForSequenceClassification(tiny_config()).eval()
    model.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    (tmp_path / "model.safetensors").unlink()
    torch.save(weights, tmp_path / "pytorch_model.bin")
    return tmp_path, model


@pytest.mark.parametrize("loader", ["class", "auto"])
def test_pickle_only_checkpoint_is_refused_with_a_clear_message(pickle_only_checkpoint, loader):
    folder, _ = pickle_only_checkpoint
    load = (
        seedformer.SeedformerForSequenceClassification.from_pretrained
        if loader == "class"
        else transformers.AutoModelForSequenceClassification.from_pretrained
    )
    with pytest.raises(OSError, match="allow_pickle=True"):
        load(folder)
    with pytest.raises(ValueError, match="allow_pickle=True"):
        load(folder, use_safetensors=False)


def test_pickle_loads_only_with_explicit_opt_in(pickle_only_checkpoint):
    folder, model = pickle_only_checkpoint
    loaded = transformers.AutoModelForSequenceClassification.from_pretrained(folder, allow_pickle=True).eval()
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    torch.testing.assert_close(loaded(ids).logits, model(ids).logits, rtol=0, atol=0)
    assert not hasattr(loaded.config, "allow_pickle")  # the opt-in is a load option, never saved into the config


def test_sharded_safetensors_checkpoints_load(tmp_path):
    """Safetensors-only loading still takes sharded checkpoints (index + shards); the code ships alongside."""
    model = seedformer.SeedformerForMaskedLM(tiny_config()).eval()
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    assert (tmp_path / "model.safetensors.index.json").is_file() and len(list(tmp_path.glob("*.safetensors"))) > 1
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    loaded = transformers.AutoModelForMaskedLM.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(loaded(ids).logits, model(ids).logits, rtol=0, atol=0)
    assert audit_exported_code(tmp_path) == []


def _save_into(folder: str) -> str | None:
    try:
        torch.set_num_threads(1)
        seedformer.SeedformerForMaskedLM(tiny_config()).save_pretrained(folder)
    except Exception as err:  # reported to the parent, which asserts there are none
        return f"{type(err).__name__}: {err}"
    return None


def test_concurrent_saves_into_one_folder_never_see_half_written_files(tmp_path):
    """Many processes saving into one folder (before: 13 of 32 died re-reading a config.json another was writing)."""
    import multiprocessing

    folder = str(tmp_path / "shared")
    with multiprocessing.get_context("fork").Pool(8) as pool:
        errors = [e for e in pool.map(_save_into, [folder] * 24) if e]
    assert errors == []
    assert json.loads((tmp_path / "shared" / "config.json").read_text())["auto_map"] == auto_map()
    assert not list((tmp_path / "shared").glob(".*.tmp"))  # no temporary file left behind
    assert transformers.AutoModelForMaskedLM.from_pretrained(folder).config.model_type == "seedformer"
