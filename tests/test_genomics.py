"""Tests of deeplift.genomics (encoding, FASTA, references, simulation,
score_sequences) and of the example scripts (run on tiny inputs)."""
import importlib.util
import os

import numpy as np
import pytest

from deeplift import genomics, util
from deeplift.cli import DEMO_MODEL
from tests.genomics_helpers import (REPO, REAL_JSON, REAL_WEIGHTS,
                                    needs_shared)


@pytest.fixture(scope="module")
def sim():
    seqs, labels, mask = genomics.simulate_sequences(16, seed=3)
    return seqs, labels, mask, genomics.one_hot_encode(seqs)


@pytest.fixture(scope="module")
def demo_models():
    return {m: genomics.load_model(DEMO_MODEL, method=m)
            for m in ("genomics_default", "gradient", "rescale")}


# ---------------------------------------------------------------------------
# encoding, FASTA, references
# ---------------------------------------------------------------------------

def test_one_hot_encode_n_and_lowercase():
    x = genomics.one_hot_encode(["ACGTN", "acgtn", "AxG-T"])
    assert x.shape == (3, 5, 4) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0, :4], np.eye(4))
    np.testing.assert_array_equal(x[0, 4], 0)
    np.testing.assert_array_equal(x[0], x[1])
    np.testing.assert_array_equal(x[2, 1], 0)
    np.testing.assert_array_equal(x[2, 3], 0)
    np.testing.assert_array_equal(x[2, [0, 2, 4]], np.eye(4)[[0, 2, 3]])
    assert genomics.one_hot_encode("ACG").shape == (1, 3, 4)
    assert genomics.onehot_to_sequences(x) == ["ACGTN", "ACGTN", "ANGNT"]
    with pytest.raises(ValueError, match="same length"):
        genomics.one_hot_encode(["ACGT", "ACG"])


def test_read_fasta(tmp_path):
    path = tmp_path / "x.fa"
    path.write_text(">one desc\nACGT\nnnac\n\n; comment\n>two\nAC\nGTAAGG\n")
    names, seqs = genomics.read_fasta(path)
    assert names == ["one", "two"]          # first word of the header
    assert seqs == ["ACGTnnac", "ACGTAAGG"]
    bad = tmp_path / "bad.fa"
    bad.write_text(">a\nAC9T\n")
    with pytest.raises(ValueError, match="invalid character '9'"):
        genomics.read_fasta(bad)
    headless = tmp_path / "headless.fa"
    headless.write_text("ACGT\n")
    with pytest.raises(ValueError, match="before the first"):
        genomics.read_fasta(headless)
    empty = tmp_path / "empty.fa"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="no FASTA records"):
        genomics.read_fasta(empty)


def test_gc_reference_and_parse_reference():
    x = genomics.one_hot_encode(["GGCA", "NNNN"])
    ref = genomics.gc_reference(x)
    assert ref.shape == x.shape
    np.testing.assert_allclose(ref[0, 0], [0.125, 0.375, 0.375, 0.125])
    np.testing.assert_allclose(ref[1, 2], [0.25] * 4)
    np.testing.assert_allclose(genomics.gc_reference(x, 0.4)[0, 1],
                               [0.3, 0.2, 0.2, 0.3])
    assert genomics.parse_reference("zeros") == ("zeros", None)
    assert genomics.parse_reference("GC") == ("gc", None)
    assert genomics.parse_reference("gc:0.41") == ("gc", 0.41)
    assert genomics.parse_reference("dinuc-shuffle:7") == ("dinuc-shuffle", 7)
    for bad in ("bogus", "dinuc-shuffle:0", "gc:2", "dinuc-shuffle:x", 3):
        with pytest.raises(ValueError):
            genomics.parse_reference(bad)
    with pytest.raises(ValueError, match="does not exist"):
        genomics.parse_reference("/nonexistent/ref.npy")


