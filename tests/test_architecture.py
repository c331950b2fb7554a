"""The dependency graph runs one way: exegan <- train, eval (independent) <- the demo and scripts.

The contracts live in pyproject.toml ([tool.importlinter]); this runs them, so a new import across the layers
fails the suite, naming the import."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe is not None, "import-linter is not installed: bash scripts/setup.sh --dev"
    out = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout
