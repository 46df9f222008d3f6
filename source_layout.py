"""Keep the repository's other folders out of the `seedformer` namespace.

The design card makes the repository root the package folder (`modeling/` is `seedformer.modeling`). A wheel holds
only the sub-packages setup.cfg lists, but an editable install maps `seedformer` to the whole root, so without this
finder `import seedformer.tests`, `seedformer.scripts`, `seedformer.docs` (or a user's `runs/`) would succeed there,
as namespace packages, and fail after `pip install seedformer`. Every packaged sub-package has an `__init__.py`
(tests/test_packaging.py checks it), so the rule needs no list: a direct child of `seedformer` that would import as a
namespace package is a repository folder, and one that the package's own folder does not hold is missing. `import
seedformer` puts one `PackageLayoutFinder` first on `sys.meta_path`; it refuses those and leaves everything else to
the normal finders.
"""

from __future__ import annotations

import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import PathFinder


class PackageLayoutFinder(MetaPathFinder):
    """Raises ModuleNotFoundError for `seedformer.<name>` when `<name>` is a folder without `__init__.py` or is not in
    the package's own folder."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, child = fullname.partition(".")
        if package != "seedformer" or not child or "." in child:
            return None
        # Only the package's own folder answers: another finder (a second, editable install of the repository
        # beside a wheel) must not add its folders either.
        spec = PathFinder.find_spec(fullname, path)
        if spec is None:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        if spec.origin is None:  # a namespace package: a bare folder of the repository
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: {child!r} is a folder of the Seedformer repository, not part of the "
                "installed package.",
                name=fullname,
            )
        return None  # the normal finders import it


def install() -> None:
    if not any(isinstance(finder, PackageLayoutFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, PackageLayoutFinder())