def test_make_references_dinuc_shuffle_preserves_dinucleotides(sim):
    onehot = sim[3][:3]
    refs = genomics.make_references(onehot, "dinuc-shuffle:4", seed=1)
    assert refs.shape == (3, 4) + onehot.shape[1:]

    def dinucs(x):
        tokens = x.argmax(-1)
        return sorted(zip(tokens[:-1].tolist(), tokens[1:].tolist()))
    for i in range(3):
        for r in range(4):
            assert dinucs(refs[i, r]) == dinucs(onehot[i])
        # shuffled, not copies of the sequence
        assert not np.array_equal(refs[i, 0], onehot[i])
        assert not np.array_equal(refs[i, 0], refs[i, 1])
    again = genomics.make_references(onehot, "dinuc-shuffle:4", seed=1)
    np.testing.assert_array_equal(refs, again)


# ---------------------------------------------------------------------------
# simulation
# ---------------------------------------------------------------------------

def test_simulate_sequences(sim):
    seqs, labels, mask, onehot = sim
    assert len(seqs) == 16 and all(len(s) == 200 for s in seqs)
    assert labels.shape == (16, 3) and mask.shape == (16, 3, 200)
    np.testing.assert_array_equal(labels[:, 0], labels[:, 1] & labels[:, 2])
    np.testing.assert_array_equal(labels[:, 1:], mask[:, 1:].any(-1))
    np.testing.assert_array_equal(mask[:, 0], mask[:, 1] | mask[:, 2])
    assert not (mask[:, 1] & mask[:, 2]).any()
    # every GATA instance has the GATAA core at offsets 3..7
    for i in np.flatnonzero(labels[:, 1]):
        padded = np.concatenate([[0], mask[i, 1].astype(int), [0]])
        starts = np.flatnonzero(np.diff(padded) == 1)
        for s in starts:
            assert seqs[i][s + 3:s + 8] == "GATAA"
    again = genomics.simulate_sequences(16, seed=3)
    assert again[0] == seqs


def test_auroc():
    assert genomics.auroc([0.1, 0.9, 0.8, 0.2], [0, 1, 1, 0]) == 1.0
    assert genomics.auroc([1, 1, 1, 1], [0, 1, 1, 0]) == 0.5
    assert np.isnan(genomics.auroc([1, 2], [1, 1]))
    scores = np.zeros((1, 5, 4))
    scores[0, 1, 2] = -3.0
    mask = np.array([[0, 1, 0, 0, 0]], bool)
    assert genomics.motif_mask_auroc(scores, mask) == 1.0


# ---------------------------------------------------------------------------
# score_sequences
# ---------------------------------------------------------------------------

def test_contribs_are_hypothetical_times_onehot(sim, demo_models):
    onehot = sim[3][:5]
    hyp, contribs = genomics.score_sequences(
        demo_models["genomics_default"], onehot, task_idx=1,
        reference="dinuc-shuffle:3", progress=False)
    assert hyp.shape == contribs.shape == onehot.shape
    np.testing.assert_array_equal(contribs, hyp * onehot)


def test_hypothetical_matches_util_and_summation_to_delta(sim, demo_models):
    model = demo_models["genomics_default"]
    onehot = sim[3][:6]
    ref = genomics.gc_reference(onehot)
    hyp, contribs = genomics.score_sequences(model, onehot, task_idx=2,
                                             reference=ref, progress=False)
    mult = model.get_target_multipliers_func(find_scores_layer_idx=0,
                                             target_layer_idx=-2)
    expected = util.get_hypothetical_contribs_func_onehot(mult)(
        task_idx=2, input_data_list=[onehot], input_references_list=[ref],
        batch_size=50, progress_update=None)
    np.testing.assert_allclose(hyp, expected, atol=1e-5)
    # DeepLIFT: contributions add up to the change of the target logit
    logits = model.get_prediction_function(0, -2)
    delta = logits([onehot], batch_size=50)[:, 2] - logits(
        [ref], batch_size=50)[:, 2]
    np.testing.assert_allclose(contribs.sum((1, 2)), delta, rtol=1e-3,
                               atol=1e-3)


def test_multiple_references_are_averaged(sim, demo_models):
    model = demo_models["rescale"]
    onehot = sim[3][:4]
    refs = genomics.make_references(onehot, "dinuc-shuffle:3", seed=5)
    hyp, _ = genomics.score_sequences(model, onehot, task_idx=0,
                                      method="rescale",
                                      reference="dinuc-shuffle:3", seed=5,
                                      batch_size=5, progress=False)
    hyp_array, _ = genomics.score_sequences(model, onehot, task_idx=0,
                                            method=None, reference=refs,
                                            progress=False)
    np.testing.assert_allclose(hyp, hyp_array, atol=1e-6)  # batch sizes
    singles = [genomics.score_sequences(model, onehot, task_idx=0,
                                        method="rescale",
                                        reference=refs[:, r],
                                        progress=False)[0]
               for r in range(3)]
    np.testing.assert_allclose(hyp, np.mean(singles, axis=0), atol=1e-5)


