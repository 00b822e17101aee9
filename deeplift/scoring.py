"""Compiled, batched scoring over a layer graph.

A :class:`Scorer` owns one ``tf.function`` per dtype for a fixed (inputs,
scored layers, target layer, output kind).  Its signature has a free batch
axis, and the references and the target's multipliers (the "seed", built
from the task index) are tensor arguments, so changing the task, the batch
size or the references never retraces.
"""
import logging

import numpy as np
import tensorflow as tf

from deeplift.graph import topological_order, forward_sweep, backward_sweep
from deeplift.layers.core import Input
from deeplift.progress import progress_bar

logger = logging.getLogger(__name__)

CONTRIBS = "contribs"
MULTIPLIERS = "multipliers"
POS_MXTS = "pos_mxts"
NEG_MXTS = "neg_mxts"
POS_CONTRIBS = "pos_contribs"
NEG_CONTRIBS = "neg_contribs"


def layer_output(kind, state, mxts):
    """One score of a layer from its state and its (pos, neg) multipliers
    (``None`` when the layer does not feed the target: zeros).

    CONTRIBS: pos_mxts * pos_contribs + neg_mxts * neg_contribs;
    MULTIPLIERS: the mean of pos and neg multipliers; POS_MXTS / NEG_MXTS /
    POS_CONTRIBS / NEG_CONTRIBS: the parts themselves.
    """
    if kind in (POS_CONTRIBS, NEG_CONTRIBS):
        return state.contribs[0 if kind == POS_CONTRIBS else 1]
    if mxts is None:
        zeros = tf.zeros_like(state.act)
        mxts = (zeros, zeros)
    pos_m, neg_m = mxts
    same = neg_m is pos_m
    if kind == POS_MXTS:
        return pos_m
    if kind == NEG_MXTS:
        return neg_m
    if kind == MULTIPLIERS:
        return pos_m if same else 0.5 * (pos_m + neg_m)
    if kind == CONTRIBS:
        if same and isinstance(state.layer, Input):
            # exact: pos + neg contributions of an input are its difference
            return pos_m * state.diff
        pos_c, neg_c = state.contribs
        return pos_m * pos_c + neg_m * neg_c
    raise ValueError("unknown score kind %r" % (kind,))


# Calls with at least this many examples (or (example, reference) pairs)
# run the rules' large elementwise math XLA-compiled by default (bit for
# bit the same scores).  Fused, steady Basset-like calls cost about the
# floor's time (0.99-1.17x TensorFlow's gradient x input in one process,
# against 1.11-1.25x unfused); compiling costs 0.06-0.08 s CPU per fused
# layer (those of deeplift.rules.ops.FUSE_MIN_ELEMENTS units or more) and
# batch shape, once per process (or machine: kernels are kept on disk),
# which at 512 examples (4 batches of 128) is about what the first call's
# fused batches save (first calls 0.97-1.26x the floor fused, 1.04-1.25x
# unfused, on a quiet 2-core machine whose fresh processes differ by up to
# 20%: bench/RESULTS_single_ref.md), so from there on fusing wins.
FUSE_MIN_EXAMPLES = 512


def should_fuse(fuse, num_examples):
    """``fuse`` (True/False), or for None whether ``num_examples`` reaches
    FUSE_MIN_EXAMPLES."""
    if fuse is None:
        return num_examples >= FUSE_MIN_EXAMPLES
    if not isinstance(fuse, (bool, np.bool_)):
        raise ValueError("fuse must be True, False or None (decide by the "
                         "number of examples), got %r" % (fuse,))
    return bool(fuse)


def is_task_list(task_idx):
    """True when ``task_idx`` names several tasks (a list, tuple or 1-D
    array) rather than one."""
    return isinstance(task_idx, (list, tuple)) or (
        isinstance(task_idx, np.ndarray) and task_idx.ndim == 1)


def check_finite(array, what):
    if np.issubdtype(array.dtype, np.floating) and not np.all(
            np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))
        raise ValueError(
            "%s contains %d NaN or infinite value(s) (first at index %s); "
            "clean the data (e.g. np.nan_to_num) before scoring"
            % (what, len(bad), tuple(int(i) for i in bad[0])))


