"""The README's code runs as written.

Every ```python block of README.md is run in a fresh namespace, in a
temporary directory holding the files the README names (``model.h5``, a
small Sequential genomics model of input length 400; ``bpnet.h5``, a
two-headed model with outputs ``profile_logits`` and ``logcounts``;
``seqs.fa``, ``hg38.fa``, ``peaks.narrowPeak``), with the data variables
the README leaves to the reader given small values: ``X`` / ``onehot`` /
``xs`` (N one-hot sequences), ``ref`` (zeros), ``seqs`` (their strings),
``references`` / ``refs`` (K dinucleotide shuffles each), ``x`` (one
sequence).  The ``deeplift ...`` lines of every ```bash block are run as
commands, in order, in that directory (other lines, e.g. ``pip install``,
are not).  A block preceded by ``<!-- no-test: reason -->`` is not run.
"""
import os
import re
import shlex

import numpy as np
import pytest

README = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "README.md")
N, L, K = 3, 400, 3
NO_TEST = re.compile(r"<!--\s*no-test:\s*(.*?)\s*-->")


def readme_blocks(path=README):
    """``[(language, code, line number, no-test reason or None)]`` of the
    fenced blocks of ``path`` (indented fences too, as in list items)."""
    lines = open(path).read().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\w+)\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = len(m.group(1)), m.group(2), i + 1
        j = start
        while not re.match(r"^\s*```\s*$", lines[j]):
            j += 1
        code = "\n".join(l[indent:] for l in lines[start:j])
        before = [l for l in lines[:i] if l.strip()]
        mark = NO_TEST.search(before[-1]) if before else None
        blocks.append((lang, code, start, mark.group(1) if mark else None))
        i = j + 1
    return blocks


def _ids(blocks):
    return ["line%d" % b[2] for b in blocks]


PYTHON = [b for b in readme_blocks() if b[0] == "python"]
BASH = [b for b in readme_blocks() if b[0] == "bash"]


def test_blocks_found_and_no_test_marks_rare():
    """The extraction sees the README's blocks (a broken parser would
    otherwise pass every test below vacuously), and skipped blocks are few
    and say why."""
    assert len(PYTHON) >= 8 and len(BASH) >= 4
    skipped = [b for b in PYTHON + BASH if b[3] is not None]
    assert len(skipped) <= 4, [(b[2], b[3]) for b in skipped]
    assert all(len(b[3]) > 10 for b in skipped)


def test_parser_reads_marks(tmp_path):
    path = tmp_path / "R.md"
    path.write_text("x\n<!-- no-test: needs a cluster -->\n```python\na = 1\n"
                    "```\n\n- item:\n\n  ```bash\n  deeplift status s\n"
                    "  ```\n")
    assert readme_blocks(str(path)) == [
        ("python", "a = 1", 3, "needs a cluster"),
        ("bash", "deeplift status s", 9, None)]


def _seqs(rng, num, length):
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(num)]


