"""Several tasks in one call: ``task_idx=[...]`` shares one forward sweep
between the tasks' backward sweeps; the scores must equal one call per
task exactly, for every mode, and bad task lists must be refused."""
import numpy as np
import pytest

from deeplift import util
from deeplift.dinuc_shuffle import dinuc_shuffle
from deeplift.layers import NonlinearMxtsMode as M

from tests.nets import build, random_data

SPEC = [("conv1d", 6, 5, 1, 1, "valid", "relu"),
        ("maxpool1d", 2, 2, "valid"),
        ("conv1d", 5, 3, 1, 1, "valid", "relu"),
        ("flatten",),
        ("dense", 8, "relu"),
        ("dense", 4, None),
        ("act", "sigmoid")]
SHAPE = (20, 4)


@pytest.fixture(scope="module")
def data():
    return random_data(SHAPE, 9)


@pytest.mark.parametrize("mode", [M.Rescale, M.RevealCancel,
                                  M.DeepLIFT_GenomicsDefault, M.Gradient,
                                  M.GuidedBackprop])
def test_task_list_equals_one_call_per_task(mode, data):
    x, ref = data
    _, model, target = build(SPEC, SHAPE, mode=mode)
    func = model.get_target_contribs_func(find_scores_layer_idx=[0, 3],
                                          target_layer_idx=target)
    tasks = [3, 0, 2]
    together = func(task_idx=tasks, input_data_list=[x],
                    input_references_list=[ref], batch_size=4)
    assert len(together) == 2
    for layer_scores in together:
        assert layer_scores.shape[0] == len(tasks)
    for t, task in enumerate(tasks):
        alone = func(task_idx=task, input_data_list=[x],
                     input_references_list=[ref], batch_size=4)
        for layer_together, layer_alone in zip(together, alone):
            np.testing.assert_array_equal(layer_together[t], layer_alone)
        # different tasks give different scores (the seeds are used)
        if t:
            assert not np.allclose(together[0][t], together[0][0])


def test_task_lists_of_one_length_share_one_trace(data):
    x, ref = data
    _, model, target = build(SPEC, SHAPE, mode=M.Rescale)
    func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                          target_layer_idx=target)
    first = func(task_idx=[0, 1], input_data_list=[x],
                 input_references_list=[ref], batch_size=5)
    second = func(task_idx=[3, 2], input_data_list=[x],
                  input_references_list=[ref], batch_size=5)
    assert func.scorer.trace_count == 1
    assert first.shape == (2,) + x.shape
    np.testing.assert_array_equal(
        second[1], func(task_idx=2, input_data_list=[x],
                        input_references_list=[ref], batch_size=5))


def test_task_list_summation_to_delta(data):
    x, ref = data
    # max pooling in its summation-to-delta mode: the gradient mode does
    # not conserve the difference
    _, model, target = build(SPEC, SHAPE, mode=M.RevealCancel,
                             maxpool_mode="summation_to_delta",
                             dtype="float64")
    x, ref = x.astype(np.float64), ref.astype(np.float64)
    func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                          target_layer_idx=target)
    predict = model.get_prediction_function(input_layer_idx=0,
                                            output_layer_idx=target)
    contribs = func(task_idx=[0, 1, 2, 3], input_data_list=[x],
                    input_references_list=[ref], batch_size=4)
    delta = (predict([x], batch_size=4) - predict([ref], batch_size=4))
    np.testing.assert_allclose(contribs.sum(axis=(2, 3)), delta.T,
                               rtol=1e-9, atol=1e-12)


def test_bad_task_lists(data):
    x, ref = data
    _, model, target = build(SPEC, SHAPE, mode=M.Rescale)
    func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                          target_layer_idx=target)
    with pytest.raises(ValueError, match="empty list"):
        func(task_idx=[], input_data_list=[x], batch_size=4)
    with pytest.raises(ValueError, match="out of range.*valid: 0..3"):
        func(task_idx=[0, 4], input_data_list=[x], batch_size=4)
    # a float or a bool is not silently truncated to a task
    for bad in (1.5, True, [0, 2.0]):
        with pytest.raises(ValueError, match="must be an integer"):
            func(task_idx=bad, input_data_list=[x], batch_size=4)
    with pytest.raises(ValueError, match="target_weights replaces task_idx"):
        func(task_idx=[0, 1], input_data_list=[x], batch_size=4,
             target_weights=np.ones((1, 4), np.float32))


def test_shuffled_references_with_a_task_list_use_one_pass(data):
    """util.get_shuffle_seq_ref_function gives the same numbers with a
    task list as task by task, and calls this package's function once."""
    rng = np.random.RandomState(0)
    seqs = np.eye(4, dtype=np.float32)[rng.randint(0, 4, (3, SHAPE[0]))]
    _, model, target = build(SPEC, SHAPE, mode=M.DeepLIFT_GenomicsDefault)
    func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                          target_layer_idx=target)
    calls = []

    def counting(**kwargs):
        calls.append(kwargs["task_idx"])
        return func(**kwargs)
    counting.accepts_task_lists = True
    shuffled = util.get_shuffle_seq_ref_function(counting, dinuc_shuffle)
    together = shuffled(task_idx=[1, 3], input_data_sequences=seqs,
                        num_refs_per_seq=4, batch_size=5, seed=7)
    assert calls == [[1, 3]]
    for t, task in enumerate([1, 3]):
        alone = shuffled(task_idx=task, input_data_sequences=seqs,
                         num_refs_per_seq=4, batch_size=5, seed=7)
        np.testing.assert_array_equal(together[t], alone)

