"""A small simulation of the DeepLIFT paper's genomics data (GATA / TAL1
motifs) and the AUROC used to judge how well scores find the motifs."""
import numpy as np

from deeplift.genomics.encoding import BASES


#: background base frequencies (A, C, G, T)
BACKGROUND = np.array([0.27, 0.23, 0.23, 0.27])

#: position probability matrices (A, C, G, T) approximating the ENCODE
#: motifs GATA_disc1 (10 bp, core GATAA) and TAL1_known1 (16 bp, E-box
#: CAGATG / CAGGTG) embedded in the original DeepLIFT simulation
GATA_PWM = np.array([
    [0.32, 0.19, 0.36, 0.13],
    [0.14, 0.46, 0.33, 0.07],
    [0.67, 0.10, 0.00, 0.23],
    [0.00, 0.00, 1.00, 0.00],
    [1.00, 0.00, 0.00, 0.00],
    [0.00, 0.00, 0.00, 1.00],
    [0.88, 0.00, 0.00, 0.12],
    [0.98, 0.02, 0.00, 0.00],
    [0.00, 0.05, 0.95, 0.00],
    [0.24, 0.26, 0.50, 0.00]])
#: the TAL1_known1 motif (16 bp), as :data:`GATA_PWM`
TAL1_PWM = np.array([
    [0.23, 0.35, 0.28, 0.14],
    [0.15, 0.30, 0.22, 0.33],
    [0.13, 0.23, 0.45, 0.19],
    [0.65, 0.09, 0.14, 0.12],
    [0.61, 0.30, 0.03, 0.06],
    [0.00, 1.00, 0.00, 0.00],
    [1.00, 0.00, 0.00, 0.00],
    [0.00, 0.00, 1.00, 0.00],
    [0.87, 0.01, 0.10, 0.02],
    [0.00, 0.00, 0.00, 1.00],
    [0.00, 0.00, 1.00, 0.00],
    [0.01, 0.03, 0.60, 0.36],
    [0.03, 0.17, 0.01, 0.79],
    [0.19, 0.44, 0.17, 0.20],
    [0.27, 0.22, 0.31, 0.20],
    [0.23, 0.26, 0.31, 0.20]])

#: tasks of the simulation (and of the paper's genomics model): task 0 is
#: positive when both motifs are present, task 1 for GATA, task 2 for TAL1
TASK_NAMES = ("GATA+TAL1", "GATA", "TAL1")


def _sample(rng, probs, size):
    probs = np.asarray(probs, dtype=float)
    probs = probs / probs.sum(axis=-1, keepdims=True)
    cum = np.cumsum(probs, axis=-1)
    u = rng.random_sample(size + (1,) if probs.ndim == 1
                          else size + (len(probs), 1))
    idx = (u > cum).sum(axis=-1)
    return np.minimum(idx, 3)


def simulate_sequences(n, length=200, seed=0):
    """Simulated sequences like the DeepLIFT paper's genomics data.

    Each sequence is random background (A/C/G/T 27/23/23/27%) of one of
    four classes, drawn with equal probability: empty, GATA only (1-3 GATA
    instances), TAL1 only (1-3 TAL1 instances) or both (1-3 of each); the
    instances are sampled from :data:`GATA_PWM` / :data:`TAL1_PWM` and
    placed without overlap.

    Returns ``(sequences, labels, motif_mask)``: a list of ``n`` strings,
    an (n, 3) int array of labels for the tasks of :data:`TASK_NAMES`
    (both motifs, GATA, TAL1) and an (n, 3, length) bool array marking,
    for each task, the positions of the motifs that define it (task 0: all
    motif positions, task 1: GATA, task 2: TAL1).
    """
    n, length = int(n), int(length)
    if n < 0:
        raise ValueError("n must be >= 0")
    if length < len(TAL1_PWM) * 6 + len(GATA_PWM) * 3:
        raise ValueError("length must be at least %d to fit the motifs"
                         % (len(TAL1_PWM) * 6 + len(GATA_PWM) * 3))
    rng = np.random.RandomState(seed)
    tokens = _sample(rng, BACKGROUND, (n, length))
    classes = rng.randint(0, 4, size=n)      # 0 empty 1 gata 2 tal1 3 both
    labels = np.zeros((n, 3), dtype=np.int64)
    mask = np.zeros((n, 3, length), dtype=bool)
    for i in range(n):
        motifs = []
        if classes[i] in (1, 3):
            motifs += [(GATA_PWM, 1)] * rng.randint(1, 4)
        if classes[i] in (2, 3):
            motifs += [(TAL1_PWM, 2)] * rng.randint(1, 4)
        order = rng.permutation(len(motifs))
        occupied = np.zeros(length, dtype=bool)
        for j in order:
            pwm, task = motifs[j]
            width = len(pwm)
            for _ in range(1000):
                start = rng.randint(0, length - width + 1)
                if not occupied[start:start + width].any():
                    break
            else:  # pragma: no cover - lengths are checked above
                continue
            occupied[start:start + width] = True
            tokens[i, start:start + width] = _sample(rng, pwm, ())
            mask[i, task, start:start + width] = True
            labels[i, task] = 1
        labels[i, 0] = int(labels[i, 1] and labels[i, 2])
        mask[i, 0] = mask[i, 1] | mask[i, 2]
    letters = np.frombuffer(BASES.encode(), dtype=np.uint8)
    seqs = [letters[row].tobytes().decode() for row in tokens]
    return seqs, labels, mask


def auroc(scores, labels):
    """Area under the ROC curve of ``scores`` for binary ``labels`` (ties
    count one half); NaN if only one class is present."""
    scores = np.asarray(scores, dtype=float).ravel()
    labels = np.asarray(labels, dtype=bool).ravel()
    num_pos, num_neg = labels.sum(), (~labels).sum()
    if num_pos == 0 or num_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=float)
    sorted_scores = scores[order]
    # average ranks of ties
    _, first, counts = np.unique(sorted_scores, return_index=True,
                                 return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[labels].sum() - num_pos * (num_pos + 1) / 2.0)
                 / (num_pos * num_neg))


def motif_mask_auroc(contribs, mask):
    """Mean over sequences of the per-position AUROC of
    ``|contribs.sum(-1)|`` against the bool ``mask`` (N, L); sequences
    without motif positions are skipped."""
    scores = np.abs(np.asarray(contribs).sum(axis=-1))
    values = [auroc(s, m) for s, m in zip(scores, np.asarray(mask))
              if m.any() and not m.all()]
    return float(np.mean(values)) if values else float("nan")