def warn_if_not_finite(arrays, what):
    """Log one warning when any of ``arrays`` (NumPy, or None) holds NaN or
    infinite values: scores that came out non-finite from finite inputs
    (e.g. float32 overflow or underflow inside a rule).  Returns the number
    of such values."""
    bad = sum(int(np.size(a) - np.count_nonzero(np.isfinite(a)))
              for a in arrays if a is not None
              and np.issubdtype(np.asarray(a).dtype, np.floating))
    if bad:
        logger.warning(
            "%s: %d score(s) are NaN or infinite although the inputs are "
            "finite (float32 overflow or underflow inside a rule, e.g. an "
            "exp of more than ~88 in the model's own forward pass); score "
            "in float64 (pass float64 arrays) to avoid it",
            what, bad)
    return bad


def _choose_dtype(arrays):
    return (np.float64 if any(np.asarray(a).dtype == np.float64
                              for a in arrays) else np.float32)


def _as_list(values, names, what):
    if isinstance(values, dict):
        missing = [n for n in names if n not in values]
        if missing:
            raise ValueError("%s is a dict but has no entry for input(s) %s; "
                             "expected keys: %s" % (what, missing, names))
        return [values[n] for n in names]
    if isinstance(values, np.ndarray) and len(names) == 1:
        return [values]
    if not isinstance(values, (list, tuple)):
        raise TypeError("%s must be a list with one array per input (or a "
                        "dict keyed by input name); got %s"
                        % (what, type(values).__name__))
    values = list(values)
    if len(values) != len(names):
        raise ValueError("the model has %d input(s) %s but %s has %d "
                         "entries" % (len(names), names, what, len(values)))
    return values


def prepare_inputs(input_layers, input_data_list, names):
    """Validate the data: a list of float arrays, one per input layer,
    with matching shapes and equal numbers of examples."""
    arrays = _as_list(input_data_list, names, "input_data_list")
    dtype = _choose_dtype(arrays)
    out = []
    for layer, name, data in zip(input_layers, names, arrays):
        data = np.asarray(data)
        if not (np.issubdtype(data.dtype, np.floating)
                or np.issubdtype(data.dtype, np.integer)
                or data.dtype == bool):
            raise ValueError("input %r has non-numeric dtype %s"
                             % (name, data.dtype))
        data = data.astype(dtype, copy=False)
        expected = layer.get_shape()
        if data.ndim != len(expected) or any(
                e is not None and e != d
                for e, d in zip(expected[1:], data.shape[1:])):
            raise ValueError(
                "input %r has shape %s but the model expects (N, %s)"
                % (name, data.shape,
                   ", ".join("?" if e is None else str(e)
                             for e in expected[1:])))
        check_finite(data, "input %r" % (name,))
        out.append(data)
    sizes = set(len(d) for d in out)
    if len(sizes) > 1:
        raise ValueError("inputs have different numbers of examples: %s"
                         % dict(zip(names, [len(d) for d in out])))
    return out, dtype


def prepare_references(input_references_list, data, names, dtype):
    """References: ``None`` (zeros), a scalar, one array without the batch
    axis or with batch 1 (shared), or one per example."""
    if input_references_list is None:
        logger.info("No reference provided - using zeros")
        return [np.zeros((1,) + d.shape[1:], dtype=dtype) for d in data]
    refs = _as_list(input_references_list, names, "input_references_list")
    out = []
    for ref, d, name in zip(refs, data, names):
        if ref is None:
            ref = 0.0
        ref = np.asarray(ref, dtype=dtype)
        if ref.ndim == d.ndim and ref.shape[1:] == d.shape[1:]:
            if ref.shape[0] not in (1, d.shape[0]):
                raise ValueError(
                    "reference for input %r has %d examples but the input "
                    "has %d; give one reference per example or a single "
                    "shared one" % (name, ref.shape[0], d.shape[0]))
        else:
            # a shared reference: broadcastable to one example, with or
            # without a leading batch axis of 1 (e.g. (1, 1, 4) GC content)
            if ref.ndim == d.ndim and ref.shape[0] == 1:
                ref = ref[0]
            try:
                ref = np.broadcast_to(ref, d.shape[1:])[None]
            except ValueError:
                raise ValueError(
                    "reference for input %r has shape %s, which does not "
                    "match the input's shape %s: give shape %s (one per "
                    "example), %s (shared) or something broadcastable to "
                    "%s" % (name, ref.shape, d.shape, d.shape,
                            (1,) + d.shape[1:], d.shape[1:]))
        check_finite(ref, "reference for input %r" % (name,))
        out.append(np.ascontiguousarray(ref))
    return out


