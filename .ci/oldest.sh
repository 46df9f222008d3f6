#!/usr/bin/env bash
# The other end of the declared range: the test suite on the OLDEST versions setup.cfg allows.
# A fresh throwaway venv gets what the README test command installs, with the lower bound of every bounded
# dependency pinned (read from setup.cfg, so the declared range and the tested range cannot drift apart). It sees
# nothing of the environment this runs in: `venv --system-site-packages` would show the BASE interpreter's packages,
# not those of an active venv.
set -euo pipefail
cd "$(dirname "$0")/.."
pins=$(python3 - <<'PY'
import configparser
from packaging.requirements import Requirement

cfg = configparser.ConfigParser()
cfg.read("setup.cfg")
for line in cfg["options"]["install_requires"].split("\n"):
    if not line.strip() or line.strip().startswith("#"):
        continue
    req = Requirement(line.strip())
    lows = [s.version for s in req.specifier if s.operator == ">="]
    # torch: only the CPU build on this machine's disk can be installed here (see README "Tested versions").
    if lows and req.name != "torch":
        print(f"{req.name}=={lows[0]}")
PY
)
venv="$(mktemp -d)/venv"
python3 -m venv "$venv"
echo "oldest allowed versions: $(echo $pins | tr '\n' ' ')"
"$venv/bin/pip" install -q torch==2.13.0 -e ".[dev]" $pins
PATH="$venv/bin:$PATH" python -m pytest -q -n 2 tests
