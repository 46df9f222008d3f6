"""Checkpoints carry the generated remote code (`hub/remote_code/`); loading never unpickles by default.

The generated files must be what `hub/generate_remote_code.py` makes from the package's `configuration/` and
`modeling/` sources now (byte for byte), and a save must ship exactly those files. The proof that they are enough runs in a fresh interpreter that cannot import seedformer: `python -I -S` (no PYTHONPATH, no user site, no
`.pth` files, so not the editable install's finder) with only the stdlib and site-packages directories on
`sys.path`, cwd in a temporary folder, `HF_HUB_OFFLINE=1`. There every head loads through its Auto class with
`trust_remote_code=True` and reproduces the outputs computed here with the installed plugin.
"""

import ast
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
from seedformer.hub.export import REMOTE_CODE_DIR, remote_code_auto_map, remote_code_files
from seedformer.hub.generate_remote_code import PACKAGE_ROOT, RemoteCodeGenerationError, generate, stale_files
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
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
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
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
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
    "modern": lambda: tiny_config(
        position_embedding_type="rope",
        norm_position="pre",
        norm_type="rms_norm",
        hidden_act="geglu",
        attention_bias=False,
        mlp_bias=False,
        norm_bias=False,
    ),
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


def assert_ships_the_generated_code(folder: Path) -> None:
    """`folder` holds exactly the generated files, byte for byte, and an auto_map that names them for every class."""
    shipped = {p.name: p.read_bytes() for p in Path(folder).glob("*.py")}
    assert shipped == {p.name: p.read_bytes() for p in remote_code_files()}, folder
    config = json.loads((Path(folder) / "config.json").read_text())
    assert config["auto_map"] == remote_code_auto_map(), folder
    assert set(config["auto_map"]) == {"AutoConfig", *AUTO_CLASSES}


def test_every_registered_head_saves_the_generated_code_and_full_auto_map(saved_heads):
    _, cases = saved_heads
    assert {p.name for p in remote_code_files()} == {"configuration_seedformer.py", "modeling_seedformer.py"}
    for _, folder in cases:
        assert_ships_the_generated_code(folder)
        assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))
        # The atomic copy keeps the files' permissions (its temporary file starts private, 0600).
        assert {p.name: p.stat().st_mode for p in folder.glob("*.py")} == {
            p.name: p.stat().st_mode for p in remote_code_files()
        }


@pytest.mark.slow
def test_remote_code_loads_without_the_package_and_matches(saved_heads):
    """Fresh process, no seedformer: every head via its Auto class + trust_remote_code; outputs identical.

    A fill-mask pipeline runs on the remote code. Each remotely loaded model is saved again (transformers' own code
    copy: the generated classes register themselves for their Auto classes) and that second folder loads and matches.
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
    # A remote class fetched without an Auto class is registered by the generated file itself, so it saves its code.
    from transformers.dynamic_module_utils import get_class_from_dynamic_module
    direct = get_class_from_dynamic_module("modeling_seedformer.SeedformerModel", {mlm_folder!r})
    assert direct._auto_class == "AutoModel", direct._auto_class
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
    # transformers' copy of the generated files is the same two files, with every auto_map entry kept.
    for folder in [Path(str(folder) + "-resaved") for _, folder in cases] + [Path(mlm_folder + "-direct")]:
        assert_ships_the_generated_code(folder)


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
# The generated files and their generator
# ------------------------------------------------------------------------------------------------------------------
def test_generated_remote_code_is_current():
    """CI's guard: hub/remote_code/ is exactly what the generator makes from today's sources."""
    stale = stale_files()
    assert stale == [], f"stale {stale} in {REMOTE_CODE_DIR}: run `python -m seedformer.hub.generate_remote_code`"
    assert {p.name for p in REMOTE_CODE_DIR.glob("*.py")} == set(generate())


def test_generator_check_command_reports_stale_files(tmp_path, monkeypatch, capsys):
    from seedformer.hub import generate_remote_code

    assert generate_remote_code.main(["--check"]) == 0
    stale_dir = tmp_path / "remote_code"
    generate_remote_code.write(stale_dir)
    assert stale_files(stale_dir) == []
    (stale_dir / "modeling_seedformer.py").write_text(
        (stale_dir / "modeling_seedformer.py").read_text() + "# edited\n"
    )
    (stale_dir / "leftover.py").write_text("")
    monkeypatch.setattr(generate_remote_code, "REMOTE_CODE_DIR", stale_dir)
    assert generate_remote_code.main(["--check"]) == 1
    assert "leftover.py, modeling_seedformer.py" in capsys.readouterr().err


def _top_level_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names - {"__all__"}


def test_generated_code_is_the_package_code_minus_the_hub_hooks():
    """Every top-level definition of every shipped module is in the generated file of its sub-package, and the
    package's classes keep their methods there, except the save/push hooks that reach into hub/."""
    for sub in ("configuration", "modeling"):
        generated = ast.parse((REMOTE_CODE_DIR / f"{sub}_seedformer.py").read_text())
        sources = [ast.parse(p.read_text()) for p in (PACKAGE_ROOT / sub).glob("*.py") if p.name != "__init__.py"]
        assert set().union(*map(_top_level_names, sources)) == _top_level_names(generated), sub
        generated_classes = {n.name: n for n in generated.body if isinstance(n, ast.ClassDef)}
        for source in sources:
            for cls in (n for n in source.body if isinstance(n, ast.ClassDef)):
                methods = {m.name for m in cls.body if isinstance(m, ast.FunctionDef)}
                kept = {m.name for m in generated_classes[cls.name].body if isinstance(m, ast.FunctionDef)}
                left_out = {"save_pretrained", "push_to_hub"} if cls.name == "SeedformerPreTrainedModel" else set()
                assert kept == methods - left_out, (cls.name, methods ^ kept)
    modeling = (REMOTE_CODE_DIR / "modeling_seedformer.py").read_text()
    assert "def from_pretrained(" in modeling  # safe loading ships with the code
    for auto_name, cls in AUTO_CLASSES.items():
        assert f"\n{cls.__name__}.register_for_auto_class({auto_name!r})\n" in modeling


