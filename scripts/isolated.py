"""What the sweeps of scripts/ share: one model's checks run in a fresh
Python process (``python <sweep> --one NAME``), so that a crash, a hang or
the memory of one model cannot affect the next."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: the line of the child's stdout that carries its result
MARKER = "RESULT "


def print_result(result):
    """In the child: print ``result`` (a JSON-serialisable dict) for
    :func:`run_isolated`."""
    print(MARKER + json.dumps(result), flush=True)


def run_isolated(script, name, timeout):
    """Run ``python script --one name`` with this checkout first on
    PYTHONPATH, TensorFlow's logs and deeplift's progress bars off, for at
    most ``timeout`` seconds.  Returns ``(result, proc)``: the dict the
    child printed with :func:`print_result` (None if it printed none) and
    the ``subprocess.CompletedProcess``; raises
    ``subprocess.TimeoutExpired``."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               DEEPLIFT_NO_PROGRESS="1",
               PYTHONPATH=str(REPO) + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(script), "--one", name],
                          env=env, capture_output=True, text=True,
                          timeout=timeout)
    lines = [line for line in proc.stdout.splitlines()
             if line.startswith(MARKER)]
    result = json.loads(lines[-1][len(MARKER):]) if lines else None
    return result, proc
