"""Same bytes whatever the chunking, by construction: ScoringPlan's compiled
calls are aligned to the job's sequence indices.

The CPU kernels (Eigen's and oneDNN's convolutions) round a row by its
position inside the call and by the call's shape, not by the other rows'
values; these tests compare with exact equality (tolerance 0: the claim is
byte identity), under whichever kernel library TF_ENABLE_ONEDNN_OPTS picks.
"""
import numpy as np
import pytest

from deeplift import genomics
from deeplift.cli import DEMO_MODEL
from deeplift.genomics.scoring import ScoringPlan

L = 200


@pytest.fixture(scope="module")
def model():
    return genomics.load_model(DEMO_MODEL,
                               maxpool_deeplift_mode="summation_to_delta")


@pytest.fixture(scope="module")
def seqs():
    rng = np.random.RandomState(5)
    return np.eye(4, dtype=np.float32)[rng.randint(0, 4, (21, L))]


def _plan(model, num, batch_size):
    return ScoringPlan(model, "genomics_default", num, L, [0, 2],
                       "dinuc-shuffle:3", 0, batch_size)


@pytest.mark.parametrize("cuts", [[7, 14], [3, 4, 5, 19], [1, 2, 20]])
def test_any_chunking_gives_the_same_bytes(model, seqs, cuts):
    """Runs that start and end inside a compiled call (8 sequences of 3
    references per call of 24 pairs) equal one run over all sequences,
    byte for byte (with Eigen, the last sequence of a call is rounded
    differently from the others, so misaligned calls would differ)."""
    plan = _plan(model, len(seqs), 24)
    assert plan.group == 8 and plan.batch_size == 24
    whole = plan.score(seqs, 0)
    bounds = [0] + cuts + [len(seqs)]
    parts = np.concatenate([plan.score(seqs[a:b], a)
                            for a, b in zip(bounds[:-1], bounds[1:])],
                           axis=-3)
    assert parts.tobytes() == whole.tobytes()


def test_score_sequences_equals_the_plan_at_any_group(model, seqs):
    """score_sequences (steps of whole calls) equals a plan scoring odd
    chunks, for a group (7 sequences) that does not divide its step of
    128."""
    hyp, _ = genomics.score_sequences(model, seqs, task_idx=[0, 2],
                                      reference="dinuc-shuffle:3", seed=0,
                                      batch_size=21, progress=False)
    plan = _plan(model, len(seqs), 21)
    assert plan.group == 7
    parts = np.concatenate([plan.score(seqs[a:a + 5], a)
                            for a in range(0, len(seqs), 5)], axis=-3)
    assert parts.tobytes() == hyp.tobytes()


def _call_sizes(monkeypatch, scorer):
    """Records the number of sequences of each call of ``scorer`` (shared
    by the plans of one model; restored after the test)."""
    sizes = []
    run = scorer.run

    def counting_run(inputs, references, **kwargs):
        sizes.append(len(inputs))
        return run(inputs, references, **kwargs)
    monkeypatch.setattr(scorer, "run", counting_run)
    return sizes


def test_no_unfused_call_computes_sequences_past_the_jobs_end(model, seqs,
                                                              monkeypatch):
    """Unfused, the job's last call holds only its remaining sequences (21
    = 8 + 8 + 5), in a whole run and in a run that starts inside that call
    (padded in front only, to the call's start); a run ending inside a
    call is padded to the call's end.  The bytes of each are the whole
    run's (test_any_chunking_gives_the_same_bytes covers runs ending at 20
    and 21).  Fused, the last call is padded too (XLA compiles once per
    call shape)."""
    plan = _plan(model, len(seqs), 24)
    assert not plan.fuse
    sizes = _call_sizes(monkeypatch, plan.scorer)
    whole = plan.score(seqs, 0)
    assert sizes == [8, 8, 5]
    del sizes[:]
    tail = plan.score(seqs[18:], 18)
    assert sizes == [5]
    assert tail.tobytes() == whole[..., 18:, :, :].tobytes()
    del sizes[:]
    plan.score(seqs[3:10], 3)
    assert sizes == [8, 8]
    fused = ScoringPlan(model, "genomics_default", len(seqs), L, [0, 2],
                        "dinuc-shuffle:3", 0, 24, fuse=True)
    assert fused.scorer is plan.scorer
    del sizes[:]
    fused.score(seqs[18:], 18)
    assert sizes == [8]