class Scorer(object):
    """Compiled scores of ``score_layers`` w.r.t. ``target_layer``.

    ``kind``: CONTRIBS (multipliers x difference from reference, with the
    positive and negative parts kept apart) or MULTIPLIERS, or a tuple of
    kinds: then the compiled function returns, kind by kind, one output
    per scored layer, all from one forward and one backward sweep.
    ``with_target_diff``: also return the target's activation minus its
    reference activation (for convergence deltas).
    ``backward_override``: see :func:`deeplift.graph.backward_sweep`.
    Call :meth:`run`.
    """

    def __init__(self, input_layers, score_layers, target_layer,
                 kind=CONTRIBS, input_names=None, with_target_diff=False,
                 backward_override=None):
        self.input_layers = list(input_layers)
        self.input_names = list(input_names or [
            l.get_name() for l in self.input_layers])
        self.score_layers = list(score_layers)
        self.target_layer = target_layer
        self.kinds = (tuple(kind) if isinstance(kind, (tuple, list))
                      else (kind,))
        self.with_target_diff = with_target_diff
        self.backward_override = backward_override
        target_layer.build_fwd_pass_vars()
        self.order = topological_order([target_layer])
        in_order = set(id(l) for l in self.order)
        for layer in self.score_layers:
            if id(layer) not in in_order:
                raise ValueError(
                    "layer %r does not feed the target layer %r, so it has "
                    "no scores with respect to it"
                    % (layer.get_name(), target_layer.get_name()))
        for layer in self.order:
            if isinstance(layer, Input) and not any(
                    layer is l for l in self.input_layers):
                raise ValueError("the target depends on input layer %r, "
                                 "which is not among the model's inputs"
                                 % (layer.get_name(),))
        self._functions = {}
        self.trace_count = 0

    # ----- the compiled function -----------------------------------------
    def compiled_function(self, dtype, num_tasks=None, fuse=False,
                          pairs=False, seed_fn=None):
        """The ``tf.function(*inputs, *references, seed)`` for ``dtype``:
        returns a list with, for each kind, one tensor per scored layer
        (then the target's difference from reference if asked for).

        With ``num_tasks`` (an int), ``seed`` has a leading axis of that
        many target seeds, each (1,) + target shape: one forward sweep is
        shared by one backward sweep per seed, and every output gets a
        leading task axis, (num_tasks, batch, ...).  The seeds are tensors,
        so choosing other tasks never retraces.  ``fuse``: the rules' large
        elementwise computations run XLA-compiled (same numbers; see
        :func:`deeplift.layers.activations.fused`).

        ``pairs``: the function is ``f(*inputs, *references, pair_example,
        seed)`` with M distinct examples as inputs, P (example, reference)
        pairs as references and ``pair_example`` (int32 (P,)) the example
        of each pair; the forward pass of the inputs runs once per example
        (see :func:`deeplift.graph.forward_sweep`) and the outputs are per
        pair.  ``seed_fn``: a TF-traceable ``seed_fn(target_act,
        target_ref) -> weights``, all (batch,) + target shape, computed
        inside the function from the target's activations on the inputs
        and on the references; the function then takes no ``seed``
        argument (and ``num_tasks`` must be None), and with
        ``with_target_diff`` it returns the weights last.  One function is
        traced per ``seed_fn`` object: reuse the same object.
        """
        if seed_fn is not None and num_tasks is not None:
            raise ValueError("a target-weight function replaces the task "
                             "index, so it cannot be combined with a list "
                             "of tasks")
        key = (dtype, num_tasks, bool(fuse), bool(pairs), seed_fn)
        fn = self._functions.get(key)
        if fn is not None:
            return fn
        tf_dtype = tf.as_dtype(dtype)
        specs = [tf.TensorSpec((None,) + tuple(l.get_shape()[1:]), tf_dtype)
                 for l in self.input_layers]
        target_shape = tuple(self.target_layer.get_shape()[1:])
        if num_tasks is None:
            seed_spec = tf.TensorSpec((None,) + target_shape, tf_dtype)
        else:
            seed_spec = tf.TensorSpec((num_tasks, 1) + target_shape,
                                      tf_dtype)
        n = len(self.input_layers)

        def outputs_for(states, seed):
            mxts = backward_sweep(self.order, states, self.target_layer,
                                  seed, override=self.backward_override)
            outputs = [layer_output(kind, states[id(layer)],
                                    mxts.get(id(layer)))
                       for kind in self.kinds for layer in self.score_layers]
            if self.with_target_diff:
                outputs.append(states[id(self.target_layer)].diff)
            return outputs

        def scores(*args):
            self.trace_count += 1
            xs, refs = args[:n], args[n:2 * n]
            rest = list(args[2 * n:])
            pair_example = rest.pop(0) if pairs else None
            states = forward_sweep(self.order,
                                   dict(zip(self.input_layers, xs)),
                                   dict(zip(self.input_layers, refs)),
                                   fuse=bool(fuse),
                                   pair_example=pair_example)
            if seed_fn is not None:
                target = states[id(self.target_layer)]
                seed = tf.convert_to_tensor(seed_fn(target.act, target.ref))
                seed = tf.cast(seed, tf_dtype)
                seed = tf.ensure_shape(seed, (None,) + target_shape)
                outputs = outputs_for(states, seed)
                if self.with_target_diff:
                    outputs.append(seed)  # for the convergence deltas
                return outputs
            seed = rest.pop(0)
            if num_tasks is None:
                return outputs_for(states, seed)
            # the rules cache their scale factors in the states, so the
            # sweeps share everything that does not depend on the seed
            per_task = [outputs_for(states, seed[t])
                        for t in range(num_tasks)]
            return [tf.stack(column) for column in zip(*per_task)]

        signature = specs + specs
        if pairs:
            signature.append(tf.TensorSpec((None,), tf.int32))
        if seed_fn is None:
            signature.append(seed_spec)
        # no autograph: the sweeps are plain Python over layers (no tensor
        # control flow), and converting them costs seconds on large graphs
        # (unrolled recurrent layers)
        fn = tf.function(scores, input_signature=signature, autograph=False)
        self._functions[key] = fn
        return fn

    # ----- running --------------------------------------------------------
    def seed_for_task(self, task_idx, dtype=np.float32, scoring_mode=None):
        return self.target_layer.target_seed(task_idx,
                                             scoring_mode=scoring_mode,
                                             dtype=dtype)

    def seeds(self, task_idx, target_weights, num, dtype, scoring_mode=None):
        """The seed array for a call on ``num`` examples, and the number of
        tasks (None for one task).

        Without ``target_weights``: the one-hot seed of ``task_idx``,
        (1,) + target shape, or for a list of T tasks their seeds stacked,
        (T, 1) + target shape.  ``target_weights``: (N or 1,) + target
        shape, or the bare target shape (shared by all examples).
        """
        if target_weights is None:
            if is_task_list(task_idx):
                tasks = list(task_idx)
                if not tasks:
                    raise ValueError("task_idx is an empty list; give at "
                                     "least one task index")
                return np.stack([self.seed_for_task(t, dtype, scoring_mode)
                                 for t in tasks]), len(tasks)
            return self.seed_for_task(task_idx, dtype, scoring_mode), None
        if is_task_list(task_idx):
            raise ValueError("target_weights replaces task_idx, so task_idx "
                             "cannot be a list of tasks with it")
        seed = np.asarray(target_weights, dtype=dtype)
        target_shape = tuple(self.target_layer.get_shape()[1:])
        if seed.shape == target_shape:
            seed = seed[None]
        if seed.shape[1:] != target_shape or seed.shape[0] not in (1, num):
            raise ValueError(
                "target_weights must have shape (N, %s), (1, %s) or %s; got "
                "%s" % (target_shape, target_shape, target_shape,
                        seed.shape))
        check_finite(seed, "target_weights")
        return seed, None

    def run(self, input_data_list, input_references_list=None, task_idx=0,
            batch_size=100, progress_update=None, target_weights=None,
            scoring_mode=None, fuse=None):
        """Scores for every example, batch by batch.

        ``task_idx``: one target index, or a list of them (then one forward
        pass per batch serves all of them, and every returned array gets a
        leading task axis).  ``target_weights``: optional multipliers on
        the target's output, shape (N,) + target shape or (1,) + target
        shape, used instead of the one-hot ``task_idx``.  ``fuse``: see
        :func:`should_fuse` (None: when there are many examples).
        Returns a list
        with one array of shape (N,) + layer shape per scored layer
        ((T, N) + layer shape for T tasks).
        """
        data, dtype = prepare_inputs(self.input_layers, input_data_list,
                                     self.input_names)
        refs = prepare_references(input_references_list, data,
                                  self.input_names, dtype)
        num = len(data[0])
        seed, num_tasks = self.seeds(task_idx, target_weights, num, dtype,
                                     scoring_mode)
        if batch_size is None or int(batch_size) < 1:
            raise ValueError("batch_size must be a positive integer, got %r"
                             % (batch_size,))
        batch_size = int(batch_size)
        fn = self.compiled_function(dtype, num_tasks,
                                    should_fuse(fuse, num))
        lead = () if num_tasks is None else (num_tasks,)
        shapes = [tuple(l.get_shape()[1:])
                  for _ in self.kinds for l in self.score_layers]
        if self.with_target_diff:
            shapes.append(tuple(self.target_layer.get_shape()[1:]))
        if num == 0:
            return [np.zeros(lead + (0,) + tuple(d or 0 for d in s),
                             dtype=dtype) for s in shapes]
        results = None
        with progress_bar(num, progress_update is not None,
                          "deeplift") as bar:
            for start in range(0, num, batch_size):
                stop = min(start + batch_size, num)
                xs = [d[start:stop] for d in data]
                rs = [r if len(r) == 1 else r[start:stop] for r in refs]
                if len(set(len(r) for r in rs)) > 1:
                    # multi-input layers need equal batches on every input
                    rs = [np.broadcast_to(r, (stop - start,) + r.shape[1:])
                          for r in rs]
                sd = (seed if num_tasks is not None or len(seed) == 1
                      else seed[start:stop])
                outs = [out.numpy() for out in fn(*xs, *rs, sd)]
                if results is None:
                    results = [np.empty(lead + (num,)
                                        + o.shape[len(lead) + 1:],
                                        dtype=dtype) for o in outs]
                for store, out in zip(results, outs):
                    if num_tasks is None:
                        store[start:stop] = out
                    else:
                        store[:, start:stop] = out
                bar.update(stop - start)
        warn_if_not_finite(results, "deeplift")
        return results


