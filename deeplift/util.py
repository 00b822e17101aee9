"""Helpers with the original package's names and signatures.

``compile_func``, ``run_function_in_batches``, ``enum``, the integrated
gradients / hypothetical contribution / shuffled reference wrappers and a few
small utilities.  Everything here works on numpy arrays; the compiled
TensorFlow work lives in :mod:`deeplift.scoring`.
"""
import gzip
import logging
import random

import numpy as np
import yaml

import deeplift.dinuc_shuffle as _dinuc
from deeplift.modes import NEAR_ZERO_THRESHOLD, enum  # noqa: F401 (0.6.13 names)
from deeplift.progress import progress_bar
from deeplift.symbolic import compile_symbolic

logger = logging.getLogger(__name__)


def superclass_in_base_classes(base_classes, the_class):
    """True if a class named like ``the_class`` is among ``base_classes``
    or their ancestors (compared by name, so reloaded modules still
    match)."""
    return any(klass.__name__ == the_class.__name__
               for base in base_classes for klass in base.__mro__)


def is_type(instance, the_class):
    """True if ``instance`` is an instance of ``the_class`` (checked by class
    name along the MRO, so reloaded modules still match)."""
    return superclass_in_base_classes([type(instance)], the_class)


def assert_type(instance, the_class, instance_var_name, is_type_result):
    """Raise a TypeError unless ``is_type(instance, the_class)`` equals
    ``is_type_result``; returns True."""
    if is_type(instance, the_class) != is_type_result:
        raise TypeError("%s should %sbe an instance of %s but is %s"
                        % (instance_var_name,
                           "" if is_type_result else "not ",
                           the_class.__name__, type(instance)))
    return True


def assert_is_type(instance, the_class, instance_var_name):
    """Raise a TypeError unless ``instance`` is a ``the_class`` (by name;
    ``instance_var_name`` names it in the message); returns True."""
    return assert_type(instance, the_class, instance_var_name, True)


def assert_is_not_type(instance, the_class, instance_var_name):
    """Raise a TypeError if ``instance`` is a ``the_class`` (by name;
    ``instance_var_name`` names it in the message); returns True."""
    return assert_type(instance, the_class, instance_var_name, False)


def get_session():
    """0.6.13 returned its TF1 session here.  This package has none: it
    compiles ``tf.function``s (see :func:`compile_func`), so this raises a
    RuntimeError saying so."""
    raise RuntimeError(
        "deeplift.util.get_session(): this deeplift runs on TensorFlow 2 "
        "without sessions; use deeplift.util.compile_func(inputs, outputs) "
        "or the model's get_target_contribs_func(...) instead")


def is_gzipped(file_name):
    """True if the file starts with the gzip magic number."""
    with open(file_name, 'rb') as handle:
        return handle.read(2) == b'\x1f\x8b'


def get_file_handle(file_name, mode='r'):
    """``open(file_name, mode)``, through gzip when the file is gzipped
    (reading) or its name ends in .gz/.gzip (writing); text modes give
    text."""
    reading = mode in ("r", "rb", "rt")
    gz_name = file_name.endswith((".gz", ".gzip"))
    if (reading and is_gzipped(file_name)) or (not reading and gz_name):
        if "b" not in mode and "t" not in mode:
            mode += "t"
        return gzip.open(file_name, mode)
    return open(file_name, mode)


def load_yaml_data_from_file(file_name):
    """The YAML document in ``file_name`` (gzipped or not), loaded safely
    (``yaml.safe_load``)."""
    with get_file_handle(file_name) as handle:
        return yaml.safe_load(handle)


def connect_list_of_layers(deeplift_layers):
    """Wire ``layers[i]`` as the input of ``layers[i+1]``; returns the list."""
    for previous, layer in zip(deeplift_layers[:-1], deeplift_layers[1:]):
        layer.set_inputs(previous)
    return deeplift_layers


