"""What `pip install` gives a user: the `seedformer` command and `python -m seedformer`, the same modules from an
editable install, a wheel and a wheel built from the sdist, an sdist that carries its tests and LICENSE, and no
build output inside the package folder (the repository root)."""

import configparser
import importlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from seedformer.cli import commands, main

REPO = Path(__file__).resolve().parents[1]
# What a build may leave in the tree; copies of the checkout skip them (and the git folder).
IGNORED = shutil.ignore_patterns(".git", ".build", "build", "dist", "*.egg-info", "__pycache__", ".ruff_cache",
                                 ".pytest_cache", "runs", "outputs", "benchmark-results")  # fmt: skip


def test_every_script_is_a_thin_wrapper_of_a_subcommand():
    scripts = sorted(p.stem for p in (REPO / "scripts").glob("*.py"))
    assert sorted(commands().values()) == scripts
    for name in scripts:
        spec = importlib.util.spec_from_file_location(f"_wrapper_{name}", REPO / "scripts" / f"{name}.py")
        wrapper = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(wrapper)
        assert wrapper.main is importlib.import_module(f"seedformer.cli.{name}").main, name
        code = [line for line in (REPO / "scripts" / f"{name}.py").read_text().splitlines() if line.strip()]
        assert len(code) <= 12, f"scripts/{name}.py holds logic; it belongs in seedformer/cli/{name}.py"


def test_dispatcher_lists_commands_and_rejects_unknown_ones(capsys):
    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    for name in ("pretrain", "finetune", "convert-bert-checkpoint", "train-tokenizer", "extract-features"):
        assert f"\n  {name} " in listing
    assert main(["pretrian"]) == 2 and "unknown command 'pretrian'" in capsys.readouterr().err
    assert main([]) == 2


def test_layout_finder_refuses_repository_folders_and_nothing_packaged():
    """source_layout refuses `seedformer.<folder>` for folders without `__init__.py`; so every packaged sub-package
    (setup.cfg) must have one, and imports."""
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    packages = [name.split(".", 1)[1] for name in config["options"]["packages"].split() if "." in name]
    for name in packages:
        assert (REPO / name / "__init__.py").is_file(), f"{name}/ is packaged but has no __init__.py"
        assert importlib.import_module(f"seedformer.{name}")
    for folder in ("tests", "scripts", "docs"):
        with pytest.raises(ModuleNotFoundError, match="folder of the Seedformer repository"):
            importlib.import_module(f"seedformer.{folder}")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("seedformer.no_such_module")


def run(*command, cwd=None, env=None, timeout=600):
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def make_venv(path: Path) -> Path:
    """A throwaway venv that sees this environment's packages; without its own pip/setuptools, so that the
    system's pip and setuptools (new enough for PEP 660 and bdist_wheel) build offline (--no-build-isolation)."""
    run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", path)
    return path / "bin" / "python"


# walk_packages lists what has an __init__.py; the folders without one (tests/, scripts/, docs/) are tried by name,
# since Python would import a bare folder as a namespace package.
LIST_MODULES = r"""
import importlib, json, pkgutil, seedformer
names = sorted(m.name for m in pkgutil.walk_packages(seedformer.__path__, "seedformer.", onerror=lambda name: None))
for folder in ("tests", "scripts", "docs", "runs"):
    try:
        importlib.import_module("seedformer." + folder)
        names.append("seedformer." + folder)
    except ModuleNotFoundError:
        pass
print(json.dumps({"file": seedformer.__file__, "modules": names}))
"""


def modules_seen_by(python: Path, cwd: Path) -> list[str]:
    # a clean environment: no PYTHONPATH pointing at the checkout; cwd outside the tree
    out = run(python, "-c", LIST_MODULES, cwd=cwd, env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    return json.loads(out.strip().splitlines()[-1])


def build_leftovers(tree: Path) -> list[str]:
    """Build outputs in the package folder (the root) other than the .build/ dot-folder setup.cfg sends them to."""
    return sorted(p.name for p in tree.iterdir() if p.name in ("build", "dist") or p.name.endswith(".egg-info"))


@pytest.mark.slow
def test_editable_wheel_and_sdist_installs_expose_the_same_modules_and_commands(tmp_path):
    tree = tmp_path / "checkout"
    shutil.copytree(REPO, tree, ignore=IGNORED)
    (tree / ".build").mkdir(exist_ok=True)  # tracked in git (.build/README.md); the copy skipped its contents
    pip = ["-m", "pip", "--disable-pip-version-check", "--no-input"]

    # editable install: the command, its subcommands' --help, python -m seedformer
    editable = make_venv(tmp_path / "editable")
    run(editable, *pip, "install", "-q", "--no-deps", "--no-build-isolation", "-e", tree)
    command = tmp_path / "editable" / "bin" / "seedformer"
    assert command.exists(), "pip install -e . installed no `seedformer` command"
    assert "convert-bert-checkpoint" in run(command, "--help", cwd=tmp_path)
    assert "usage: seedformer convert-bert-checkpoint" in run(
        command, "convert-bert-checkpoint", "--help", cwd=tmp_path
    )
    assert "train-tokenizer" in run(editable, "-m", "seedformer", "--help", cwd=tmp_path)
    seen_editable = modules_seen_by(editable, tmp_path)
    assert seen_editable["file"] == str(tree / "__init__.py")

    # sdist (the PEP 517 hook `python -m build` calls), then a wheel from the unpacked sdist, as `python -m build` does
    sdist_dir = tmp_path / "sdist"
    sdist_name = run(sys.executable, "-c", f"from setuptools import build_meta; print(build_meta.build_sdist({str(sdist_dir)!r}))",
                     cwd=tree).strip().splitlines()[-1]  # fmt: skip
    with tarfile.open(sdist_dir / sdist_name) as archive:
        members = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
        archive.extractall(sdist_dir, filter="data")
    tracked = {
        str(p.relative_to(REPO)) for p in REPO.glob("tests/**/*") if p.is_file() and "__pycache__" not in p.parts
    }
    tracked |= {str(p.relative_to(REPO)) for p in REPO.glob("scripts/*.py")}
    assert tracked | {"LICENSE", "README.md", "setup.cfg", "pyproject.toml", ".ci/run"} <= members
    unpacked = sdist_dir / sdist_name.removesuffix(".tar.gz")
    wheel_dir = tmp_path / "wheels"
    run(sys.executable, *pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheel_dir, unpacked)
    run(sys.executable, *pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp_path / "wheels-tree", tree)
    for wheel in (next(wheel_dir.glob("*.whl")), next((tmp_path / "wheels-tree").glob("*.whl"))):
        venv = tmp_path / f"venv-{wheel.parent.name}"
        python = make_venv(venv)
        run(python, *pip, "install", "-q", "--no-deps", wheel)
        seen = modules_seen_by(python, tmp_path)
        assert seen["file"].startswith(str(venv)), seen["file"]
        assert seen["modules"] == seen_editable["modules"], wheel.parent.name
        assert "seedformer.cli.pretrain" in seen["modules"] and (venv / "bin" / "seedformer").exists()
        assert "usage: seedformer pretrain" in run(venv / "bin" / "seedformer", "pretrain", "--help", cwd=tmp_path)
    assert not [m for m in seen_editable["modules"] if m.split(".")[1] in ("tests", "scripts", "docs", "build")]
    assert build_leftovers(tree) == [] and build_leftovers(unpacked) == []