def test_gradient_and_integrated_gradients(sim, demo_models):
    model = demo_models["gradient"]
    onehot = sim[3][:4]
    hyp, contribs = genomics.score_sequences(model, onehot, task_idx=1,
                                             method="gradient",
                                             reference="zeros",
                                             progress=False)
    grads = model.get_target_multipliers_func(0, -2)(
        task_idx=1, input_data_list=[onehot], batch_size=10,
        progress_update=None)
    np.testing.assert_allclose(hyp, grads, atol=1e-6)
    np.testing.assert_allclose(contribs, grads * onehot, atol=1e-6)
    ref = genomics.gc_reference(onehot, 0.4)
    _, ig = genomics.score_sequences(model, onehot, task_idx=1,
                                     method="integrated_gradients",
                                     reference=ref, ig_steps=5,
                                     progress=False)
    expected = util.get_integrated_gradients_function(
        model.get_target_multipliers_func(0, -2), 5)(
        task_idx=1, input_data_list=[onehot], input_references_list=[ref],
        batch_size=10)
    np.testing.assert_allclose(ig.sum(-1), expected.sum(-1), atol=1e-5)


@pytest.mark.parametrize("method,reference", [
    ("genomics_default", "dinuc-shuffle:3"),
    ("integrated_gradients", "gc")])
