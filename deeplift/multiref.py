"""Native multi-reference scoring.

DeepLIFT scores depend on the reference; a common remedy (e.g. dinucleotide
shuffled references for genomic sequences) is to score every example
against K references and average.  This module does that in one compiled
pass per device batch:

* every example is paired with each of its K references and the
  (example, reference) pairs are scored in large batches (batches cross
  example boundaries, so K need not divide the batch size);
* one pass gives the contributions *and* the multipliers of the scored
  layers and the target's difference from reference, so the mean
  hypothetical contributions (one-hot input) and the per-pair convergence
  deltas come at no extra device cost;
* the references are an array or are generated lazily, example by
  example, by a function (``ref_fn(example, num_refs, rng)``), so the K
  tiled copies never need to exist all at once.

Typical use::

    from deeplift.multiref import MultiRefScorer
    from deeplift.dinuc_shuffle import dinuc_shuffle

    scorer = MultiRefScorer(deeplift_model, find_scores_layer=0,
                            target_layer=-2)
    result = scorer.run(
        onehot_seqs,
        references=lambda seq, k, rng: dinuc_shuffle(seq, num_shufs=k,
                                                     rng=rng),
        num_refs=10, task_idx=0, hypothetical=True)
    result.contribs, result.hypothetical_contribs

or, from a function made by ``model.get_target_contribs_func(...)``::

    score_with_references(contribs_func, onehot_seqs, refs)   # refs (N,K,L,4)

Results equal the original package's
``deeplift.util.get_shuffle_seq_ref_function`` given the same references
(use :func:`shuffle_ref_fn` to draw them from the same random stream).
"""
import collections
import logging
import sys
import weakref

import numpy as np

from deeplift.layers.activations import Activation
from deeplift.progress import progress_bar
from deeplift.scoring import (Scorer, CONTRIBS, MULTIPLIERS, prepare_inputs,
                              should_fuse, check_finite, is_task_list,
                              warn_if_not_finite)

logger = logging.getLogger(__name__)

MultiRefResult = collections.namedtuple(
    "MultiRefResult",
    ["contribs", "hypothetical_contribs", "multipliers", "deltas"])
MultiRefResult.__doc__ = """What :meth:`MultiRefScorer.run` returns when
``hypothetical``, ``return_deltas`` or ``return_multipliers`` is set (a
named tuple; a field not asked for is None).  Shapes are for one scored
layer and one task: with a list of T tasks every array has a leading task
axis (T, ...); with several scored layers the first three fields are lists,
one array per layer.  Arrays have the input's float dtype (float32)."""
MultiRefResult.contribs.__doc__ = """(N, ...) the scored layer's
contributions to the target, averaged over each example's K references;
the same as ``run`` returns without the options."""
MultiRefResult.hypothetical_contribs.__doc__ = """(N, ..., C) or None
(``hypothetical=True``): for a one-hot input, the contribution each of the
C letters would have at each position, ``m[..., b] - sum_d ref[..., d] *
m[..., d]`` averaged over the references (what TF-MoDISco reads); times
the one-hot input and summed over the letters it equals ``contribs``
summed over the letters."""
MultiRefResult.multipliers.__doc__ = """(N, ...) or None
(``return_multipliers=True``): the multipliers of the scored layer,
averaged over the references."""
MultiRefResult.deltas.__doc__ = """(N, K) or None (``return_deltas=True``):
per (example, reference) pair, the sum of all scored layers' contributions
minus the change of the target, ``sum(seed * (f(x) - f(ref)))``; near 0
(float32 rounding) for DeepLIFT when the inputs are scored (through max
pooling only with ``MaxPoolDeepLiftMode.summation_to_delta``)."""


def _pair_scorer(input_layers, score_layers, target_layer, input_names):
    """A Scorer returning, from one forward and one backward sweep, the
    contributions and the multipliers of every scored layer, then the
    target's difference from reference."""
    return Scorer(input_layers=input_layers, score_layers=score_layers,
                  target_layer=target_layer, kind=(CONTRIBS, MULTIPLIERS),
                  input_names=input_names, with_target_diff=True)


