"""The README is run, not read.

`test_readme_runs_top_to_bottom` copies the working tree into a temporary folder named `seedformer` (what
`git clone` gives; tracked and untracked-but-not-ignored files, so uncommitted edits are tested too) with
`../shared` beside it (a symlink to this repository's `../shared`, or `$SEEDFORMER_SHARED_DATA/..`), then runs every
```bash and ```python block of README.md in order, from the copy's root, as a user following the README would:

- each ```bash block is one `bash -e -o pipefail` script, with the README text unchanged (variables, `$(...)`,
  `&&` and comments included); blocks do not share shell variables;
- each ```python block is one `python -c` process; `import seedformer` finds the copy (`PYTHONPATH` is the copy's
  parent, as `pip install -e .` would make it); later blocks read what earlier ones wrote under `runs/`.

What the test changes, and only through the environment (never the README text):

- Sizes. `python`, `torchrun` and `accelerate` on `PATH` are shims that rewrite the arguments of our scripts with
  `SIZES` below (a flag's value replaced, or the flag appended when the command lacks it; `--config_overrides` is
  merged key by key so the README's other settings stay), so a 13-minute pretraining runs 2 steps on 64 documents.
  The launchers also get a free rendezvous port instead of the default 29500, which a parallel run may hold.
- The Hub. `HF_ENDPOINT` points at `tests/hub_server.py` (stdlib stand-in on 127.0.0.1, `HF_HUB_OFFLINE=0`), which
  the fixture seeds with a tiny random BART under `facebook/bart-base`, so `hf download`, `push_to_hub` and
  `from_pretrained("you/...")` run through `huggingface_hub` itself. The stand-in checks the client side of the
  wire only (no auth, LFS/Xet or size limits).
- Installing. `pip` is a shim that checks and does not install: `pip install -e PATH[extras]` must name a folder
  with a `setup.cfg` declaring those extras, pinned requirements (`torch==2.13.0`) must match what is installed,
  and `"seedformer @ git+URL"` must name the package `setup.cfg` declares, at `PROJECT_URL`. Really installing would
  change the interpreter that runs this test (and the shared machine's environment).
  `git clone PROJECT_URL` clones this repository from its local path instead (the URL is a placeholder).

Run time: 7 min of block time on the project's 2 shared cores in the full `-n 2` suite (2026-12-01; 15 min
with the machine at load 6-7): some 30 processes that each import torch and transformers dominate, so the test is
marked `slow` (`-m "not slow"` deselects it locally; CI runs it), and conftest.py collects it first, so that it
starts at once under `-n 2` instead of ending the suite. Each block's time is printed (`-s`).

Commands that cannot run here are listed in `NOT_RUN` with the reason; each has a form that does run right beside
it in the README, and their flags are still checked against the script's `--help` (`test_script_command_flags_exist`).
"""

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
BLOCK = re.compile(r"```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)
BLOCKS = [(m.group("lang"), m.group("body"), README[: m.start()].count("\n") + 1) for m in BLOCK.finditer(README)]
SHARED = (
    Path(os.environ["SEEDFORMER_SHARED_DATA"]).parent
    if os.environ.get("SEEDFORMER_SHARED_DATA")
    else REPO.parent / "shared"
)
PROJECT_URL = "https://github.com/seedformer/seedformer"  # the README's placeholder for the repository URL

TINY_MODEL = "hidden_size=32,num_hidden_layers=1,num_attention_heads=2,intermediate_size=64,max_position_embeddings=64"
TRAINER = {"--report_to": "none", "--disable_tqdm": "true", "--logging_steps": "1"}
# Per script: flag -> value the doc test uses. Only sizes (data, steps, widths, batch sizes, vocabularies) and
# Trainer chatter; every other flag runs as the README writes it.
SIZES = {
    "scripts/quickstart.py": {
        "--max_examples": "400", "--vocab_size": "300", "--max_seq_length": "64", "--hidden_size": "32",
        "--intermediate_size": "64", "--pretrain_steps": "10", "--pretrain_batch_size": "8", "--finetune_epochs": "1",
    },
    "scripts/train_tokenizer.py": {"--max_train_samples": "300", "--vocab_size": "300"},
    "scripts/pretrain.py": {
        **TRAINER, "--max_train_samples": "64", "--max_eval_samples": "16", "--max_steps": "2", "--eval_steps": "1",
        "--save_steps": "1", "--warmup_steps": "0", "--per_device_train_batch_size": "4",
        "--per_device_eval_batch_size": "16", "--max_seq_length": "64", "--config_overrides": TINY_MODEL,
    },
    "scripts/finetune.py": {
        **TRAINER, "--max_train_samples": "32", "--max_eval_samples": "16", "--max_steps": "2",
        "--per_device_train_batch_size": "4", "--per_device_eval_batch_size": "16", "--max_seq_length": "64",
    },
    "scripts/extract_features.py": {"--max_samples": "16", "--batch_size": "8"},
    "scripts/pretrain_study.py": {
        "--budgets": "0.02", "--max_corpus_docs": "200", "--tokenizer_docs": "200", "--vocab_size": "300",
        "--pretrain_eval_docs": "10", "--probe_samples": "20", "--imdb_train": "40", "--imdb_eval": "30",
        "--imdb_epochs": "1", "--finetune_max_length": "32", "--max_seq_length": "32", "--model_overrides": TINY_MODEL,
        "--imdb_select": "30", "--finetune_learning_rates": "5e-4,1e-3",
    },
}  # fmt: skip
# README command (its start) -> why it is not run here. Each has a runnable form beside it in the README.
NOT_RUN = {
    'pip install -q torch==2.13.0 -e ".[dev]" && pytest -q -n 2 tests': "the whole suite, including this test: it is "
    "what CI runs (.ci/run), checked by test_readme_has_the_two_commands",
    "torchrun --nproc_per_node=8": "needs 8 GPUs (bf16 BERT-base); the CPU form beside it runs 2 processes",
    "accelerate launch --multi_gpu --num_processes 8": "needs 8 GPUs; the CPU form beside it runs 2 processes",
    "python scripts/benchmark.py --output-dir benchmark-results": "the full grid takes ~45 min; `--quick` runs",
    "OMP_NUM_THREADS=1 python scripts/pretrain_study.py": "minutes to hours of CPU per arm, appending to the committed "
    "docs/pretrain_study/results.csv; the smoke run beside it runs the same study code on a tiny budget",
}

SHIM = r"""
import configparser, json, os, socket, subprocess, sys
from importlib.metadata import version
from pathlib import Path

tool, args = sys.argv[1], sys.argv[2:]
sizes = json.loads(os.environ["README_TEST_SIZES"])
real_python = os.environ["README_TEST_PYTHON"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def resize(script_args, table):
    out = list(script_args)
    for flag, value in table.items():
        at = next((i for i, a in enumerate(out) if a == flag or a.startswith(flag + "=")), None)
        if flag == "--config_overrides" and at is not None:
            old = out[at].split("=", 1)[1] if "=" in out[at] else out[at + 1]
            merged = dict(kv.split("=", 1) for kv in old.split(","))
            merged.update(kv.split("=", 1) for kv in value.split(","))
            value = ",".join(f"{k}={v}" for k, v in merged.items())
        if at is None:
            out += [flag, value]
        elif "=" in out[at]:
            out[at] = f"{flag}={value}"
        else:
            out[at + 1] = value
    return out


if tool == "pip":  # check, do not install
    assert args[0] == "install", args
    cfg = configparser.ConfigParser()
    words = [a for a in args[1:] if a not in ("-q", "--quiet")]
    checked = []
    while words:
        word = words.pop(0)
        if word == "-e":
            spec = words.pop(0)
            path, _, extras = spec.partition("[")
            cfg.read(Path(path) / "setup.cfg")
            assert cfg.has_option("options", "install_requires"), f"pip install -e {spec}: no setup.cfg in {path}"
            declared = set(cfg["options.extras_require"]) if cfg.has_section("options.extras_require") else set()
            wanted = {e for e in extras.rstrip("]").split(",") if e}
            assert wanted <= declared, f"pip install -e {spec}: extras {wanted - declared} not in setup.cfg"
            checked.append(f"-e {spec}")
            continue
        from packaging.requirements import Requirement
        req = Requirement(word)
        if req.url:
            cfg.read(os.environ["README_TEST_REPO"] + "/setup.cfg")
            assert req.name == cfg["metadata"]["name"], f"{word}: setup.cfg names the package {cfg['metadata']['name']}"
            assert req.url == "git+" + os.environ["README_TEST_URL"], f"{word}: not the project URL"
        else:
            assert req.specifier.contains(version(req.name), prereleases=True), f"{word}: installed {version(req.name)}"
        checked.append(word)
    print("pip (README doc test): checked, not installed:", " ".join(checked))
    sys.exit(0)

if tool == "git":
    real_git = os.environ["README_TEST_GIT"]
    if args[:1] == ["clone"] and os.environ["README_TEST_URL"] in args:
        args = [os.environ["README_TEST_REPO"] if a == os.environ["README_TEST_URL"] else a for a in args]
        target = args[2] if len(args) > 2 else os.environ["README_TEST_URL"].rsplit("/", 1)[1]
        args = ["clone", "-q", args[1], target]
    os.execv(real_git, [real_git, *args])

script_at = next((i for i, a in enumerate(args) if a.startswith("scripts/") and a.endswith(".py")), None)
if script_at is not None:
    args = args[: script_at + 1] + resize(args[script_at + 1 :], sizes.get(args[script_at], {}))
if tool == "torchrun":
    args = ["-m", "torch.distributed.run", f"--master_port={free_port()}", *args]
elif tool == "accelerate":
    assert args[0] == "launch", args
    args = ["-m", "accelerate.commands.launch", "--main_process_port", free_port(), *args[1:]]
with open(os.environ["README_TEST_LOG"], "a") as log:
    log.write(json.dumps([tool, *args]) + "\n")
os.execv(real_python, [real_python, *args])
"""


def _strip_not_run(body: str) -> str:
    """Replace the README's NOT_RUN commands (with their continuation lines) by a no-op that says why."""
    lines, out = body.split("\n"), []
    skipping = False
    for line in lines:
        if skipping:
            skipping = line.rstrip().endswith("\\")
            continue
        reason = next((why for start, why in NOT_RUN.items() if line.strip().startswith(start)), None)
        if reason:
            out.append(f": not run by the doc test: {shlex.quote(reason)}")
            skipping = line.rstrip().endswith("\\")
        else:
            out.append(line)
    return "\n".join(out)


def _hashes(root: Path, names) -> dict[str, str | None]:
    return {n: hashlib.sha256((root / n).read_bytes()).hexdigest() if (root / n).is_file() else None for n in names}


@pytest.fixture
def readme_clone(tmp_path):
    """The copy of the working tree, `../shared` beside it, the shims on PATH and the Hub stand-in seeded."""
    if not (SHARED / "data").exists():
        pytest.skip(f"example data not found at {SHARED / 'data'} (set SEEDFORMER_SHARED_DATA)")
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")  # fmt: skip
    clone = tmp_path / "seedformer"
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, clone / name)
    (tmp_path / "shared").symlink_to(SHARED.resolve())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "shim.py").write_text(SHIM)
    for tool in ("python", "torchrun", "accelerate", "pip", "git"):
        (bin_dir / tool).write_text(f'#!/bin/sh\nexec "{sys.executable}" "{tmp_path / "shim.py"}" {tool} "$@"\n')
        (bin_dir / tool).chmod(0o755)
    from hub_server import HubServer

    with HubServer() as hub:
        _seed_tiny_bart(hub, tmp_path / "bart")
        env = {
            **os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(tmp_path),
            "HF_ENDPOINT": hub.endpoint, "HF_HUB_OFFLINE": "0", "HF_TOKEN": "dummy-token",
            "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            "TOKENIZERS_PARALLELISM": "false", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
            "README_TEST_SIZES": json.dumps(SIZES), "README_TEST_PYTHON": sys.executable,
            "README_TEST_LOG": str(tmp_path / "launches.jsonl"), "README_TEST_REPO": str(REPO),
            "README_TEST_URL": PROJECT_URL, "README_TEST_GIT": shutil.which("git"),
        }  # fmt: skip
        yield clone, env, tmp_path / "launches.jsonl"


