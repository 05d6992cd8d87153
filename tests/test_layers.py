"""The import layers of pyproject.toml's [tool.importlinter] hold: no module imports an app above its own layer
(the core never imports priority or roaming) except the listed exceptions, each with its reason."""

import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def test_no_module_imports_above_its_layer():
    # In a process of its own: import-linter builds the import graph from the source files, apart from the
    # modules this test session has loaded.
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
