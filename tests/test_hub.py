"""Push to a Hub and pull back without the package, against the in-memory stand-in in `hub_server.py`.

`huggingface_hub` reads `HF_ENDPOINT` when it is imported, so pushing and pulling run in subprocesses started with
`HF_ENDPOINT` pointing at the stand-in on 127.0.0.1 (loopback only; `HF_HUB_OFFLINE=0` in those processes alone).
The pusher has seedformer installed; the puller is the isolated interpreter of `test_remote_code.py` (no seedformer
importable) with its own empty `HF_HOME`, so everything it loads is downloaded through `huggingface_hub`.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from hub_server import HubServer
from test_remote_code import TEXT, run_isolated, tiny_tokenizer

from seedformer.hub.export import remote_code_auto_map, remote_code_files
from seedformer.hub.model_card import build_model_card, head_task

TINY = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=64,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)
REPOS = {
    "cls": ("me/seedformer-cls", "AutoModelForSequenceClassification"),  # tokenizer.push_to_hub + model.push_to_hub
    "tok": ("me/seedformer-ner", "AutoModelForTokenClassification"),  # save_pretrained(push_to_hub=True)
    "mlm": ("me/seedformer-mlm", "AutoModelForMaskedLM"),  # Trainer(push_to_hub=True) + the run's model card
}


def hub_env(endpoint: str, home: Path) -> dict:
    return {
        "HF_ENDPOINT": endpoint,
        "HF_HUB_OFFLINE": "0",
        "HF_TOKEN": "dummy-token",
        "HF_HOME": str(home),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


PUSH_SCRIPT = """
import torch, transformers, datasets
import seedformer
from safetensors.torch import save_file
from transformers import AutoTokenizer, DataCollatorForLanguageModeling, Trainer, TrainingArguments
from seedformer.hub.export import RemoteCodeCallback
from seedformer.hub.model_card import write_run_model_card

tiny, texts, work, repos = {tiny!r}, {texts!r}, {work!r}, {repos!r}


def private_api(*args, **kwargs):
    raise AssertionError("a Seedformer push used transformers' private upload helpers")


# Seedformer's own pushes go through huggingface_hub's public API only.
seedformer.SeedformerPreTrainedModel._upload_modified_files = private_api
seedformer.SeedformerPreTrainedModel._get_files_timestamps = private_api
tok = AutoTokenizer.from_pretrained(work + "/tokenizer")
enc = dict(tok(texts, padding=True, return_tensors="pt"))
refs = {{}}

torch.manual_seed(0)
cls = seedformer.SeedformerForSequenceClassification(seedformer.SeedformerConfig(num_labels=3, **tiny)).eval()
tok.push_to_hub(repos["cls"][0])  # tokenizer first: transformers puts its placeholder card in the repo
cls.push_to_hub(repos["cls"][0])  # ... which the model's push replaces with a Seedformer card
refs["cls"] = cls(**enc).logits.detach()

ner = seedformer.SeedformerForTokenClassification(seedformer.SeedformerConfig(num_labels=5, **tiny)).eval()
ner.save_pretrained(work + "/ner", push_to_hub=True, repo_id=repos["tok"][0])
tok.push_to_hub(repos["tok"][0])
refs["tok"] = ner(**enc).logits.detach()

mlm = seedformer.SeedformerForMaskedLM(seedformer.SeedformerConfig(**tiny))
rows = datasets.Dataset.from_dict(dict(tok(texts * 4, return_special_tokens_mask=True)))
args = TrainingArguments(
    output_dir=work + "/trainer", push_to_hub=True, hub_model_id=repos["mlm"][0], max_steps=2,
    per_device_train_batch_size=4, save_strategy="steps", save_steps=1, use_cpu=True, report_to="none",
    learning_rate=1e-3, logging_steps=1, disable_tqdm=True,
)
trainer = Trainer(
    model=mlm, args=args, train_dataset=rows, eval_dataset=rows, processing_class=tok,
    data_collator=DataCollatorForLanguageModeling(tok, mlm_probability=0.3, seed=0), callbacks=[RemoteCodeCallback()],
)
trainer.train()
metrics = trainer.evaluate()
trainer.push_to_hub(blocking=True)
write_run_model_card(args, metrics, datasets=["imdb"], license="apache-2.0")
refs["mlm"] = mlm.eval()(**enc).logits.detach()
save_file({{k: v.contiguous() for k, v in refs.items()}}, work + "/references.safetensors")