def _seed_tiny_bart(hub, folder: Path):
    """A random BART with BART's architecture, a few thousand parameters, served as `facebook/bart-base`."""
    from transformers import BartConfig, BartForConditionalGeneration

    config = BartConfig(vocab_size=64, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64)  # fmt: skip
    BartForConditionalGeneration(config).save_pretrained(folder)
    hub.state.create("facebook/bart-base")
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    hub.state.commit("facebook/bart-base", "tiny random BART for the README doc test", files, [])


@pytest.mark.slow
def test_readme_runs_top_to_bottom(readme_clone):
    clone, env, launches = readme_clone
    before = _hashes(clone, [str(p.relative_to(clone)) for p in clone.rglob("*") if p.is_file()])
    failures, timings = [], []
    for lang, body, line in BLOCKS:
        if lang not in ("bash", "python"):
            continue
        if lang == "bash":
            cmd = ["bash", "-e", "-o", "pipefail", "-c", _strip_not_run(body)]
        else:
            cmd = [sys.executable, "-c", body]
        # `git clone ... && cd seedformer` starts where a user stands before having a clone: an empty folder.
        cwd = clone.parent / "home" if re.search(r"^git clone", body, re.M) else clone
        cwd.mkdir(exist_ok=True)
        start = time.perf_counter()
        result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        timings.append(f"{time.perf_counter() - start:6.1f}s  README line {line} ({lang})")
        print(timings[-1], "" if result.returncode == 0 else "FAILED", flush=True)
        log = result.stdout + result.stderr
        if result.returncode != 0:
            failures.append(f"README line {line} ({lang}) failed:\n{body}\n--- output (tail) ---\n{log[-4000:]}")
        elif "--ddp_backend gloo" in body:  # the CPU multi-process forms: really two processes
            script = next(name for name in SIZES if name in body)
            per_device = int(SIZES[script]["--per_device_train_batch_size"])
            launched = body.count("torchrun --nproc_per_node=2") + body.count("--num_processes 2")
            total = re.findall(r"Total train batch size \(w\. parallel, distributed & accumulation\) = (\d+)", log)
            if script == "scripts/finetune.py" and len(re.findall(r'^\s*"eval_loss": ', log, re.M)) != 1:
                failures.append(f"README line {line}: the results (JSON) must be printed once, by the main process")
            # The value proves two processes. How many ranks print it is transformers' logging (rank 0 only on
            # this machine; one CI run logged it from both ranks), so each launch must log it at least once.
            if len(total) < launched or set(total) != {str(2 * per_device)}:
                failures.append(
                    f"README line {line}: expected {launched} runs of 2 processes x {per_device}, log says {total}"
                )
    launched_scripts = {
        a for row in launches.read_text().splitlines() for a in json.loads(row) if a.startswith("scripts/")
    }
    assert set(SIZES) <= launched_scripts, (
        f"SIZES lists scripts the README never runs: {set(SIZES) - launched_scripts}"
    )
    after = _hashes(clone, before)
    changed = sorted(k for k, v in before.items() if after.get(k) != v)
    assert not changed, f"README commands overwrote tracked files: {changed}"
    assert not failures, "\n\n".join(failures)