def test_generated_code_imports_only_torch_transformers_and_the_standard_library():
    allowed = {"torch", "transformers", "huggingface_hub", *sys.stdlib_module_names}
    for path in remote_code_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1 and f"{node.module}.py" in {p.name for p in remote_code_files()}, path.name
                continue
            elif isinstance(node, ast.ImportFrom):
                tops = {node.module.split(".")[0]}
            else:
                continue
            assert tops <= allowed, (path.name, node.lineno, tops - allowed)


TOY_CONFIG = '''
"""Toy configuration."""
from __future__ import annotations

import math


class Registrable:
    registered: dict = {}

    @classmethod
    def register_for_auto_class(cls, auto_class):
        Registrable.registered[cls.__name__] = auto_class


class ToyConfig(Registrable):
    model_type = "toy"
    scale = math.pi
'''
TOY_LAYERS = '''
"""Toy layers."""
from __future__ import annotations

import math

from ..configuration.configuration_toy import ToyConfig

SCALE_FIELD = "scale"


def double(x):
    return 2 * x * getattr(ToyConfig, SCALE_FIELD) / math.pi


__all__ = ["double"]
'''
TOY_MODELING = '''
"""Toy model."""
from __future__ import annotations

import json
from collections import OrderedDict

from ..configuration import Registrable, ToyConfig
from .layers import double

SCALE_FIELD = "scale"


class ToyModel(Registrable):
    config_class = ToyConfig

    def forward(self, x):
        return double(x)

    def save_pretrained(self, folder):
        from ..hub.export import something

        return something(folder)

    @classmethod
    def load(cls):
        try:
            import numpy  # an optional dependency stays where it is
        except ImportError:
            numpy = None
        return json.dumps(OrderedDict(numpy=numpy is not None))


__all__ = ["ToyModel"]
'''


def _toy_tree(root: Path, modeling: str = TOY_MODELING) -> Path:
    for sub, files in {
        "configuration": {
            "configuration_toy.py": TOY_CONFIG,
            "__init__.py": "from .configuration_toy import Registrable, ToyConfig\n",
        },
        "modeling": {"layers.py": TOY_LAYERS, "modeling_toy.py": modeling, "__init__.py": ""},
    }.items():
        (root / sub).mkdir(parents=True)
        for name, text in files.items():
            (root / sub / name).write_text(textwrap.dedent(text).lstrip())
    return root