# A repo whose weights are only a pickle (an old or hostile upload): refused unless the user opts in.
import os
from huggingface_hub import HfApi
from safetensors.torch import load_file
cls.save_pretrained(work + "/pickled")
weights = load_file(work + "/pickled/model.safetensors")
os.remove(work + "/pickled/model.safetensors")
torch.save(weights, work + "/pickled/pytorch_model.bin")
HfApi().create_repo("me/pickle-only", exist_ok=True)
HfApi().upload_folder(folder_path=work + "/pickled", repo_id="me/pickle-only")
try:
    transformers.AutoModelForSequenceClassification.from_pretrained("me/pickle-only")
    raise SystemExit("pickle-only repo was loaded without opting in")
except OSError as err:
    assert "allow_pickle=True" in str(err), err
opted_in = transformers.AutoModelForSequenceClassification.from_pretrained("me/pickle-only", allow_pickle=True).eval()
assert torch.equal(opted_in(**enc).logits, refs["cls"])
print("PUSHED")
"""

PULL_SCRIPT = """
import json, os, torch, transformers
from huggingface_hub import snapshot_download
from safetensors.torch import load_file
from transformers import AutoTokenizer
repos, texts, work = {repos!r}, {texts!r}, {work!r}
refs = load_file(work + "/references.safetensors")
report = {{}}
for key, (repo_id, auto_name) in repos.items():
    tok = AutoTokenizer.from_pretrained(repo_id)
    model = getattr(transformers, auto_name).from_pretrained(repo_id, trust_remote_code=True).eval()
    assert type(model).__module__.startswith("transformers_modules."), type(model).__module__
    with torch.no_grad():
        logits = model(**tok(texts, padding=True, return_tensors="pt")).logits
    report[key] = {{
        "diff": float((logits - refs[key]).abs().max()),
        "files": sorted(os.listdir(snapshot_download(repo_id))),
    }}
# The remote code refuses pickled weights the same way.
try:
    transformers.AutoModelForSequenceClassification.from_pretrained("me/pickle-only", trust_remote_code=True)
    raise SystemExit("pickle-only repo was loaded through remote code without opting in")
except OSError as err:
    assert "allow_pickle=True" in str(err), err
opted_in = transformers.AutoModelForSequenceClassification.from_pretrained(
    "me/pickle-only", trust_remote_code=True, allow_pickle=True
).eval()
assert type(opted_in).__module__.startswith("transformers_modules.")

# Someone without the package pushes the remote-code model on (e.g. after finetuning it): the generated classes use
# transformers' own push_to_hub / save_pretrained, whose code copy ships the same files, and the new repo loads again.
repo_id, auto_name = repos["cls"]
model = getattr(transformers, auto_name).from_pretrained(repo_id, trust_remote_code=True).eval()
model.push_to_hub("me/repushed")
again = getattr(transformers, auto_name).from_pretrained("me/repushed", trust_remote_code=True).eval()
with torch.no_grad():
    enc = AutoTokenizer.from_pretrained(repo_id)(texts, padding=True, return_tensors="pt")
    report["repushed"] = {{"diff": float((again(**enc).logits - refs["cls"]).abs().max()), "files": []}}
