"""Extras stay optional: the command line starts without them (and without the engine's heavy imports)."""

import json
import subprocess
import sys

# What `nntrain --help` must not import: the extras (onnx, tensorboard, mlflow), the test-only
# jsonschema, and numpy and pydantic, which the commands import when they run.
NOT_AT_HELP = ["onnx", "onnxruntime", "tensorboardX", "tensorboard", "mlflow", "jsonschema", "numpy", "pydantic"]

PROBE = """
import json, sys
from nntrain.cli import app
try:
    app(["--help"])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in %r)), file=sys.stderr)
"""


def test_help_imports_no_extra_nor_the_engine():
    result = subprocess.run([sys.executable, "-c", PROBE % (NOT_AT_HELP,)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
    assert json.loads(result.stderr.strip().splitlines()[-1]) == []