def _embed(seq, rng):
    """Put a GATA motif in the middle half, so the model has a signal."""
    pos = rng.randint(L // 4, 3 * L // 4)
    return seq[:pos] + "AGATAA" + seq[pos + 6:]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The files the README names, written once for all blocks."""
    import keras
    from deeplift.dinuc_shuffle import dinuc_shuffle
    from deeplift.genomics import one_hot_encode
    from tests.genomics_helpers import write_genome, write_peaks

    d = tmp_path_factory.mktemp("readme")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((L, 4)),
        keras.layers.Conv1D(4, 6, activation="relu"),
        keras.layers.MaxPooling1D(8),
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="sigmoid")])
    model.save(str(d / "model.h5"))
    inp = keras.Input((L, 4))
    h = keras.layers.Conv1D(4, 6, padding="same", activation="relu")(inp)
    profile = keras.layers.Flatten(name="profile_logits")(
        keras.layers.Conv1D(1, 1)(h))
    counts = keras.layers.Dense(1, name="logcounts")(
        keras.layers.GlobalAveragePooling1D()(h))
    keras.Model(inp, [profile, counts]).save(str(d / "bpnet.h5"))

    rng = np.random.RandomState(0)
    seqs = [_embed(s, rng) for s in _seqs(rng, N, L)]
    with open(d / "seqs.fa", "w") as handle:
        for i, s in enumerate(seqs):
            handle.write(">seq%d\n%s\n" % (i, s))
    write_genome(d / "hg38.fa", {"chr1": 3000, "chr2": 2000}, seed=2)
    write_peaks(d / "peaks.narrowPeak", [
        ("chr1", 500, 900, 200), ("chr1", 1500, 1800, 100),
        ("chr2", 700, 1000, -1), ("chr1", 2500, 2900, 390)])
    X = one_hot_encode(seqs)
    shuffles = np.stack([dinuc_shuffle(x, num_shufs=K, rng=np.random.RandomState(i))
                         for i, x in enumerate(X)]).astype("float32")
    data = {"X": X, "onehot": X, "xs": X, "x": X[0], "seqs": seqs,
            "ref": np.zeros_like(X), "references": shuffles,
            "refs": shuffles}
    return d, data


#: after a block, the variables it defined that the README says something
#: about, and what they must be
def _check_results(ns, data):
    shape = data["X"].shape
    checks = {
        "scores": lambda v: np.shape(v) == shape,
        "hypothetical": lambda v: np.shape(v) == shape,
        "contribs": lambda v: np.shape(v) == shape,
        # integrated gradients explains one sample, DeepExplain a batch
        "attributions": lambda v: np.shape(v) in (shape, shape[1:]),
        "result": lambda v: (np.shape(v.contribs) == shape
                             and np.shape(v.deltas) == shape[:1] + (K,)
                             and np.shape(v.hypothetical_contribs) == shape),
        "counts": lambda v: np.shape(v.hypothetical_contribs) == shape,
        "profile": lambda v: np.shape(v.hypothetical_contribs) == shape,
    }
    checked = []
    for name, ok in checks.items():
        if name in ns:
            assert ok(ns[name]), "README variable %r: unexpected %r" % (
                name, ns[name])
            assert np.all(np.isfinite(getattr(ns[name], "contribs",
                                              ns[name])))
            checked.append(name)
    return checked


@pytest.mark.parametrize("block", PYTHON, ids=_ids(PYTHON))
def test_python_block(block, workdir, monkeypatch):
    lang, code, line, reason = block
    if reason is not None:
        pytest.skip("README line %d: %s" % (line, reason))
    d, data = workdir
    monkeypatch.chdir(d)
    ns = {"__name__": "__readme__"}
    ns.update({k: (v.copy() if hasattr(v, "copy") else v)
               for k, v in data.items()})
    exec(compile(code, "README.md:%d" % line, "exec"), ns)
    _check_results(ns, data)


def test_result_fields_as_documented(workdir, monkeypatch):
    """What the README and MultiRefResult's docstring say of the fields:
    hypothetical contributions times the one-hot input, summed over the
    letters, equal the contributions summed over the letters; deltas are
    near zero for DeepLIFT (max pooling converted with summation_to_delta,
    as the README says; 0.6.13's gradient mode does not sum to delta)."""
    from deeplift import genomics
    from deeplift.multiref import MultiRefScorer, MultiRefResult
    d, data = workdir
    model = genomics.load_model(str(d / "model.h5"),
                                maxpool_deeplift_mode="summation_to_delta")
    result = MultiRefScorer(model, find_scores_layer=0, target_layer=-2).run(
        data["onehot"], data["references"], task_idx=0, hypothetical=True,
        return_deltas=True)
    assert isinstance(result, MultiRefResult) and result.multipliers is None
    # float32 sums of 1600 terms: 1e-5 relative to the largest per-position
    # total covers their rounding
    np.testing.assert_allclose(
        (result.hypothetical_contribs * data["onehot"]).sum(-1),
        result.contribs.sum(-1),
        atol=1e-5 * max(1.0, np.abs(result.contribs).sum(-1).max()))
    # summation to delta per pair: float32 sums of 1600 contributions of
    # order 1e-3 and a target change of order 1 round to ~1e-6; 1e-4 is
    # far below the 0.1-1 deltas of a broken rule (e.g. gradient max pool)
    assert np.abs(result.deltas).max() < 1e-4


def _commands(code):
    """The ``deeplift ...`` commands of a bash block (continuation lines
    joined, comments dropped)."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [shlex.split(line.split(" #")[0])
            for line in joined.splitlines()
            if line.strip().startswith("deeplift ")]


@pytest.mark.parametrize("block", BASH, ids=_ids(BASH))
def test_bash_block(block, workdir, monkeypatch, capfd):
    lang, code, line, reason = block
    if reason is not None:
        pytest.skip("README line %d: %s" % (line, reason))
    commands = _commands(code)
    if not commands:
        pytest.skip("README line %d runs no deeplift command (install "
                    "lines are not run here)" % line)
    from deeplift.cli import main
    d, _ = workdir
    monkeypatch.chdir(d)
    for argv in commands:
        status = main(argv[1:])
        out, err = capfd.readouterr()
        assert status == 0, "README line %d: %s\n%s" % (
            line, " ".join(argv), err)
        for name in _outputs(argv):
            assert os.path.exists(d / name), (argv, name)


def _outputs(argv):
    """The files a README command says it writes."""
    names = []
    for flag in ("--out", "--h5", "--bigwig"):
        if flag in argv:
            names.append(argv[argv.index(flag) + 1])
    if "--modisco" in argv:
        prefix = argv[argv.index("--modisco") + 1]
        names += [prefix + ".ohe.npz", prefix + ".shap.npz"]
    return names


def test_packaging_matches_the_readme():
    """pyproject.toml (the only build file) says what the README says: the
    Python versions, the version from deeplift.__version__ alone, numba in
    the default install (the fast shuffle), the extras the README names,
    the ``deeplift`` command."""
    import tomllib
    import deeplift
    root = os.path.dirname(README)
    assert not os.path.exists(os.path.join(root, "setup.py"))
    with open(os.path.join(root, "pyproject.toml"), "rb") as handle:
        project = tomllib.load(handle)["project"]
    text = open(README).read()
    minimum = project["requires-python"]
    assert minimum == ">=3.11"
    assert "Python 3.11+" in text and "Python 3.11 or newer" in text
    assert project["dynamic"] == ["version"] and "version" not in project
    with open(os.path.join(root, "pyproject.toml"), "rb") as handle:
        dynamic = tomllib.load(handle)["tool"]["setuptools"]["dynamic"]
    assert dynamic["version"] == {"attr": "deeplift.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", deeplift.__version__)
    assert any(d.startswith("numba") for d in project["dependencies"])
    extras = project["optional-dependencies"]
    assert {"viz", "genomics", "distributed", "fast", "test",
            "peers"} <= set(extras)
    for extra in re.findall(r'\.\[(\w+)\]', text):
        assert extra in extras, extra
    assert any(d.startswith("ruff") for d in extras["test"])
    assert project["scripts"] == {"deeplift": "deeplift.cli:main"}