def _segments(example_idx):
    """Start offsets and values of the runs of equal, sorted indices."""
    starts = np.flatnonzero(np.r_[True, example_idx[1:] != example_idx[:-1]])
    return starts, example_idx[starts]


def shuffle_ref_fn(shuffle_func):
    """A ``ref_fn`` from an original-style shuffle function
    ``shuffle_func(seq, rng=rng) -> one shuffled seq``.

    It calls ``shuffle_func`` K times per example, in example order, on one
    ``rng`` - exactly as ``deeplift.util.get_shuffle_seq_ref_function``
    does, so both draw the same references for the same ``seed``.
    """
    def ref_fn(example, num_refs, rng):
        seq = example.squeeze() if isinstance(example, np.ndarray) \
            else example
        return np.stack([np.reshape(shuffle_func(seq, rng=rng),
                                    np.shape(example))
                         for _ in range(num_refs)])
    return ref_fn


#: On CPU, :func:`auto_batch_size` sizes a batch so that the largest layer
#: activation of the batch takes about this many bytes (31 pairs of 0.5
#: MiB on the ChromBPNet-shaped model of bench/bench_multiref.py, 64
#: filters).  Measured there (bench/RESULTS.md, bench/NOTES.md): on a quiet
#: machine 20 to 256 pairs per call ran within 5% of each other, 5-15
#: pairs up to 10% slower; under heavy load small batches were faster;
#: small batches keep memory low.
CPU_BATCH_BYTES = 16 << 20

#: and never more pairs than this (nor, on a GPU, fewer)
MAX_BATCH_PAIRS = 256


