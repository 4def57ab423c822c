"""ruff (configured in ruff.toml) finds nothing in the tree."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_ruff_clean():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--quiet", str(REPO)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