def compile_func(inputs, outputs):
    """Compile symbolic layer variables into a callable.

    ``inputs``: a list of ``Input`` layer variables, i.e. what
    ``input_layer.get_activation_vars()`` / ``get_reference_vars()`` return.
    ``outputs``: one variable (e.g. ``layer.get_activation_vars()``,
    ``layer.get_pos_mxts()``, ``input_layer.get_mxts()``,
    ``layer.get_target_contrib_vars()``) or a list of them.

    Returns ``func(list_of_arrays)`` giving a numpy array, or a list of
    arrays when ``outputs`` was a list.  Multiplier variables use the task
    index and active state of the target layer at call time.
    """
    return compile_symbolic(inputs, outputs)


def run_function_in_batches(func, input_data_list, learning_phase=None,
                            batch_size=10, progress_update=1000,
                            multimodal_output=False):
    """Run ``func`` over ``input_data_list`` in batches of ``batch_size``.

    ``func`` takes a list of arrays (one per input, sliced along the first
    axis) and returns an array (or, with ``multimodal_output=True``, a list
    of arrays) whose first axis is the batch.  Returns the concatenation
    over batches as a numpy array (or a list of arrays).
    ``progress_update=None`` turns the progress bar off.
    """
    if not isinstance(input_data_list, (list, tuple)):
        raise TypeError("input_data_list must be a list of arrays, one per "
                        "input; got %s" % type(input_data_list).__name__)
    if batch_size is None or int(batch_size) < 1:
        raise ValueError("batch_size must be a positive integer, got %r"
                         % (batch_size,))
    batch_size = int(batch_size)
    num_examples = len(input_data_list[0])
    chunks = None
    with progress_bar(total=num_examples,
                      enabled=progress_update is not None,
                      desc="batches") as bar:
        for start in range(0, num_examples, batch_size):
            batch = [x[start:start + batch_size] for x in input_data_list]
            if learning_phase is not None:
                batch.append(learning_phase)
            result = func(batch)
            if not multimodal_output:
                result = [result]
            elif not isinstance(result, (list, tuple)):
                raise TypeError("multimodal_output=True but the function "
                                "did not return a list")
            if chunks is None:
                chunks = [[] for _ in result]
            for store, part in zip(chunks, result):
                store.append(np.asarray(part))
            bar.update(len(batch[0]))
    if chunks is None:
        return [] if multimodal_output else np.zeros((0,))
    joined = [np.concatenate(parts, axis=0) for parts in chunks]
    return joined if multimodal_output else joined[0]


def mean_normalise_weights_for_sequence_convolution(weights, bias,
                                                    axis_of_normalisation,
                                                    dim_ordering):
    """Subtract the mean over the one-hot channel axis from a first-layer
    convolution kernel and fold it into the bias (the output on one-hot
    input is unchanged).  ``dim_ordering`` is 'tf' (output channels last)
    or 'th' (output channels first)."""
    weights = np.asarray(weights)
    mean_weights = np.mean(weights, axis=axis_of_normalisation)
    if dim_ordering == 'th':
        new_bias = bias + np.sum(mean_weights.reshape(
            mean_weights.shape[0], -1), axis=1)
    elif dim_ordering == 'tf':
        new_bias = bias + np.sum(mean_weights.reshape(
            -1, mean_weights.shape[-1]), axis=0)
    else:
        raise ValueError("dim_ordering must be 'tf' or 'th', got %r"
                         % (dim_ordering,))
    renormalised = weights - np.expand_dims(mean_weights,
                                            axis_of_normalisation)
    return renormalised, new_bias


def _broadcast_references(input_data_list, input_references_list):
    return [np.ones_like(np.asarray(data, dtype=float)) * np.asarray(ref)
            for data, ref in zip(input_data_list, input_references_list)]


