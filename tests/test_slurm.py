"""The README's SLURM recipe (dask-jobqueue), run as written on a real
SLURM: the store equals an in-process run byte for byte, also with one
worker job cancelled (scancel) mid-run.  Skips (saying why) where ``sinfo``
does not answer; ``scripts/slurm_one_node.sh`` sets up a one-node SLURM on
Debian and ``.ci/slurm`` runs this file there."""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.genomics_helpers import (REPO, contribs_argv, done_count,
                                    random_peak_rows, wait_for_chunks,
                                    write_genome, write_peaks)


def _slurm_state():
    """None when SLURM can run jobs here, else why not."""
    if shutil.which("sinfo") is None:
        return "no SLURM here (sinfo not found; scripts/slurm_one_node.sh " \
            "sets one up on Debian)"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True,
                             text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo does not answer"
    if out.returncode != 0:
        return "sinfo fails: %s" % " ".join(out.stderr.split())
    states = out.stdout.split()
    if not any(s.rstrip("*") in ("idle", "mixed") for s in states):
        return "no idle SLURM node (sinfo: %s)" % (", ".join(states) or
                                                  "no nodes")
    return None


REASON = _slurm_state()
pytestmark = pytest.mark.skipif(REASON is not None, reason=str(REASON))

SIZES = {"chr1": 2400, "chr2": 900}
CHUNK = 2
EXTRA = ["--reference", "dinuc-shuffle:3", "--task", "0,2",
         "--batch-size", "24", "--chunk-size", str(CHUNK), "--quiet"]


def readme_recipe():
    """The README's SLURM script, exactly as printed there."""
    text = (REPO / "README.md").read_text()
    start = text.index("and on SLURM with dask-jobqueue")
    block = re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)
    return "\n".join(line[2:] if line.startswith("  ") else line
                     for line in block.splitlines()) + "\n"


def substitute(code, old, new):
    """Replace ``old`` (which must occur once: the README's text) by
    ``new``."""
    assert code.count(old) == 1, "the README recipe no longer has %r" % old
    return code.replace(old, new)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A small genome and peaks, and the store of an in-process run."""
    pytest.importorskip("dask_jobqueue",
                        reason="pip install dask-jobqueue (test extras)")
    pytest.importorskip("zarr")
    pytest.importorskip("pyfaidx")
    from deeplift.cli import DEMO_MODEL, main
    tmp = tmp_path_factory.mktemp("slurm")
    write_genome(tmp / "g.fa", SIZES, seed=2)
    peaks = write_peaks(tmp / "p.narrowPeak", random_peak_rows(SIZES, 24))
    ref = tmp / "ref.zarr"
    assert main(contribs_argv(tmp / "g.fa", peaks, ref, *EXTRA)) == 0
    return {"tmp": tmp, "model": DEMO_MODEL, "genome": str(tmp / "g.fa"),
            "peaks": str(peaks), "ref": str(ref)}


def script_for(data, out, cwd):
    """The README recipe with this test's files and small resources."""
    code = readme_recipe()
    code = substitute(code, 'cores=4, processes=1, memory="16GB"',
                      'cores=1, processes=1, memory="3GB"')
    code = substitute(code, "cluster.scale(jobs=20)", "cluster.scale(jobs=2)")
    code = substitute(code, '["deeplift", "contribs", "model.h5"',
                      '[sys.executable, "-m", "deeplift.cli", "contribs", '
                      '%r' % data["model"])
    code = substitute(code, '"hg38.fa"', repr(data["genome"]))
    code = substitute(code, '"peaks.bed"', repr(data["peaks"]))
    code = substitute(code, '"/shared/scores.zarr"', repr(str(out)))
    code = substitute(code, '"--scheduler-file", "sched.json"]',
                      '"--scheduler-file", "sched.json"] + %r' % EXTRA)
    path = cwd / "slurm_contribs.py"
    path.write_text("import sys\n" + code)
    return path


def environment():
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get(
        "PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path)


def arrays(path):
    from deeplift.genomics.store import ScoreStore
    store = ScoreStore.open(path)
    return store, {name: np.asarray(store.array(name)[:])
                   for name in ("onehot", "hypothetical", "contribs")}


def assert_same_store(path, ref):
    store, got = arrays(path)
    _, want = arrays(ref)
    assert store.pending() == []
    for name in want:
        assert got[name].dtype == want[name].dtype, name
        assert got[name].shape == want[name].shape, name
        assert got[name].tobytes() == want[name].tobytes(), name


def _my_jobs():
    out = subprocess.run(["squeue", "-h", "-o", "%i %j"], capture_output=True,
                         text=True, timeout=20).stdout
    return {int(line.split()[0]): line.split()[1]
            for line in out.splitlines() if line.strip()}


def test_readme_recipe_on_slurm_equals_in_process(data, tmp_path):
    out = tmp_path / "scores.zarr"
    script = script_for(data, out, tmp_path)
    result = subprocess.run([sys.executable, str(script)], cwd=str(tmp_path),
                            env=environment(), capture_output=True, text=True,
                            timeout=540)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "12 chunks of 2 rows (12 scored now, 0 done before)" in \
        result.stdout
    assert_same_store(out, data["ref"])


def test_worker_job_cancelled_mid_run_still_equals_in_process(data,
                                                              tmp_path):
    """scancel one of the two worker jobs once two chunks are done: the
    other finishes the run; the store is byte-identical.  On a fast quiet
    machine the run can finish before the cancel lands (12 of 12 done):
    then there was nothing mid-run to test, and the run is repeated (three
    tries) on a fresh store."""
    for attempt in range(3):
        out = tmp_path / ("scores_%d.zarr" % attempt)
        script = script_for(data, out, tmp_path)
        before = set(_my_jobs())
        proc = subprocess.Popen([sys.executable, str(script)],
                                cwd=str(tmp_path), env=environment(),
                                text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        wait_for_chunks(out, proc, 400, poll=0.1)
        ours = sorted(set(_my_jobs()) - before)
        cancelled_at = done_count(out)
        assert len(ours) == 2, \
            "expected the recipe's 2 worker jobs: %s" % ours
        subprocess.run(["scancel", str(ours[0])], check=True, timeout=20)
        stdout, stderr = proc.communicate(timeout=400)
        assert proc.returncode == 0, stdout + stderr
        if 2 <= cancelled_at < 12:
            break
    else:
        pytest.skip("the run finished before a worker job could be "
                    "cancelled, three times (%d of 12 done): too fast here "
                    "to cancel mid-run" % cancelled_at)
    assert ours[0] not in _my_jobs()
    assert_same_store(out, data["ref"])