def test_task_list_equals_one_call_per_task(sim, demo_models, method,
                                            reference):
    model = demo_models[method if method in demo_models else "gradient"]
    onehot = sim[3][:4]
    kwargs = dict(method=method, reference=reference, seed=3, ig_steps=4,
                  batch_size=7, progress=False)
    hyp, contribs = genomics.score_sequences(model, onehot, task_idx=[2, 0],
                                             **kwargs)
    assert hyp.shape == contribs.shape == (2,) + onehot.shape
    for t, task in enumerate([2, 0]):
        hyp_t, contribs_t = genomics.score_sequences(model, onehot,
                                                     task_idx=task, **kwargs)
        np.testing.assert_allclose(hyp[t], hyp_t, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(contribs[t], contribs_t, rtol=1e-5,
                                   atol=1e-7)
    with pytest.raises(ValueError, match="out of range"):
        genomics.score_sequences(model, onehot, task_idx=[0, 3], **kwargs)
    with pytest.raises(ValueError, match="empty list"):
        genomics.score_sequences(model, onehot, task_idx=[], **kwargs)


def test_score_sequences_from_path_and_errors(sim, demo_models):
    onehot = sim[3][:2]
    hyp, _ = genomics.score_sequences(DEMO_MODEL, onehot, task_idx=0,
                                      method="rescale", reference="gc",
                                      progress=False)
    same, _ = genomics.score_sequences(demo_models["rescale"], onehot,
                                       task_idx=0, method=None,
                                       reference="gc", progress=False)
    np.testing.assert_array_equal(hyp, same)
    with pytest.raises(ValueError, match="nonlinear_mxts_mode"):
        genomics.score_sequences(demo_models["rescale"], onehot,
                                 method="gradient", progress=False)
    with pytest.raises(ValueError, match="unknown method"):
        genomics.score_sequences(DEMO_MODEL, onehot, method="nope")
    with pytest.raises(ValueError, match="out of range"):
        genomics.score_sequences(demo_models["rescale"], onehot, task_idx=3,
                                 method=None, progress=False)
    with pytest.raises(ValueError, match="length 150 but the model "
                                         "expects length 200"):
        genomics.score_sequences(demo_models["rescale"], onehot[:, :150],
                                 method=None, progress=False)
    with pytest.raises(ValueError, match="reference array has shape"):
        genomics.score_sequences(demo_models["rescale"], onehot,
                                 method=None,
                                 reference=np.zeros((3, 200, 4)),
                                 progress=False)
    with pytest.raises(ValueError, match="activation"):
        genomics.score_sequences(demo_models["rescale"], onehot,
                                 method=None, target_layer=-1,
                                 progress=False)


@needs_shared
def test_real_genomics_model_finds_motifs():
    model = genomics.load_model(REAL_WEIGHTS, json_file=REAL_JSON)
    rng = np.random.RandomState(0)
    background = "".join(rng.choice(list("ACGT"), 190))
    seqs = [background[:95] + "GCAGATAAGA" + background[95:]]
    onehot = genomics.one_hot_encode(seqs)
    assert onehot.shape == (1, 200, 4)
    _, contribs = genomics.score_sequences(model, onehot, task_idx=1,
                                           reference="gc", progress=False)
    per_pos = contribs.sum(-1)[0]
    assert 95 <= int(np.argmax(per_pos)) < 105


# ---------------------------------------------------------------------------
# example scripts on tiny inputs
# ---------------------------------------------------------------------------

def _load_example(relpath):
    path = REPO / relpath
    spec = importlib.util.spec_from_file_location(
        "example_" + path.stem, str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_shared
def test_genomics_example_runs(tmp_path, capsys):
    module = _load_example("examples/genomics/genomics_example.py")
    assert module.main(["--n", "8", "--num-refs", "2", "--num-logos", "1",
                        "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "DeepLIFT genomics default" in out
    assert "max abs difference" in out
    diff = float(out.split("per-position totals")[1].split()[0])
    assert diff < 1e-4
    assert (tmp_path / "results.tsv").exists()
    assert list(tmp_path.glob("*.png"))


@needs_shared
def test_mnist_example_runs(tmp_path, capsys):
    module = _load_example("examples/mnist/mnist_example.py")
    assert module.main(["--n", "3", "--pairs", "8:3", "--ig-steps", "2",
                        "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "DeepLIFT RevealCancel" in out and "8->3" in out
    lines = (tmp_path / "mnist_results.tsv").read_text().splitlines()
    assert len(lines) == 1 + 6


def test_train_demo_model_script_runs(tmp_path, capsys):
    module = _load_example("examples/genomics/train_demo_model.py")
    out_file = tmp_path / "m.h5"
    module.main(["--n", "64", "--epochs", "1", "--out", str(out_file)])
    assert out_file.exists()
    assert os.path.getsize(out_file) < 300 * 1024
    assert "max abs diff" in capsys.readouterr().out


def test_automatic_batch_size(sim, demo_models):
    """batch_size=None (the default) is deeplift.multiref.auto_batch_size
    of the model; a sequence whose references do not fit in one call is
    split into calls of equal size; the numbers do not depend on it."""
    from deeplift.genomics.scoring import ScoringPlan
    from deeplift.multiref import auto_batch_size
    model = demo_models["rescale"]
    onehot = sim[3][:3]
    plan = ScoringPlan(model, "rescale", 3, 200, reference="dinuc-shuffle:5")
    assert plan.requested_batch_size == auto_batch_size(plan.scorer.scorer)
    assert plan.batch_size == plan.group * 5
    split = ScoringPlan(model, "rescale", 3, 200, batch_size=3,
                        reference="dinuc-shuffle:5")
    assert (split.group, split.batch_size) == (1, 3)   # 5 = 3 + 2 -> 3, 3
    split = ScoringPlan(model, "rescale", 3, 200, batch_size=15,
                        reference="dinuc-shuffle:20")
    assert (split.group, split.batch_size) == (1, 10)  # not 15 + 5
    auto, _ = genomics.score_sequences(model, onehot, method=None,
                                       reference="dinuc-shuffle:5",
                                       progress=False)
    for batch_size in (1, 3, 256):
        fixed, _ = genomics.score_sequences(model, onehot, method=None,
                                            reference="dinuc-shuffle:5",
                                            batch_size=batch_size,
                                            progress=False)
        np.testing.assert_allclose(fixed, auto, rtol=1e-5,
                                   atol=1e-6 * np.abs(auto).max())
    for bad in (0, -3, 2.5, True, "8"):
        with pytest.raises(ValueError, match="batch_size must be a positive"):
            # refused before the model file is converted
            genomics.score_sequences(DEMO_MODEL, onehot, batch_size=bad,
                                     progress=False)
