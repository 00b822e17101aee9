"""Scoring one-hot DNA sequences: :func:`score_sequences`."""
import os

import numpy as np

from deeplift.genomics.encoding import one_hot_encode
from deeplift.genomics.models import (METHOD_TO_NONLINEAR_MXTS_MODE,
                                      _DEFAULT_METHODS, _input_layer,
                                      _scorer, load_model, model_methods,
                                      normalize_method)
from deeplift.genomics.references import _reference_chunks
from deeplift.progress import progress_bar
from deeplift.scoring import is_task_list, should_fuse

#: integrated gradients: path points evaluated per call
_IG_POINTS_PER_BLOCK = 8192


def _check_onehot(onehot, length):
    if isinstance(onehot, (list, tuple)) and onehot and isinstance(
            onehot[0], str):
        onehot = one_hot_encode(onehot)
    onehot = np.asarray(onehot)
    if onehot.ndim != 3 or onehot.shape[-1] != 4:
        raise ValueError("sequences must be one-hot encoded with shape "
                         "(N, L, 4); got shape %s" % (onehot.shape,))
    if not (np.issubdtype(onehot.dtype, np.number) or onehot.dtype == bool):
        raise ValueError("one-hot sequences must be numeric; got dtype %s"
                         % (onehot.dtype,))
    onehot = onehot.astype(np.float32)
    if length is not None and onehot.shape[1] != length:
        raise ValueError("the sequences have length %d but the model expects "
                         "length %d" % (onehot.shape[1], length))
    if not np.all(np.isfinite(onehot)):
        raise ValueError("the one-hot sequences contain NaN or infinite "
                         "values")
    return onehot


def score_sequences(model, onehot, task_idx=0, method="genomics_default",
                    reference="dinuc-shuffle:20", seed=0, batch_size=256,
                    find_scores_layer=0, target_layer=-2, progress=True,
                    ig_steps=20, json_file=None, yaml_file=None, fuse=None):
    """Hypothetical and actual contributions of one-hot DNA sequences.

    Arguments:
        model: a converted deeplift model, or the path of a saved Keras
            model (then ``json_file``/``yaml_file`` as for
            :func:`deeplift.conversion.kerasapi_conversion.convert_model_from_saved_files`);
            a path is converted for ``method``.
        onehot: (N, L, 4) one-hot sequences (or a list of strings).
        task_idx: the output unit of ``target_layer`` to explain, or a
            list of T units: one forward pass per batch then serves all T,
            and both returned arrays get a leading task axis, (T, N, L, 4).
        method: one of :data:`METHODS`; with an already converted model,
            ``None`` (use the model's rule) or a method that its conversion
            supports (a ValueError says how to reconvert otherwise).
        reference: see the module docstring.
        seed: seeds the dinucleotide shuffles.
        batch_size: (sequence, reference) pairs per compiled call.
        find_scores_layer, target_layer: layer indices (Sequential) or
            names (functional); by default the input and the layer before
            the final activation.
        progress: show a progress bar on stderr.
        ig_steps: path points for ``integrated_gradients``.
        fuse: run the rules' large elementwise math XLA-compiled (same
            numbers; see :func:`deeplift.scoring.should_fuse`); None decides
            once for the whole job by its number of (sequence, reference)
            pairs.

    Returns ``(hypothetical, contribs)``, two float32 arrays of shape
    (N, L, 4): the hypothetical contributions averaged over the references
    (see :func:`deeplift.util.get_hypothetical_contribs_func_onehot`;
    computed by :class:`deeplift.multiref.MultiRefScorer`) and
    ``hypothetical * onehot``.
    """
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model, json_file=json_file, yaml_file=yaml_file,
                           method=("genomics_default" if method is None
                                   else method))
        method = model.deeplift_method
    else:
        supported = model_methods(model)
        if method is None:
            method = getattr(model, "deeplift_method", None) or next(
                (m for m in _DEFAULT_METHODS if m in supported),
                "genomics_default")
        method = normalize_method(method)
        if supported and method not in supported:
            raise ValueError(
                "method %r needs a model converted with nonlinear_mxts_mode="
                "%s, but this model supports %s; convert it again (or pass "
                "the model's file path, or method=None)"
                % (method, METHOD_TO_NONLINEAR_MXTS_MODE[method],
                   sorted(supported)))
    if batch_size is None or int(batch_size) < 1:
        raise ValueError("batch_size must be a positive integer, got %r"
                         % (batch_size,))
    batch_size = int(batch_size)
    ig_steps = int(ig_steps)
    if ig_steps < 1:
        raise ValueError("ig_steps must be at least 1, got %r" % (ig_steps,))
    in_shape = _input_layer(model).get_shape()
    if len(in_shape) != 3 or in_shape[-1] != 4:
        raise ValueError("the model's input has shape %s, not (None, L, 4) "
                         "one-hot DNA" % (tuple(in_shape),))
    onehot = _check_onehot(onehot, in_shape[1])
    scorer = _scorer(model, find_scores_layer, target_layer)
    # checks the task index or list (and that the target has such units)
    # before any reference is drawn
    scorer.scorer.seeds(task_idx, None, len(onehot), np.float32)
    several = is_task_list(task_idx)
    chunks, refs_per_sequence = _reference_chunks(onehot, reference, seed)
    if method != "integrated_gradients":
        ig_steps = None
    # decided for the whole job, not per chunk: compiling pays off over
    # all of its (sequence, reference) pairs
    fuse = should_fuse(fuse, len(onehot) * refs_per_sequence
                       * (ig_steps or 1))
    lead = (len(task_idx),) if several else ()
    hyp = np.empty(lead + onehot.shape, dtype=np.float32)
    with progress_bar(len(onehot), bool(progress),
                      "deeplift %s" % method) as bar:
        for start, chunk, refs in chunks:
            hyp[..., start:start + len(chunk), :, :] = _mean_hypothetical(
                scorer, chunk, refs, task_idx, batch_size, ig_steps, fuse)
            bar.update(len(chunk))
    return hyp, hyp * onehot


