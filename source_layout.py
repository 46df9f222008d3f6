"""Keep the repository's other folders out of the `seedformer` namespace.

The design card makes the repository root the package folder (`modeling/` is `seedformer.modeling`). A wheel holds
only the sub-packages setup.cfg lists, but an editable install maps `seedformer` to the whole root, so without this
finder `import seedformer.tests`, `seedformer.scripts`, `seedformer.docs` (or a user's `runs/`) would succeed there
and fail after `pip install seedformer`. `import seedformer` puts one `PackageLayoutFinder` first on `sys.meta_path`;
it answers only for direct children of `seedformer` that are not part of the package and leaves everything else to
the normal finders. tests/test_packaging.py checks that `PACKAGE_CHILDREN` matches setup.cfg.
"""

from __future__ import annotations

import sys
from importlib.abc import MetaPathFinder

# setup.cfg `packages` (without the `seedformer.` prefix) plus the modules at the root
PACKAGE_CHILDREN = frozenset(
    {
        "cli",
        "configuration",
        "conversion",
        "data",
        "demo",
        "finetuning",
        "hub",
        "metrics",
        "modeling",
        "pipelines",
        "pretraining",
        "tokenization",
        "training",
        "registration",
        "source_layout",
        "__main__",
    }
)


class PackageLayoutFinder(MetaPathFinder):
    """Raises ModuleNotFoundError for `seedformer.<name>` when `<name>` is not one of `PACKAGE_CHILDREN`."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, child = fullname.partition(".")
        if package == "seedformer" and child and "." not in child and child not in PACKAGE_CHILDREN:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: {child!r} is a folder of the Seedformer repository, not part of the "
                "installed package.",
                name=fullname,
            )
        return None


def install() -> None:
    if not any(isinstance(finder, PackageLayoutFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, PackageLayoutFinder())
