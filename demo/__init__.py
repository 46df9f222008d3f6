"""The main job a newcomer runs: `python scripts/quickstart.py` (see demo/quickstart.py)."""