class Predictor(object):
    """Compiled forward pass from input layers to one layer."""

    def __init__(self, input_layers, output_layer, input_names=None):
        self.input_layers = list(input_layers)
        self.input_names = list(input_names or [
            l.get_name() for l in self.input_layers])
        self.output_layer = output_layer
        output_layer.build_fwd_pass_vars()
        output_layer.get_shape()  # a conversion placeholder raises here
        self.order = topological_order([output_layer])
        self._functions = {}

    def _function(self, dtype):
        if dtype not in self._functions:
            specs = [tf.TensorSpec((None,) + tuple(l.get_shape()[1:]),
                                   tf.as_dtype(dtype))
                     for l in self.input_layers]

            def predict(*xs):
                states = forward_sweep(self.order,
                                       dict(zip(self.input_layers, xs)))
                return states[id(self.output_layer)].act
            self._functions[dtype] = tf.function(predict,
                                                 input_signature=specs,
                                                 autograph=False)
        return self._functions[dtype]

    def run(self, input_data_list, batch_size=100, progress_update=None):
        data, dtype = prepare_inputs(self.input_layers, input_data_list,
                                     self.input_names)
        fn = self._function(dtype)
        num = len(data[0])
        parts = []
        with progress_bar(num, progress_update is not None,
                          "predict") as bar:
            for start in range(0, num, int(batch_size)):
                parts.append(fn(*[d[start:start + batch_size]
                                  for d in data]).numpy())
                bar.update(len(parts[-1]))
        if not parts:
            return np.zeros((0,) + tuple(self.output_layer.get_shape()[1:]),
                            dtype=dtype)
        return np.concatenate(parts, axis=0)
