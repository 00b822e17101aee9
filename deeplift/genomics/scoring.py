"""Scoring one-hot DNA sequences: :func:`score_sequences`."""
import os

import numpy as np

from deeplift import methods as _methods
from deeplift.genomics.encoding import one_hot_encode
from deeplift.genomics.models import (METHOD_TO_NONLINEAR_MXTS_MODE,
                                      _DEFAULT_METHODS,
                                      _scorer, load_model, model_methods,
                                      normalize_method, resolve_target)
from deeplift.genomics.references import ReferenceSpec
from deeplift.multiref import auto_batch_size, check_batch_size
from deeplift.progress import progress_bar
from deeplift.scoring import is_task_list, should_fuse

#: sequences whose references are drawn and scored together by
#: :func:`score_sequences` (bounds its working memory; the numbers do not
#: depend on it)
_SEQUENCES_PER_STEP = 128


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
                    reference="dinuc-shuffle:20", seed=0, batch_size=None,
                    find_scores_layer=0, target_layer=-2, progress=True,
                    ig_steps=None, json_file=None, yaml_file=None, fuse=None,
                    target=None, target_convention="shap",
                    target_weights=None):
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
        batch_size: (sequence, reference) pairs per compiled call; None
            (default): chosen for the machine by
            :func:`deeplift.multiref.auto_batch_size` (a batch's largest
            activation about 16 MiB on CPU, 256 pairs on a GPU).
        find_scores_layer, target_layer: layer indices (Sequential) or
            names (functional); by default the input and the layer before
            the final activation.
        progress: show a progress bar on stderr.
        ig_steps: path points for ``integrated_gradients`` (None: the
            method's default in :mod:`deeplift.methods`, 20).
        target: None (``task_idx`` of ``target_layer``), or for a
            two-headed BPNet / ChromBPNet-style model ``"counts"`` (the
            counts head, unit ``task_idx``) or ``"profile"`` (the profile
            logits ``l`` through ChromBPNet's scalar
            ``sum(stop_grad(softmax(l) - 1/L) * l)``); the heads are found
            by their shapes (:func:`~deeplift.genomics.models.resolve_target`).
        target_convention: for ``"profile"``: ``"shap"`` (default; per
            pair weights ``0.5 * (w(x) + w(ref))`` with ``w = softmax(l) -
            1/L``, which reproduces ChromBPNet's DeepSHAP numbers) or
            ``"fixed"`` (weights ``w(x)``); see :mod:`deeplift.targets`.
        target_weights: multipliers on the target layer's output instead
            of ``task_idx`` (an array or a function, as for
            :meth:`deeplift.multiref.MultiRefScorer.run`).
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
    check_batch_size(batch_size)   # before any conversion
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
    if ig_steps is None:
        ig_steps = _methods.get("integrated_gradients").ig_steps
    ig_steps = int(ig_steps)
    if ig_steps < 1:
        raise ValueError("ig_steps must be at least 1, got %r" % (ig_steps,))
    in_shape = model.input_layer().get_shape()
    if len(in_shape) != 3 or in_shape[-1] != 4:
        raise ValueError("the model's input has shape %s, not (None, L, 4) "
                         "one-hot DNA" % (tuple(in_shape),))
    onehot = _check_onehot(onehot, in_shape[1])
    plan = ScoringPlan(model, method, len(onehot), onehot.shape[1], task_idx,
                       reference, seed, batch_size, ig_steps, fuse,
                       find_scores_layer, target_layer, target,
                       target_convention, target_weights)
    hyp = np.empty(plan.lead + onehot.shape, dtype=np.float32)
    with progress_bar(len(onehot), bool(progress),
                      "deeplift %s" % method) as bar:
        # whole calls per step, so no step pads (same bytes either way)
        step = max(1, _SEQUENCES_PER_STEP // plan.group) * plan.group
        for start in range(0, len(onehot), step):
            chunk = onehot[start:start + step]
            hyp[..., start:start + len(chunk), :, :] = plan.score(chunk,
                                                                 start)
            bar.update(len(chunk))
    return hyp, hyp * onehot


class ScoringPlan:
    """Everything fixed for one scoring job of ``num`` sequences of
    ``length``: the scorer of the model's target, the task(s), the
    references (:class:`~deeplift.genomics.references.ReferenceSpec`), the
    batch layout, integrated-gradient steps and fusion (decided once from
    the job's size).

    :meth:`score` of any run of the job's sequences gives the same bytes
    whatever the runs are, by construction: references are seeded per
    sequence, and compiled call ``k`` always holds the job's sequences
    ``[k * group, (k + 1) * group)`` in that order, with the same padded
    shape for every call (a run that starts or ends inside a call is
    padded with copies of its first / last sequence), except that an
    unfused job's last call holds only the job's remaining sequences (a
    smaller call costs nothing more there, while XLA compiles the fused
    rule math once per call shape: a fused job pads it).  So a sequence sits
    at the same position of a call of the same shape whatever the
    chunking.  That matters because the CPU kernels (Eigen's and oneDNN's
    convolutions) round a row by its position in the call and by the
    call's shape (the tail of the flattened batch x length rows takes
    another code path), not by the other sequences' values.  Runs that
    start at a multiple of :attr:`group` need no leading padding.
    """

    def __init__(self, model, method, num, length, task_idx=0,
                 reference="dinuc-shuffle:20", seed=0, batch_size=None,
                 ig_steps=None, fuse=None, find_scores_layer=0,
                 target_layer=-2, target=None, target_convention="shap",
                 target_weights=None):
        self.method = normalize_method(method)
        if target is not None:
            target_layer = resolve_target(model, target)
            from deeplift.targets import (is_track_target,
                                          parse_track_target, track_target)
            if target == "profile":
                from deeplift.targets import profile_target
                if target_weights is not None:
                    raise ValueError("target='profile' makes its own "
                                     "target_weights")
                if is_task_list(task_idx) or task_idx not in (0, None):
                    raise ValueError("target='profile' explains the whole "
                                     "profile; task_idx must be 0")
                target_weights = profile_target(target_convention)
            elif is_track_target(target):
                if target_weights is not None:
                    raise ValueError("a track target makes its own "
                                     "target_weights")
                if is_task_list(task_idx) or task_idx not in (0, None):
                    raise ValueError("a track target explains its bins "
                                     "summed; task_idx must be 0")
                target_weights = track_target(*parse_track_target(target))
        self.scorer = _scorer(model, find_scores_layer, target_layer)
        self.target_weights = target_weights
        if callable(target_weights):
            task_idx = 0
        else:
            # checks the task index or list (and that the target has such
            # units) before any reference is drawn
            self.scorer.scorer.seeds(task_idx, target_weights, max(num, 1),
                                     np.float32)
        self.task_idx = task_idx
        self.lead = (len(task_idx),) if is_task_list(task_idx) else ()
        self.num = int(num)
        self.refs = ReferenceSpec(reference, num, length, seed)
        if _methods.get(self.method).family != _methods.INTEGRATED_GRADIENTS:
            ig_steps = None
        self.ig_steps = ig_steps
        #: (sequence, reference) pairs (or path points) per sequence
        unit = self.refs.per_sequence * (ig_steps or 1)
        #: the batch size asked for, or the automatic one (None): what a
        #: job's fingerprint and its workers get
        self.requested_batch_size = check_batch_size(batch_size)
        if self.requested_batch_size is None:
            self.requested_batch_size = auto_batch_size(self.scorer.scorer)
        #: sequences per compiled call (one when a sequence's points fill
        #: more than a batch: then every sequence is split the same way,
        #: into calls of equal size)
        self.group = max(1, self.requested_batch_size // unit)
        if unit <= self.requested_batch_size:
            self.batch_size = self.group * unit
        else:
            calls = -(-unit // self.requested_batch_size)
            self.batch_size = -(-unit // calls)
        # decided for the whole job, not per chunk: compiling pays off over
        # all of its (sequence, reference) pairs
        self.fuse = should_fuse(fuse, num * unit)

    def score(self, chunk, first_index):
        """Hypothetical contributions ([T,] n, L, 4) float32 of ``chunk``
        (n, L, 4), the job's sequences ``first_index ..``, averaged over
        their references."""
        num = len(chunk)
        weights = self.target_weights
        if weights is not None and not callable(weights):
            weights = np.asarray(weights)
            if weights.ndim > 0 and len(weights) > 1 and weights.shape != \
                    tuple(self.scorer.scorer.target_layer.get_shape()[1:]):
                raise ValueError("per-sequence target_weights arrays are not "
                                 "supported by score_sequences; give one "
                                 "shared array or a function")
        # one reference shared by every sequence: scored as a batch-1
        # reference (single-input models; target-weight functions keep
        # the pair path, where they see equal batches)
        shared = (self.refs.shared(chunk.shape[1])
                  if self.ig_steps is None and not callable(weights)
                  and len(self.scorer.scorer.input_layers) == 1 else None)
        refs = (None if shared is not None
                else self.refs.references(chunk, first_index))
        # calls aligned to the job's sequence indices (see the class doc)
        front = first_index % self.group
        # up to the end of the run's last call; an unfused job's own last
        # call ends at the job's last sequence (its shape is the job's,
        # not the run's: the same for every chunking)
        back = (0 if first_index + num >= self.num and not self.fuse
                else (-(front + num)) % self.group)
        if front or back:
            chunk = np.concatenate([np.repeat(chunk[:1], front, 0), chunk,
                                    np.repeat(chunk[-1:], back, 0)])
            if refs is not None:
                refs = np.concatenate([np.repeat(refs[:1], front, 0), refs,
                                       np.repeat(refs[-1:], back, 0)])
        if shared is not None:
            parts = [_shared_reference_hypothetical(
                self.scorer, chunk[s:s + self.group], shared, self.task_idx,
                self.batch_size, self.fuse, weights)
                for s in range(0, len(chunk), self.group)]
        else:
            parts = [_mean_hypothetical(self.scorer, chunk[s:s + self.group],
                                        refs[s:s + self.group],
                                        self.task_idx, self.batch_size,
                                        self.ig_steps, self.fuse, weights)
                     for s in range(0, len(chunk), self.group)]
        return np.concatenate(parts, axis=-3)[..., front:front + num, :, :]


def _shared_reference_hypothetical(scorer, chunk, ref, task_idx, batch_size,
                                   fuse, target_weights=None):
    """Hypothetical contributions ([T,] n, L, 4) of ``chunk`` (n, L, 4)
    against one reference ``ref`` (L, 4) shared by every sequence (what
    :func:`_mean_hypothetical` gives for one reference per sequence, up to
    float32 rounding).

    The reference goes through the model once per compiled call (batch 1),
    as in ``get_target_contribs_func``, instead of once per (sequence,
    reference) pair: the pair path runs two full forward passes per
    sequence, this one runs one."""
    inner = scorer.scorer       # kinds (CONTRIBS, MULTIPLIERS)
    seed, num_tasks = inner.seeds(task_idx, target_weights, len(chunk),
                                  np.float32, scorer.scoring_mode)
    fn = inner.compiled_function(np.float32, num_tasks, fuse)
    n_layers = len(inner.score_layers)
    parts = []
    for start in range(0, len(chunk), batch_size):
        mults = fn(chunk[start:start + batch_size], ref[None],
                   seed)[n_layers].numpy()          # ([T,] b, L, 4)
        parts.append(mults - np.sum(ref * mults, axis=-1, keepdims=True))
    return np.concatenate(parts, axis=-3)


def _mean_hypothetical(scorer, chunk, refs, task_idx, batch_size, ig_steps,
                       fuse=None, target_weights=None):
    """Hypothetical contributions of ``chunk`` (n, L, 4) averaged over its
    references ``refs`` (n, R, L, 4); with ``ig_steps``, integrated
    gradients along ``ig_steps`` points of each straight path.  A list of
    T tasks adds a leading task axis."""
    def hypothetical(inputs, references):
        return scorer.run(inputs, references, task_idx=task_idx, fuse=fuse,
                          target_weights=target_weights,
                          batch_size=batch_size, hypothetical=True,
                          progress=False).hypothetical_contribs

    if ig_steps is None:
        return hypothetical(chunk, refs)
    # Every path point is scored with its pair's reference; hypothetical
    # contributions are linear in the multipliers, so their mean over the
    # points is that of the mean gradient.
    lead = (len(task_idx),) if is_task_list(task_idx) else ()
    xs = np.repeat(chunk, refs.shape[1], axis=0)          # (n*R, L, 4)
    rs = np.reshape(refs, xs.shape)
    alphas = ((np.arange(ig_steps) + 0.5) / ig_steps).astype(np.float32)
    points = rs[:, None] + alphas[:, None, None] * (xs - rs)[:, None]
    hyp = hypothetical(points.reshape((-1,) + xs.shape[1:]),
                       np.repeat(rs, ig_steps, axis=0)[:, None]).reshape(
                           lead + points.shape).mean(axis=len(lead) + 1)
    return hyp.reshape(lead + refs.shape).mean(axis=len(lead) + 1)