def _mean_hypothetical(scorer, chunk, refs, task_idx, batch_size, ig_steps,
                       fuse=None):
    """Hypothetical contributions of ``chunk`` (n, L, 4) averaged over its
    references ``refs`` (n, R, L, 4); with ``ig_steps``, integrated
    gradients along ``ig_steps`` points of each straight path.  A list of
    T tasks adds a leading task axis."""
    def hypothetical(inputs, references):
        return scorer.run(inputs, references, task_idx=task_idx, fuse=fuse,
                          batch_size=batch_size, hypothetical=True,
                          progress=False).hypothetical_contribs

    if ig_steps is None:
        return hypothetical(chunk, refs)
    # Every path point is scored with its pair's reference; hypothetical
    # contributions are linear in the multipliers, so their mean over the
    # points is that of the mean gradient.  A block of pairs at a time, to
    # bound memory.
    lead = (len(task_idx),) if is_task_list(task_idx) else ()
    xs = np.repeat(chunk, refs.shape[1], axis=0)          # (n*R, L, 4)
    rs = np.reshape(refs, xs.shape)
    alphas = ((np.arange(ig_steps) + 0.5) / ig_steps).astype(np.float32)
    hyp = np.empty(lead + xs.shape, dtype=np.float32)
    block = max(1, _IG_POINTS_PER_BLOCK // ig_steps)
    for start in range(0, len(xs), block):
        x_b, r_b = xs[start:start + block], rs[start:start + block]
        points = (r_b[:, None] + alphas[:, None, None]
                  * (x_b - r_b)[:, None])              # (b, steps, L, 4)
        hyp[..., start:start + block, :, :] = hypothetical(
            points.reshape((-1,) + xs.shape[1:]),
            np.repeat(r_b, ig_steps, axis=0)[:, None]).reshape(
                lead + points.shape).mean(axis=len(lead) + 1)
    return hyp.reshape(lead + refs.shape).mean(axis=len(lead) + 1)