def get_integrated_gradients_function(gradient_computation_function,
                                      num_intervals):
    """Integrated gradients from a multipliers function.

    ``gradient_computation_function`` is usually
    ``model.get_target_multipliers_func(...)`` built in Gradient mode.  The
    returned ``f(task_idx, input_data_list, input_references_list,
    batch_size, progress_update=None)`` evaluates gradients at the
    midpoints ``ref + (i + 0.5)/num_intervals * (x - ref)`` and returns the
    mean gradient times ``x - ref`` (single-input models).
    """
    num_intervals = int(num_intervals)
    if num_intervals < 1:
        raise ValueError("num_intervals must be >= 1, got %r"
                         % (num_intervals,))

    def compute_integrated_gradients(task_idx, input_data_list,
                                     input_references_list, batch_size,
                                     progress_update=None):
        if len(input_data_list) != 1:
            raise ValueError("integrated gradients supports one input; got "
                             "%d inputs" % len(input_data_list))
        data = np.asarray(input_data_list[0])
        ref = _broadcast_references([data], input_references_list)[0]
        vectors = data - ref
        alphas = (np.arange(num_intervals) + 0.5) / float(num_intervals)
        # example-major, step-minor, as in the original
        interpolated = (ref[:, None] + alphas.reshape(
            (1, num_intervals) + (1,) * (data.ndim - 1)) * vectors[:, None])
        interpolated = interpolated.reshape((-1,) + data.shape[1:])
        interpolated_refs = np.repeat(ref, num_intervals, axis=0)
        gradients = np.asarray(gradient_computation_function(
            task_idx=task_idx,
            input_data_list=[interpolated.astype(data.dtype, copy=False)],
            input_references_list=[interpolated_refs.astype(data.dtype,
                                                            copy=False)],
            batch_size=batch_size, progress_update=progress_update))
        gradients = gradients.reshape(
            (data.shape[0], num_intervals) + data.shape[1:])
        return np.mean(gradients, axis=1) * vectors
    return compute_integrated_gradients


def get_hypothetical_contribs_func_onehot(multipliers_function):
    """Hypothetical contributions for one-hot (N, L, D) input.

    For every position and every possible one-hot base ``b`` the returned
    function gives ``sum_d (onehot_b - ref)[d] * multiplier[d]``: an
    estimate of the contribution the position would have if it held ``b``.
    ``hypothetical * onehot`` summed over the last axis is the actual
    contribution (when references and multipliers are those used).
    Signature as ``multipliers_function``.
    """
    def hypothetical_contribs_func(task_idx, input_data_list,
                                   input_references_list, batch_size,
                                   progress_update):
        data = np.asarray(input_data_list[0])
        if data.ndim != 3:
            raise ValueError("hypothetical contributions need one-hot input "
                             "of shape (N, L, D); got shape %s"
                             % (data.shape,))
        multipliers = np.asarray(multipliers_function(
            task_idx=task_idx, input_data_list=input_data_list,
            input_references_list=input_references_list,
            batch_size=batch_size, progress_update=progress_update))
        ref = np.asarray(input_references_list[0], dtype=float)
        # sum_d (e_b - ref)_d * m_d  =  m_b - sum_d ref_d m_d
        ref_term = np.sum(ref * multipliers, axis=-1, keepdims=True)
        return (multipliers - ref_term).astype(float)
    return hypothetical_contribs_func