def check_batch_size(batch_size):
    """``batch_size`` as a positive int, or None (automatic); a
    ValueError otherwise."""
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(
            batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError("batch_size must be a positive integer or None "
                         "(automatic), got %r" % (batch_size,))
    return int(batch_size)


def auto_batch_size(scorer, dtype=np.float32):
    """(example, reference) pairs per compiled call for ``scorer`` (a
    :class:`deeplift.scoring.Scorer`): on a GPU, MAX_BATCH_PAIRS; on CPU,
    CPU_BATCH_BYTES divided by the size of one pair's largest layer
    activation, between 1 and MAX_BATCH_PAIRS."""
    import tensorflow as tf
    if tf.config.list_logical_devices("GPU"):
        return MAX_BATCH_PAIRS
    largest = max(int(np.prod([d or 1 for d in layer.get_shape()[1:]]))
                  for layer in scorer.order)
    per_pair = largest * np.dtype(dtype).itemsize
    return int(max(1, min(MAX_BATCH_PAIRS, CPU_BATCH_BYTES // per_pair)))


class _RunningMeans(object):
    """Means over the K references of every example, (T, N, ...), in the
    output dtype, each written when the last of its pairs has been added;
    only examples whose pairs span batches keep a float64 sum meanwhile.
    So memory does not grow beyond the results with the number of
    examples (the sums of a whole run in float64 would be twice the
    float32 results)."""

    def __init__(self, shape, num_refs, dtype):
        self.out = np.zeros(shape, dtype=dtype)
        self.num_refs = num_refs
        self.open = {}      # example -> (float64 sum (T, ...), pairs seen)

    def add(self, examples, sizes, sums):
        """``sums`` (T, m, ...): for each of the m ``examples`` (in order),
        the sum over ``sizes`` of its pairs."""
        k = self.num_refs
        complete = sizes == k
        # an example whose K pairs are all in this batch: written at once
        inner = complete.copy()
        for j in (0, len(examples) - 1):
            inner[j] = complete[j] and int(examples[j]) not in self.open
        if inner.any():
            self.out[:, examples[inner]] = (
                sums[:, inner].astype(np.float64) / k).astype(self.out.dtype)
        for j in np.flatnonzero(~inner):
            e = int(examples[j])
            acc, seen = self.open.pop(e, (0.0, 0))
            acc = acc + sums[:, j].astype(np.float64)
            seen += int(sizes[j])
            if seen == k:
                self.out[:, e] = (acc / k).astype(self.out.dtype)
            else:
                self.open[e] = (acc, seen)

    def result(self):
        if self.open:   # pragma: no cover - every pair is added
            raise RuntimeError("examples %s have missing pairs"
                               % sorted(self.open))
        return self.out


def _prefetched(iterator):
    """The items of ``iterator``, each prepared in a helper thread while
    the caller works on the one before (one item ahead).  Items are made
    in order, one at a time, so a random stream drawn from inside the
    iterator gives the same numbers as without the thread.  An exception
    in the iterator is raised here."""
    import concurrent.futures
    done = object()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(next, iterator, done)
        while True:
            item = pending.result()
            if item is done:
                return
            pending = pool.submit(next, iterator, done)
            yield item


def _make_rng(seed):
    if isinstance(seed, (np.random.RandomState, np.random.Generator)):
        return seed
    return np.random.RandomState(seed)


class _ArrayRefs(object):
    """References given as arrays: per input (N, K, ...) or shared
    (K, ...)."""

    def __init__(self, refs, shared):
        self.refs = refs
        self.shared = shared

    def get(self, ii, kk):
        return [r[kk] if s else r[ii, kk]
                for r, s in zip(self.refs, self.shared)]


class _GeneratedRefs(object):
    """References generated by ``ref_fn`` one example at a time, in
    example order (so the random stream does not depend on the batch
    size), keeping only the examples of the current batch."""

    def __init__(self, ref_fn, data, num_refs, rng, names, dtype, multi):
        self.ref_fn = ref_fn
        self.data = data
        self.num_refs = num_refs
        self.rng = rng
        self.names = names
        self.dtype = dtype
        self.multi = multi
        self.cache = {}
        self.next_example = 0

    def _generate(self, i):
        example = [d[i] for d in self.data]
        refs = self.ref_fn(example if self.multi else example[0],
                           self.num_refs, self.rng)
        if not self.multi:
            refs = [refs]
        elif not isinstance(refs, (list, tuple)) or len(refs) != len(
                self.data):
            raise ValueError("ref_fn must return a list with one (K, ...) "
                             "array per input (%d inputs) for a multi-input "
                             "model" % len(self.data))
        out = []
        for ref, d, name in zip(refs, self.data, self.names):
            ref = np.asarray(ref, dtype=self.dtype)
            expected = (self.num_refs,) + d.shape[1:]
            if ref.shape != expected:
                raise ValueError(
                    "ref_fn returned references of shape %s for input %r "
                    "of example %d; expected (num_refs, ...) = %s"
                    % (ref.shape, name, i, expected))
            check_finite(ref, "references from ref_fn for input %r"
                             % (name,))
            out.append(ref)
        return out

    def get(self, ii, kk):
        last = int(ii[-1])
        while self.next_example <= last:
            self.cache[self.next_example] = self._generate(self.next_example)
            self.next_example += 1
        first = int(ii[0])
        for i in [i for i in self.cache if i < first]:
            del self.cache[i]
        # pairs are example-major: one contiguous run of k per example
        starts, examples = _segments(ii)
        bounds = list(starts) + [len(ii)]
        return [np.concatenate([
            self.cache[int(i)][j][kk[a]:kk[b - 1] + 1]
            for i, a, b in zip(examples, bounds[:-1], bounds[1:])])
            for j in range(len(self.data))]


def _is_keras_model(obj):
    """Whether ``obj`` is a Keras 3 or tf_keras model.  A package not
    imported yet cannot have made ``obj``, so none is imported here
    (importing tf_keras costs 0.4 s, a quarter of a first call)."""
    for name in ("keras", "tf_keras"):
        module = sys.modules.get(name)
        model_class = getattr(module, "Model", None)
        if isinstance(model_class, type) and isinstance(obj, model_class):
            return True
    return False


class MultiRefScorer(object):
    """Scores of some layers of a deeplift model w.r.t. a target layer,
    averaged over several references per example.

    ``model``: a deeplift ``SequentialModel`` or ``GraphModel``, or an
    in-memory Keras model (converted with
    ``kerasapi_conversion.convert_keras_model(model,
    nonlinear_mxts_mode=nonlinear_mxts_mode)``).

    ``find_scores_layer``: the layer(s) to score: an index (SequentialModel)
    or a name (GraphModel; an int ``i`` means the model's ``i``-th input),
    a deeplift layer, a list of those, or None for all the model's inputs.
    Default 0: the (first) input.

    ``target_layer``: index (SequentialModel), name, or deeplift layer; for
    a GraphModel an int counts back from the model's single output layer
    (-1 the output, -2 the layer feeding it, ...).  None (default): the
    output layer, or the layer before it when it is an activation (the
    usual pre-activation target).

    ``scoring_mode``: optional ``ScoringMode`` for the target seed.

    Build once, call :meth:`run` many times: the compiled function is
    reused (no retracing across tasks, batch sizes or references).
    """

    def __init__(self, model, find_scores_layer=0, target_layer=None,
                 nonlinear_mxts_mode=None, scoring_mode=None):
        self.scoring_mode = scoring_mode
        if isinstance(model, Scorer):
            self._init_from_scorer(model)
            return
        if _is_keras_model(model):
            from deeplift.conversion import kerasapi_conversion as kc
            from deeplift.layers.core import NonlinearMxtsMode
            model = kc.convert_keras_model(
                model, nonlinear_mxts_mode=(
                    nonlinear_mxts_mode
                    or NonlinearMxtsMode.DeepLIFT_GenomicsDefault),
                verbose=False)
        elif nonlinear_mxts_mode is not None:
            logger.warning("nonlinear_mxts_mode is only used when a Keras "
                           "model is converted; ignoring it")
        from deeplift.models import SequentialModel, GraphModel
        if not isinstance(model, (SequentialModel, GraphModel)):
            raise TypeError("model must be a deeplift SequentialModel or "
                            "GraphModel, a Keras model or a Scorer; got %s"
                            % type(model).__name__)
        self.model = model
        inputs = model.input_layers()
        self._single = not isinstance(find_scores_layer, (list, tuple)) \
            and not (find_scores_layer is None and len(inputs) > 1)
        if find_scores_layer is None:
            score_layers = list(inputs)
        else:
            items = (find_scores_layer if isinstance(
                find_scores_layer, (list, tuple)) else [find_scores_layer])
            score_layers = [model.score_layer(item) for item in items]
        # deeplift.models' navigation: None is the output or its
        # pre-activation; a GraphModel's int counts back from the output
        target = model.target_layer(target_layer)
        if isinstance(target, Activation) and target_layer is not None:
            model.check_target(target)  # raises the original's error
        self.scorer = _pair_scorer(inputs, score_layers, target,
                                  input_names=model.input_names())
        self._finish()

    @classmethod
    def from_scorer(cls, scorer, scoring_mode=None):
        """A MultiRefScorer over the same inputs, scored layers and target
        as ``scorer`` (a :class:`deeplift.scoring.Scorer`, or a function
        made by ``get_target_contribs_func``/``get_target_multipliers_func``
        - its ``.scorer``)."""
        return cls(getattr(scorer, "scorer", scorer),
                   scoring_mode=scoring_mode)

    def _init_from_scorer(self, scorer):
        self.model = None
        self._single = len(scorer.score_layers) == 1
        self.scorer = _pair_scorer(scorer.input_layers, scorer.score_layers,
                                  scorer.target_layer,
                                  input_names=scorer.input_names)
        self._finish()

    def _finish(self):
        scorer = self.scorer
        self._input_pos = dict((id(l), j)
                               for j, l in enumerate(scorer.input_layers))

    # ----- references ----------------------------------------------------
    def _references(self, references, data, num_refs, dtype, seed, names):
        multi = len(data) > 1
        if callable(references):
            if num_refs is None:
                raise ValueError("num_refs must be given when references is "
                                 "a function")
            num_refs = self._check_num_refs(num_refs)
            return (_GeneratedRefs(references, data, num_refs,
                                   _make_rng(seed), names, dtype, multi),
                    num_refs)
        if isinstance(references, dict):
            references = [references[n] for n in names]
        elif not isinstance(references, (list, tuple)):
            references = [references]
        elif not multi and not (len(references) == 1 and isinstance(
                references[0], np.ndarray)):
            references = [references]
        if len(references) != len(data):
            raise ValueError("the model has %d input(s) but %d reference "
                             "array(s) were given" % (len(data),
                                                      len(references)))
        refs, shared, ks = [], [], set()
        for ref, d, name in zip(references, data, names):
            ref = np.asarray(ref, dtype=dtype)
            n, shape = d.shape[0], d.shape[1:]
            if ref.ndim == d.ndim + 1 and ref.shape[0] == n \
                    and ref.shape[2:] == shape:
                shared.append(False)
                ks.add(ref.shape[1])
            elif ref.ndim == d.ndim and ref.shape[1:] == shape:
                shared.append(True)
                ks.add(ref.shape[0])
            else:
                raise ValueError(
                    "references for input %r have shape %s; expected "
                    "(N, K) + %s = (%d, K, %s) (K references per example) "
                    "or (K,) + %s (the same K references for every example)"
                    % (name, ref.shape, shape, n,
                       ", ".join(str(s) for s in shape), shape))
            check_finite(ref, "references for input %r" % (name,))
            refs.append(ref)
        if len(ks) != 1:
            raise ValueError("the inputs have different numbers of "
                             "references per example: %s" % sorted(ks))
        k = ks.pop()
        if k < 1:
            raise ValueError("at least one reference per example is needed")
        if num_refs is not None and self._check_num_refs(num_refs) != k:
            raise ValueError("num_refs=%d but the references hold %d per "
                             "example" % (num_refs, k))
        return _ArrayRefs(refs, shared), k

    @staticmethod
    def _check_num_refs(num_refs):
        if isinstance(num_refs, bool) or not isinstance(
                num_refs, (int, np.integer)) or num_refs < 1:
            raise ValueError("num_refs must be a positive integer, got %r"
                             % (num_refs,))
        return int(num_refs)

    # ----- running -------------------------------------------------------
    def run(self, inputs, references, num_refs=None, task_idx=0,
            target_weights=None, batch_size=None, hypothetical=False,
            return_deltas=False, return_multipliers=False, progress=True,
            seed=1, fuse=None):
        """Scores averaged over K references per example.

        ``inputs``: array (N, ...) for a single-input model, or a list (or
        dict by input name) of arrays, one per input.

        ``references``: array (N, K, ...) (K references per example) or
        (K, ...) (the same K references for every example); a list/dict of
        such arrays for multi-input models; or a function
        ``ref_fn(example, num_refs, rng) -> (num_refs, ...) array``
        (multi-input: takes and returns lists), e.g.
        ``lambda seq, k, rng: dinuc_shuffle(seq, num_shufs=k, rng=rng)``,
        called once per example in example order.

        ``num_refs``: K; required with ``ref_fn``, checked against arrays.
        ``task_idx``: target unit (flat index), or a list of T of them:
        then one forward pass per batch serves all T, and every returned
        array (deltas too) gets a leading task axis of length T.
        ``target_weights``: instead, multipliers on the target's output:
        an array, shape (N or 1,) + target shape; or a TF-traceable
        function ``fn(target_x, target_ref) -> weights`` evaluated inside
        the compiled function for every (example, reference) pair, with
        ``target_x`` / ``target_ref`` the target layer's activations on the
        example and on its reference, (P,) + target shape, returning (P,)
        + target shape (e.g. :func:`deeplift.targets.profile_target`).
        One function is compiled per function object: reuse the object.
        ``batch_size``: (example, reference) pairs per compiled call; the
        forward pass of each example itself runs once per call, not once
        per pair.  None (default): :func:`auto_batch_size`.
        ``hypothetical``: also return the mean hypothetical contributions
        of scored input layers (one-hot along the last axis):
        ``m[..., b] - sum_d ref[..., d] * m[..., d]`` averaged over refs.
        ``return_deltas``: also return (N, K) convergence deltas: the sum
        of all scored layers' contributions minus the seed-weighted change
        of the target, ``sum(seed * (f(x) - f(ref)))``, per pair (close to
        zero for DeepLIFT when the scored layers are all the inputs).
        ``return_multipliers``: also return the mean multipliers.
        ``progress``: show a progress bar over pairs.
        ``seed``: int, None or a ``RandomState``/``Generator`` giving the
        ``rng`` passed to ``ref_fn``.
        ``fuse``: run the rules' large elementwise math XLA-compiled (same
        numbers); None: when there are at least
        ``deeplift.scoring.FUSE_MIN_EXAMPLES`` (example, reference) pairs.

        Returns the mean contributions, (N, ...) (a list for several
        scored layers), or a :data:`MultiRefResult` when any of
        ``hypothetical``, ``return_deltas``, ``return_multipliers`` is set.
        """
        scorer = self.scorer
        names = scorer.input_names
        data, dtype = prepare_inputs(scorer.input_layers, inputs, names)
        num = len(data[0])
        seed_fn = target_weights if callable(target_weights) else None
        if seed_fn is not None:
            if is_task_list(task_idx):
                raise ValueError("a target_weights function replaces "
                                 "task_idx, so task_idx cannot be a list of "
                                 "tasks with it")
            seed_arr, num_tasks = None, None
        else:
            seed_arr, num_tasks = scorer.seeds(task_idx, target_weights,
                                               num, dtype, self.scoring_mode)
        batch_size = check_batch_size(batch_size)
        if batch_size is None:
            batch_size = auto_batch_size(scorer, dtype)
        layers = scorer.score_layers
        n_layers = len(layers)
        if hypothetical:
            bad = [l.get_name() for l in layers
                   if id(l) not in self._input_pos]
            if bad:
                raise ValueError(
                    "hypothetical contributions need the references of the "
                    "scored layer, so only input layers can be scored; "
                    "%s are not input layers" % bad)
        source, k = self._references(references, data, num_refs, dtype,
                                     seed, names)
        # every sum carries a leading task axis (of length 1 for one task)
        tasks = 1 if num_tasks is None else num_tasks
        shapes = [(tasks, num) + tuple(int(s) for s in l.get_shape()[1:])
                  for l in layers]
        sums_c = [_RunningMeans(s, k, dtype) for s in shapes]
        sums_m = ([_RunningMeans(s, k, dtype) for s in shapes]
                  if return_multipliers else None)
        sums_h = ([_RunningMeans(s, k, dtype) for s in shapes]
                  if hypothetical else None)
        deltas = (np.zeros((tasks, num, k), dtype=dtype) if return_deltas
                  else None)
        total = num * k
        fn = scorer.compiled_function(dtype, num_tasks,
                                      should_fuse(fuse, total), pairs=True,
                                      seed_fn=seed_fn)

        def batches():
            """Host-side inputs of each compiled call: the distinct
            examples of a block of pairs, their references, and which
            example each pair belongs to."""
            for start in range(0, total, batch_size):
                pairs = np.arange(start, min(start + batch_size, total))
                ii, kk = pairs // k, pairs % k
                starts, examples = _segments(ii)
                lo, hi = int(examples[0]), int(examples[-1]) + 1
                xs = [d[lo:hi] for d in data]
                pair_example = (ii - lo).astype(np.int32)
                rs = source.get(ii, kk)
                args = xs + rs + [pair_example]
                sd = None
                if seed_fn is None:
                    sd = (seed_arr if num_tasks is not None
                          or len(seed_arr) == 1 else seed_arr[ii])
                    args.append(sd)
                yield ii, kk, starts, examples, rs, sd, args

        with progress_bar(total, bool(progress), "multi-ref") as bar:
            for ii, kk, starts, examples, rs, sd, args in _prefetched(
                    batches()):
                outs = [o.numpy() for o in fn(*args)]
                if seed_fn is not None and return_deltas:
                    sd = outs.pop()  # the weights computed in the function
                elif seed_fn is not None:
                    outs.pop()
                if num_tasks is None:
                    outs = [o[None] for o in outs]
                contribs = outs[:n_layers]
                mults = outs[n_layers:2 * n_layers]
                sizes = np.diff(np.r_[starts, len(ii)])
                for j in range(n_layers):
                    sums_c[j].add(examples, sizes, np.add.reduceat(
                        contribs[j], starts, axis=1))
                    if sums_m is not None:
                        sums_m[j].add(examples, sizes, np.add.reduceat(
                            mults[j], starts, axis=1))
                    if sums_h is not None:
                        ref = rs[self._input_pos[id(layers[j])]]
                        hyp = mults[j] - np.sum(ref * mults[j], axis=-1,
                                                keepdims=True)
                        sums_h[j].add(examples, sizes, np.add.reduceat(
                            hyp, starts, axis=1))
                if deltas is not None:
                    # sd: (T, 1, ...) for task lists, else (1 or B, ...)
                    weights = sd if num_tasks is not None else sd[None]
                    target_change = np.sum(
                        (weights * outs[-1]).reshape(tasks, len(ii), -1),
                        axis=2)
                    total_contrib = sum(
                        c.reshape(tasks, len(ii), -1).sum(
                            axis=2, dtype=np.float64) for c in contribs)
                    deltas[:, ii, kk] = total_contrib - target_change
                bar.update(len(ii))

        def finish(sums):
            if sums is None:
                return None
            means = [s.result() for s in sums]
            if num_tasks is None:
                means = [m[0] for m in means]
            return means[0] if self._single else means
        contribs = finish(sums_c)
        warn_if_not_finite(contribs if isinstance(contribs, list)
                           else [contribs], "MultiRefScorer")
        if deltas is not None and num_tasks is None:
            deltas = deltas[0]
        if not (hypothetical or return_deltas or return_multipliers):
            return contribs
        return MultiRefResult(contribs=contribs,
                              hypothetical_contribs=finish(sums_h),
                              multipliers=finish(sums_m), deltas=deltas)


_SCORER_CACHE = weakref.WeakKeyDictionary()


def _as_multiref_scorer(scorer_or_func):
    if isinstance(scorer_or_func, MultiRefScorer):
        return scorer_or_func
    scorer = getattr(scorer_or_func, "scorer", scorer_or_func)
    if isinstance(scorer, Scorer):
        cached = _SCORER_CACHE.get(scorer)
        if cached is None:
            cached = MultiRefScorer.from_scorer(scorer)
            _SCORER_CACHE[scorer] = cached
        return cached
    from deeplift.models import Model
    if isinstance(scorer_or_func, Model) or _is_keras_model(scorer_or_func):
        return MultiRefScorer(scorer_or_func)
    raise TypeError(
        "scorer_or_func must be a MultiRefScorer, a deeplift Scorer, a "
        "function made by model.get_target_contribs_func / "
        "get_target_multipliers_func, or a model; got %s"
        % type(scorer_or_func).__name__)


def score_with_references(scorer_or_func, inputs, references, num_refs=None,
                          task_idx=0, target_weights=None, batch_size=None,
                          hypothetical=False, return_deltas=False,
                          return_multipliers=False, progress=True, seed=1,
                          fuse=None):
    """Contributions averaged over K references per example.

    ``scorer_or_func``: a :class:`MultiRefScorer`; a function made by
    ``model.get_target_contribs_func(...)`` or
    ``get_target_multipliers_func(...)`` (its scored layers and target are
    used; the result is always contributions, plus whatever is asked for);
    a :class:`deeplift.scoring.Scorer`; or a deeplift / Keras model (scores
    of its first input w.r.t. its pre-activation output).  The compiled
    function is cached per scorer.

    The other arguments are those of :meth:`MultiRefScorer.run`.
    Contributions of an input layer equal ``multipliers * (x - ref)``
    exactly, so the function's own references are irrelevant: the
    ``references`` given here are used.
    """
    return _as_multiref_scorer(scorer_or_func).run(
        inputs, references, num_refs=num_refs, task_idx=task_idx,
        target_weights=target_weights, batch_size=batch_size,
        hypothetical=hypothetical, return_deltas=return_deltas,
        return_multipliers=return_multipliers, progress=progress, seed=seed,
        fuse=fuse)