print("REPORT" + json.dumps(report))
"""


@pytest.fixture(scope="module")
def pushed(tmp_path_factory):
    """Run the three push paths against a fresh stand-in; yield (hub, work dir)."""
    work = tmp_path_factory.mktemp("hub")
    tiny_tokenizer().save_pretrained(work / "tokenizer")
    with HubServer() as hub:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
        env.update(hub_env(hub.endpoint, work / "pusher_home"), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
        script = PUSH_SCRIPT.format(tiny=TINY, texts=TEXT, work=str(work), repos=REPOS)
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0 and "PUSHED" in proc.stdout, proc.stderr[-6000:]
        yield hub, work


@pytest.mark.slow
def test_pushes_upload_weights_config_tokenizer_code_and_card(pushed):
    hub, _ = pushed
    code = {p.name: p.read_bytes() for p in remote_code_files()}
    for key, (repo_id, auto_name) in REPOS.items():
        files = hub.files(repo_id)
        expected = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"} | set(
            code
        )
        assert expected <= set(files), (key, expected - set(files))
        assert {name: files[name] for name in code} == code, key  # the generated files, byte for byte
        assert not [p for p in files if p.endswith((".bin", ".pt", ".pkl")) and p != "training_args.bin"], key
        assert json.loads(files["config.json"])["auto_map"] == remote_code_auto_map()
        meta = yaml.safe_load(files["README.md"].decode().split("---")[1])
        assert meta["library_name"] == "transformers" and "seedformer" in meta["tags"], (key, meta)
        assert meta["pipeline_tag"] == head_task(auto_name.replace("AutoModel", "Seedformer"))[0]
        assert "trust_remote_code=True" in files["README.md"].decode()
    # The uploads went through the Hub's API routes (create, preupload, commit) on the stand-in.
    posts = {p for m, p in hub.state.requests if m == "POST"}
    assert "/api/repos/create" in posts
    assert {f"/api/models/{REPOS['cls'][0]}/preupload/main", f"/api/models/{REPOS['cls'][0]}/commit/main"} <= posts


@pytest.mark.slow
def test_save_pretrained_push_is_one_commit_with_the_code(pushed):
    hub, _ = pushed
    repo_id = REPOS["tok"][0]
    with hub.state.lock:
        first_push = hub.state.repos[repo_id].commits[1].files  # commit 0 is the empty initial one
    assert {"config.json", "model.safetensors", "modeling_seedformer.py", "configuration_seedformer.py"} <= set(
        first_push
    )


@pytest.mark.slow
def test_trainer_push_carries_code_in_checkpoint_pushes_and_the_run_card(pushed):
    hub, work = pushed
    repo_id = REPOS["mlm"][0]
    with hub.state.lock:
        commits = list(hub.state.repos[repo_id].commits[1:])
    # Every commit after the first checkpoint push serves trust_remote_code (auto_map + the files it names).
    for commit in commits:
        if "config.json" in commit.files:
            assert {f"{ref.split('.')[0]}.py" for ref in remote_code_auto_map().values()} <= set(commit.files), (
                commit.message
            )
    card = hub.files(repo_id)["README.md"].decode()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["datasets"] == ["imdb"] and meta["license"] == "apache-2.0"
    assert "loss" in meta["metrics"]
    results = meta["model-index"][0]["results"]
    assert any(m["name"] == "eval_loss" and m["value"] > 0 for r in results for m in r["metrics"])
    assert "learning_rate" in card and "import seedformer" in card
    assert (work / "trainer" / "README.md").read_text() == card  # the local copy is what was pushed
    assert {p.name: p.read_bytes() for p in (work / "trainer").glob("*.py")} == {
        p.name: p.read_bytes() for p in remote_code_files()
    }


@pytest.mark.slow
def test_pull_without_the_package_matches(pushed):
    """Remote-code loads from the Hub match; a pickle-only repo is refused there too unless allow_pickle=True."""
    hub, work = pushed
    script = PULL_SCRIPT.format(repos=REPOS, texts=TEXT, work=str(work))
    out = run_isolated(script, cwd=work, **hub_env(hub.endpoint, work / "puller_home"))
    report = json.loads(out.split("REPORT", 1)[1])
    for key in REPOS:
        assert report[key]["diff"] <= 1e-6, (key, report[key])  # same code and weights; observed 0
        assert "modeling_seedformer.py" in report[key]["files"]
    assert report["repushed"]["diff"] <= 1e-6, report["repushed"]
    repushed = hub.files("me/repushed")
    assert {p.name: repushed.get(p.name) for p in remote_code_files()} == {
        p.name: p.read_bytes() for p in remote_code_files()
    }
    assert json.loads(repushed["config.json"])["auto_map"] == remote_code_auto_map()
    # The puller really downloaded from the stand-in (its cache started empty).
    assert any(m == "GET" and "/resolve/" in p for m, p in hub.state.requests)


def test_model_card_metadata_per_head():
    import seedformer

    card = build_model_card(
        seedformer.SeedformerForTokenClassification(seedformer.SeedformerConfig(**TINY)),
        repo_id="me/ner",
        datasets=["conll2003"],
        metrics={"eval_f1": 0.5, "eval_runtime": 3.0, "epoch": 1.0},
        base_model="me/base",
    )
    meta = card.data.to_dict()
    assert meta["pipeline_tag"] == "token-classification" and meta["base_model"] == "me/base"
    assert meta["metrics"] == ["f1"]  # bookkeeping numbers (runtime, epoch) are not metrics
    assert 'AutoModelForTokenClassification.from_pretrained("me/ner", trust_remote_code=True)' in card.content
    assert "import seedformer" in card.content


@pytest.mark.slow
def test_pretrain_script_push_to_hub_uploads_code_and_run_card(tmp_path):
    """`scripts/pretrain.py ... --push_to_hub --hub_model_id me/seedformer-pretrained` (tiny run) against the stand-in."""
    import gzip

    corpus = tmp_path / "tinycorpus"
    corpus.mkdir()
    with gzip.open(corpus / "train.jsonl.gz", "wt") as f:
        for i in range(40):
            f.write(json.dumps({"text": f"{TEXT[i % 2]}. {TEXT[(i + 1) % 2]}."}) + "\n")
    tiny_tokenizer().save_pretrained(tmp_path / "tok")
    script = Path(__file__).resolve().parents[1] / "scripts" / "pretrain.py"
    repo_id = "me/seedformer-pretrained"
    with HubServer() as hub:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
        env.update(hub_env(hub.endpoint, tmp_path / "home"), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
        args = [
            "--train_file", str(corpus / "train.jsonl.gz"), "--tokenizer_name", str(tmp_path / "tok"),
            "--config_overrides", "hidden_size=32,num_hidden_layers=1,num_attention_heads=4,intermediate_size=37",
            "--max_seq_length", "32", "--output_dir", str(tmp_path / "run"), "--do_train", "--do_eval",
            "--max_steps", "2", "--per_device_train_batch_size", "4", "--validation_split_percentage", "20",
            "--use_cpu", "--report_to", "none", "--disable_tqdm", "true", "--save_strategy", "steps", "--save_steps", "1",
            "--push_to_hub", "--hub_model_id", repo_id,
        ]  # fmt: skip
        proc = subprocess.run(
            [sys.executable, str(script), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-6000:]
        files = hub.files(repo_id)
        with hub.state.lock:
            commits = list(hub.state.repos[repo_id].commits[1:])
    assert {"config.json", "model.safetensors", "tokenizer.json", "modeling_seedformer.py", "README.md"} <= set(files)
    # Checkpoint pushes during training (hub_strategy every_save) already serve trust_remote_code.
    assert len(commits) >= 3
    needed = {f"{ref.split('.')[0]}.py" for ref in remote_code_auto_map().values()}
    assert all(needed <= set(c.files) for c in commits if "config.json" in c.files)
    meta = yaml.safe_load(files["README.md"].decode().split("---")[1])
    assert meta["datasets"] == ["tinycorpus"] and meta["pipeline_tag"] == "fill-mask"
    assert any(m["name"] == "eval_loss" for r in meta["model-index"][0]["results"] for m in r["metrics"])
    assert files["README.md"].decode() == (tmp_path / "run" / "README.md").read_text()


def test_card_fields_from_script_arguments(tmp_path):
    from types import SimpleNamespace as Args

    from seedformer.hub.model_card import card_fields_from_args

    imdb = Args(dataset_name=None, train_file="/data/imdb/train.jsonl.gz")
    assert card_fields_from_args(Args(model_name_or_path="me/base"), imdb) == {
        "datasets": ["imdb"],
        "base_model": "me/base",
    }
    # A local checkpoint folder is not a Hub id, so it is not claimed as base_model.
    assert card_fields_from_args(Args(model_name_or_path=str(tmp_path)), Args(data_dir="/d/multi30k")) == {
        "datasets": ["multi30k"]
    }
    assert card_fields_from_args(None, Args(dataset_name="glue", train_file=None)) == {"datasets": ["glue"]}


def test_model_card_for_seq2seq_checkpoint_config():
    config = {"architectures": ["SeedformerForConditionalGeneration"], "is_encoder_decoder": True, "decoder_layers": 1}
    card = build_model_card(config, repo_id="me/mt", datasets=["multi30k"], metrics={"eval_bleu": 12.5, "samples": []})
    meta = card.data.to_dict()
    assert meta["pipeline_tag"] == "text2text-generation" and meta["metrics"] == ["bleu"]
    assert 'AutoModelForSeq2SeqLM.from_pretrained("me/mt", trust_remote_code=True)' in card.content
    assert "`decoder_layers` | `1`" in card.content