def test_generator_flattens_a_source_tree_into_importable_sibling_files(tmp_path):
    files = generate(
        _toy_tree(tmp_path / "src"),
        auto_classes={"AutoConfig": "ToyConfig", "AutoModel": "ToyModel"},
        model_type="toy",
    )
    assert set(files) == {"configuration_toy.py", "modeling_toy.py"}
    modeling = files["modeling_toy.py"]
    # Package imports become one sibling import; external ones are hoisted once; the hub hook is left out.
    assert "\nfrom .configuration_toy import Registrable, ToyConfig\n" in modeling
    assert modeling.count("import math\n") == 1 and "..hub" not in modeling and "save_pretrained" not in modeling
    assert modeling.index("def double(") < modeling.index("class ToyModel(")  # dependencies first
    assert modeling.index("class ToyModel(") < modeling.index("import numpy  # an optional")  # stays in its block
    # A statement repeated in two modules is kept once; the modules' `__all__` become one.
    assert modeling.count('SCALE_FIELD = "scale"') == 1 and modeling.count("__all__") == 1
    assert '\n__all__ = ["double", "ToyModel"]\n' in modeling
    bundle = tmp_path / "toybundle"
    bundle.mkdir()
    (bundle / "__init__.py").write_text("")
    for name, text in files.items():
        (bundle / name).write_text(text)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from toybundle.modeling_toy import ToyModel, Registrable; "
            "print(ToyModel().forward(3), ToyModel.load(), sorted(Registrable.registered.items()))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split(" ", 1)[0] == "6.0" and "[('ToyConfig', 'AutoConfig'), ('ToyModel', 'AutoModel')]" in out


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            ("from .layers import double\n", "from .layers import double\nfrom ..hub.export import x\n"),
            "at module level",
        ),
        (("from .layers import double\n", "from . import layers\n"), "cannot be flattened"),
        (("from .layers import double\n", "from .layers import double as twice\n"), "under their own name"),
        (("class ToyModel(", "def double(x):\n    return x\n\n\nclass ToyModel("), "defined in both"),
        (
            ("    def forward(self, x):\n", "    def forward(self, x):\n        from .layers import double\n"),
            "inside a block",
        ),
        (
            (
                "from collections import OrderedDict\n",
                "from collections import OrderedDict\nfrom json import dumps as double\n",
            ),
            "two things",
        ),
        (("from __future__ import annotations\n", ""), "disagree on `from __future__`"),
    ],
)
def test_generator_refuses_what_it_cannot_flatten(tmp_path, edit, message):
    old, new = edit
    assert old in TOY_MODELING
    root = _toy_tree(tmp_path, TOY_MODELING.replace(old, new, 1))
    with pytest.raises(RemoteCodeGenerationError, match=message):
        generate(root, auto_classes={"AutoModel": "ToyModel"}, model_type="toy")


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
    with pytest.raises(OSError, match=r"pickled weights \(pytorch_model.bin\).*allow_pickle=True"):
        load(folder)
    with pytest.raises(ValueError, match="allow_pickle=True"):
        load(folder, use_safetensors=False)


def test_pickle_loads_only_with_explicit_opt_in(pickle_only_checkpoint):
    folder, model = pickle_only_checkpoint
    loaded = transformers.AutoModelForSequenceClassification.from_pretrained(folder, allow_pickle=True).eval()
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    torch.testing.assert_close(loaded(ids).logits, model(ids).logits, rtol=0, atol=0)
    assert not hasattr(loaded.config, "allow_pickle")  # the opt-in is a load option, never saved into the config


def test_sharded_safetensors_checkpoints_load_and_a_missing_shard_is_named(tmp_path):
    """Safetensors-only loading takes sharded checkpoints (index + shards); a missing shard is reported as such,
    not as a pickle problem."""
    model = seedformer.SeedformerForMaskedLM(tiny_config()).eval()
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    shards = sorted(tmp_path.glob("model-*.safetensors"))
    assert (tmp_path / "model.safetensors.index.json").is_file() and len(shards) > 1
    assert_ships_the_generated_code(tmp_path)
    ids = torch.tensor([[2, 5, 6, 7, 3]])
    loaded = transformers.AutoModelForMaskedLM.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(loaded(ids).logits, model(ids).logits, rtol=0, atol=0)
    shards[-1].unlink()
    with pytest.raises(OSError, match=shards[-1].name) as err:
        transformers.AutoModelForMaskedLM.from_pretrained(tmp_path)
    assert "allow_pickle" not in str(err.value)


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
    assert_ships_the_generated_code(tmp_path / "shared")
    assert not list((tmp_path / "shared").glob(".*.tmp"))  # no temporary file left behind
    assert transformers.AutoModelForMaskedLM.from_pretrained(folder).config.model_type == "seedformer"
