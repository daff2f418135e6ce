"""The README's command as the end-to-end tests call it: run_all.sh from the checkout, output captured."""

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_all(*args, timeout: int = 1500) -> subprocess.CompletedProcess:
    """`./run_all.sh ARGS` in the checkout; paths may be given as Path."""
    return subprocess.run(
        [str(REPO / "run_all.sh"), *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )
