"""Times kundajelab/deeplift 0.6.13 under tensorflow.compat.v1 (run as a
subprocess by bench/run.py; uses the shims of tests/reference).

    python bench/original_worker.py MODEL.h5 DATA.npz OUT.npz MODES \
        BATCH_SIZE REPEATS TASK TARGET_IDX

DATA.npz holds ``x`` and ``ref`` (one reference per example).  OUT.npz gets
``time_<mode>`` (median seconds after a warm-up), ``times_<mode>`` (every
timed run) and ``scores_<mode>``.  bench/run.py starts one process per mode,
so that each model's graph is alone in its process's TF1 graph.
"""
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# like for like with this package and the floor, which run with
# TensorFlow's default oneDNN kernels: the test runner turns oneDNN off
# (TF_ENABLE_ONEDNN_OPTS=0, for reproducible numbers) unless it is set,
# and until this round the original was timed that way (bench/NOTES.md)
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "reference"))

import original_runner as runner  # noqa: E402


def main(argv):
    (h5_file, data_file, out_file, modes, batch_size, repeats, task,
     target_idx) = argv
    batch_size, repeats = int(batch_size), int(repeats)
    task, target_idx = int(task), int(target_idx)
    original_dir = runner.locate_original(fetch=True)
    kc, util, layers = runner.install_shims_and_import(original_dir)
    import tensorflow.compat.v1 as tf1
    # benchmark with TensorFlow's default threading (the test runner pins
    # one thread for reproducibility)
    runner._SESSION[0] = tf1.Session()
    data = np.load(data_file)
    x, ref = data["x"], data["ref"]
    legacy_h5, legacy_json, _ = runner.legacy_files_for(
        h5_file, None, tempfile.mkdtemp())
    result = {}
    for mode in modes.split(","):
        model = kc.convert_model_from_saved_files(
            h5_file=legacy_h5, json_file=legacy_json,
            nonlinear_mxts_mode=mode, verbose=False)
        func = model.get_target_contribs_func(find_scores_layer_idx=0,
                                              target_layer_idx=target_idx)

        def call():
            return np.asarray(func(task_idx=task, input_data_list=[x],
                                   input_references_list=[ref],
                                   batch_size=batch_size,
                                   progress_update=None))
        scores = call()          # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        result["time_" + mode] = float(np.median(times))
        result["times_" + mode] = np.array(times)
        result["scores_" + mode] = scores
    np.savez(out_file, **result)


if __name__ == "__main__":
    import io
    import contextlib
    with contextlib.redirect_stdout(io.StringIO()):  # the original prints
        main(sys.argv[1:])
