"""The layout keeps its promises: the network maths stands on NumPy alone, modules stay small and
functions fit in the head."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nntrain"
MAX_MODULE_LINES = 400
MAX_COMPLEXITY = 15


def modules(folder=PACKAGE):
    return sorted(folder.rglob("*.py"))


def imported(path, package=PACKAGE / "nn"):
    """Top-level names of the absolute imports in a module, and the relative imports that leave
    ``package`` (a module in a subpackage of it may go up to it)."""
    levels = len(path.relative_to(package).parts)
    absolute, outside = set(), []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            absolute.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                absolute.add(node.module.split(".")[0])
            elif node.level > levels:
                outside.append(f"{'.' * node.level}{node.module or ''}")
    return absolute, outside


# Beside NumPy: Numba (the extra nntrain[fast]) compiles the kernels, imported only when it does.
OPTIONAL = {"kernels.py": {"numba"}}


@pytest.mark.parametrize("path", modules(PACKAGE / "nn"), ids=lambda p: p.name)
def test_the_network_maths_imports_only_numpy_and_itself(path):
    absolute, outside = imported(path)
    allowed = {"numpy", *OPTIONAL.get(path.name, ())}
    foreign = {name for name in absolute if name not in allowed and name not in sys.stdlib_module_names}
    assert not foreign, f"{path.name} imports {sorted(foreign)}"
    assert not outside, f"{path.name} reaches outside nntrain.nn: {outside}"


def test_the_network_maths_loads_nothing_else():
    code = (
        "import sys, importlib, pkgutil, nntrain.nn\n"
        "for m in pkgutil.iter_modules(nntrain.nn.__path__): importlib.import_module('nntrain.nn.' + m.name)\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    ours = [m for m in loaded if m.startswith("nntrain") and m not in ("nntrain", "nntrain.nn") and not m.startswith("nntrain.nn.")]
    assert ours == []
    assert not {"pydantic", "yaml", "typer", "rich", "matplotlib", "numba"} & set(loaded)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines; split it along a seam"


def test_functions_fit_in_the_head():
    radon = pytest.importorskip("radon.complexity", reason="radon (in the test extra) measures complexity")
    too_complex = []
    for path in modules():
        for block in radon.cc_visit(path.read_text()):
            if block.complexity > MAX_COMPLEXITY:
                too_complex.append(f"{path.relative_to(PACKAGE)}:{block.lineno} {block.fullname} ({block.complexity})")
    assert not too_complex, "cyclomatic complexity above 15: " + ", ".join(too_complex)


def test_the_public_surface_resolves_lazily():
    # Every name nntrain exports is found where it says, and importing nntrain loads none of them.
    code = (
        "import sys, nntrain; assert 'numpy' not in sys.modules; "
        "names = [n for n in nntrain.__all__ if n != '__version__']; "
        "assert all(callable(getattr(nntrain, n)) for n in names), names; print(len(names))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == 24