def _assignments(body: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r'^(\w+)="([^"]*)"', body, re.M)}


def script_commands():
    commands = []
    for lang, body, line in BLOCKS:
        if lang != "bash":
            continue
        variables = _assignments(body)
        for command in re.sub(r"\\\n\s*", " ", body).splitlines():
            command = command.split(" #", 1)[0].strip()
            for name, value in variables.items():  # $IMDB, $ARGS: check the flags they carry too
                command = re.sub(rf"\${name}\b", lambda _, v=value: v.replace("\n", " "), command)
            if "scripts/" in command:
                commands.append(pytest.param(command, id=f"line{line}:{command[:40]}"))
    return commands


HELP_ALL = """
import contextlib, io, runpy, sys
for script in sys.argv[1:]:
    out = io.StringIO()
    sys.argv = [script, "--help"]
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit:
            pass
    print("=== " + script)
    print(out.getvalue())
"""


@cache
def all_script_help() -> dict[str, str]:
    """`--help` of every script, collected in ONE fresh process (each start imports torch and transformers)."""
    scripts = sorted(str(p.relative_to(REPO)) for p in (REPO / "scripts").glob("*.py"))
    result = subprocess.run([sys.executable, "-c", HELP_ALL, *scripts], cwd=REPO, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    sections = re.split(r"^=== (scripts/\S+)$", result.stdout, flags=re.M)
    return dict(zip(sections[1::2], sections[2::2]))


def script_help(script: str) -> str:
    help_text = all_script_help().get(script, "")
    assert "usage" in help_text.lower(), f"{script} --help printed no usage"
    return help_text


@pytest.mark.parametrize("command", script_commands())
def test_script_command_flags_exist(command):
    for part in command.split("&&"):
        words = shlex.split(part)
        scripts = [w for w in words if w.startswith("scripts/") and w.endswith(".py")]
        if not scripts:
            continue
        script = scripts[0]
        assert (REPO / script).exists(), f"README runs {script}, which does not exist"
        help_text = script_help(script)
        for flag in (w.split("=", 1)[0] for w in words[words.index(script) + 1 :] if w.startswith("--")):
            assert re.search(rf"{re.escape(flag)}\b", help_text), f"{script} has no flag {flag} (README: {command})"


def test_not_run_commands_are_in_the_readme():
    """A stale NOT_RUN entry would silently stop excusing anything; each must still name a README command."""
    bash = "\n".join(body for lang, body, _ in BLOCKS if lang == "bash")
    for start in NOT_RUN:
        assert any(line.strip().startswith(start) for line in bash.splitlines()), start


def test_readme_has_no_machine_paths():
    """Commands run from a fresh clone: outputs under runs/, data under ../shared, no absolute paths."""
    code = "\n".join(body for lang, body, _ in BLOCKS)
    assert not re.findall(r"(?<![\w.])/(?:work|tmp|root|home|Users)/", code)
    for figure in re.findall(r"\]\((docs/figures/[^)]+)\)", README):
        assert (REPO / figure).exists(), figure


def test_readme_has_the_two_commands():
    ci = (REPO / ".ci" / "run").read_text()
    test_command = next(line for line in ci.splitlines() if "pytest" in line).strip()
    assert test_command in README, "the README's test command must be exactly what .ci/run runs"
    assert "python scripts/quickstart.py" in README