def get_shuffle_seq_ref_function(score_computation_function, shuffle_func,
                                 one_hot_func=None):
    """Scores averaged over shuffled references.

    Returns ``f(task_idx, input_data_sequences, num_refs_per_seq,
    batch_size, seed=1, progress_update=None, pregen_refs=None)``.  For each
    sequence, ``num_refs_per_seq`` references are made with
    ``shuffle_func(seq, rng=np.random.RandomState(seed))`` (or taken from
    ``pregen_refs``, ordered sequence-major), scored with
    ``score_computation_function`` and averaged.  ``task_idx`` may be an
    int (returns an array) or a list (returns a list of arrays).
    ``one_hot_func`` turns a list of sequences into an array when the
    sequences are strings.
    """
    def compute_scores_with_shuffle_seq_refs(task_idx, input_data_sequences,
                                             num_refs_per_seq, batch_size,
                                             seed=1, progress_update=None,
                                             pregen_refs=None):
        num_refs_per_seq = int(num_refs_per_seq)
        if num_refs_per_seq < 1:
            raise ValueError("num_refs_per_seq must be >= 1")
        num_seqs = len(input_data_sequences)
        if pregen_refs is None and one_hot_func is None:
            # one-hot arrays: each reference goes straight into the batch
            # (no list of N x K arrays copied again), and the sequences
            # are repeated in one pass
            rng = np.random.RandomState(seed)
            data = np.asarray(input_data_sequences)
            shape = (num_seqs * num_refs_per_seq,) + data.shape[1:]
            references = None
            if (shuffle_func is _dinuc.dinuc_shuffle and num_seqs
                    and data.dtype in (np.float32, np.float64)
                    and data[0].squeeze().ndim == 2):
                # deeplift's shuffle keeps the (L, D) shape and the dtype
                references = np.empty((shape[0],) + data[0].squeeze().shape,
                                      dtype=data.dtype)
            row = 0
            for seq in input_data_sequences:
                if isinstance(seq, np.ndarray):
                    seq = seq.squeeze()
                if (shuffle_func is _dinuc.dinuc_shuffle
                        and references is not None
                        and _dinuc._single_shuffles_into(
                            seq, num_refs_per_seq, rng,
                            references[row:row + num_refs_per_seq])):
                    # the same shuffles as the calls below, in a few
                    # compiled calls per sequence
                    row += num_refs_per_seq
                    continue
                for _ in range(num_refs_per_seq):
                    ref = shuffle_func(seq, rng=rng)
                    if references is None:
                        ref = np.asarray(ref)
                        references = np.empty(
                            (shape[0],) + ref.shape,
                            dtype=ref.dtype)
                    references[row] = ref
                    row += 1
            data = np.repeat(data, num_refs_per_seq, axis=0).reshape(shape)
            references = (np.empty(shape) if references is None
                          else references.reshape(shape))
        else:
            if pregen_refs is None:
                rng = np.random.RandomState(seed)
                seqs, refs = [], []
                for seq in input_data_sequences:
                    if isinstance(seq, np.ndarray):
                        seq = seq.squeeze()
                    for _ in range(num_refs_per_seq):
                        seqs.append(seq)
                        refs.append(shuffle_func(seq, rng=rng))
            else:
                seqs = [seq for seq in input_data_sequences
                        for _ in range(num_refs_per_seq)]
                if len(pregen_refs) != len(seqs):
                    raise ValueError(
                        "pregen_refs has %d references but %d sequences x "
                        "%d references per sequence = %d are needed"
                        % (len(pregen_refs), num_seqs, num_refs_per_seq,
                           len(seqs)))
                refs = pregen_refs
            if one_hot_func is not None:
                data = np.asarray(one_hot_func(seqs))
                references = np.asarray(one_hot_func(refs))
            else:
                shape = ((num_seqs * num_refs_per_seq,)
                         + tuple(np.asarray(input_data_sequences).shape[1:]))
                data = np.reshape(np.asarray(seqs), shape)
                references = np.reshape(np.asarray(refs), shape)
        several = hasattr(task_idx, '__iter__')
        tasks = list(task_idx) if several else [task_idx]
        if several and getattr(score_computation_function,
                               "accepts_task_lists", False):
            # a deeplift.models.ScoringFunction (or a wrapper that says it
            # takes task lists): one forward pass for all the tasks
            per_task = list(np.asarray(score_computation_function(
                task_idx=tasks, input_data_list=[data],
                input_references_list=[references], batch_size=batch_size,
                progress_update=progress_update)))
        else:
            per_task = [np.asarray(score_computation_function(
                task_idx=task, input_data_list=[data],
                input_references_list=[references], batch_size=batch_size,
                progress_update=progress_update)) for task in tasks]
        results = [np.mean(scores.reshape(
            (len(input_data_sequences), num_refs_per_seq) + data.shape[1:]),
            axis=1) for scores in per_task]
        return results if several else results[0]
    return compute_scores_with_shuffle_seq_refs


def in_place_shuffle(arr):
    """Shuffle ``arr`` in place (Fisher-Yates with :mod:`random`, as the
    original); returns it."""
    for i in range(len(arr) - 1):
        chosen = random.randint(i, len(arr) - 1)
        arr[i], arr[chosen] = arr[chosen], arr[i]
    return arr


def randomly_shuffle_seq(seq):
    """A uniformly random permutation of the characters of ``seq``."""
    chars = list(seq)
    random.shuffle(chars)
    return "".join(chars)
