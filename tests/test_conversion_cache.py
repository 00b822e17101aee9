"""The converted-model cache (deeplift.conversion.cache): a second load is
read, not converted, and scores bit-identically; the key follows the
files, options and code; concurrent writers never leave a half-written
entry for a reader; bad entries are converted again; the Dask worker
plugin loads the model in a task thread, never on the event loop."""
import multiprocessing
import os
import pickle
import threading

import numpy as np
import pytest

from deeplift.cli import DEMO_MODEL
from deeplift.conversion import cache


class Model:
    """A stand-in for a converted model (picklable, takes attributes)."""

    def __init__(self, payload):
        self.payload = payload


def counting(payload=b"x"):
    calls = []

    def convert():
        calls.append(1)
        return Model(payload)
    return convert, calls


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPLIFT_CACHE_DIR", str(tmp_path / "c"))
    assert cache.cache_dir() == str(tmp_path / "c")
    monkeypatch.setenv("DEEPLIFT_CACHE_DIR", "off")
    assert cache.cache_dir() is None
    monkeypatch.delenv("DEEPLIFT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == str(tmp_path / "xdg" / "deeplift")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == str(tmp_path / "home" / ".cache" /
                                    "deeplift")


def test_converted_once_then_read(tmp_path):
    model_file = tmp_path / "m.h5"
    model_file.write_bytes(b"weights")
    convert, calls = counting()
    first = cache.cached_model(convert, [model_file, None], {"a": 1},
                               directory=str(tmp_path / "c"))
    second = cache.cached_model(convert, [model_file, None], {"a": 1},
                                directory=str(tmp_path / "c"))
    assert len(calls) == 1
    assert (first.deeplift_cache, second.deeplift_cache) == ("stored", "hit")
    assert second.payload == b"x"
    assert oct(os.stat(tmp_path / "c" / "models").st_mode & 0o777) == "0o700"
    # another option, other bytes: converted again
    cache.cached_model(convert, [model_file], {"a": 2},
                       directory=str(tmp_path / "c"))
    model_file.write_bytes(b"weights2")
    cache.cached_model(convert, [model_file], {"a": 1},
                       directory=str(tmp_path / "c"))
    assert len(calls) == 3
    # custom conversion functions (code the key cannot see): never cached
    off = cache.cached_model(convert, [model_file],
                             {"custom_conversion_funcs": "m:f"},
                             directory=str(tmp_path / "c"))
    assert off.deeplift_cache == "off" and len(calls) == 4
    # a missing file: convert() reports it, the cache does not
    missing = cache.cached_model(convert, [tmp_path / "no.h5"], {},
                                 directory=str(tmp_path / "c"))
    assert missing.deeplift_cache == "off"


def test_key_covers_code_and_versions(tmp_path):
    model_file = tmp_path / "m.h5"
    model_file.write_bytes(b"w")
    key, parts = cache.cache_key([model_file], {"method": "rescale"})
    assert set(parts) >= {"files", "deeplift", "code", "tensorflow",
                          "numpy", "python", "options"}
    assert len(parts["code"]) == 64
    assert cache.cache_key([model_file], {"method": "rescale"})[0] == key
    assert cache.cache_key([model_file], {"method": "x"})[0] != key


def test_unreadable_or_foreign_entries_are_converted_again(tmp_path):
    model_file = tmp_path / "m.h5"
    model_file.write_bytes(b"w")
    directory = str(tmp_path / "c")
    convert, calls = counting()
    cache.cached_model(convert, [model_file], {}, directory=directory)
    key, parts = cache.cache_key([model_file], {})
    path = cache.entry_path(key, directory)
    data = open(path, "rb").read()
    with open(path, "wb") as handle:      # truncated (a full disk)
        handle.write(data[:len(data) // 2])
    model = cache.cached_model(convert, [model_file], {}, directory=directory)
    assert len(calls) == 2 and model.deeplift_cache == "stored"
    with open(path, "wb") as handle:      # another key's entry
        pickle.dump({"parts": dict(parts, options={"x": 1}),
                     "model": Model(b"wrong")}, handle)
    model = cache.cached_model(convert, [model_file], {}, directory=directory)
    assert len(calls) == 3 and model.payload == b"x"
    assert cache.cached_model(convert, [model_file], {},
                              directory=directory).deeplift_cache == "hit"


def _writer(path, parts, seed, rounds):
    payload = np.random.RandomState(seed).bytes(1 << 20)   # 1 MiB entries
    for _ in range(rounds):
        assert cache._write(path, Model(payload), parts)


def test_concurrent_writers_never_expose_a_partial_entry(tmp_path):
    model_file = tmp_path / "m.h5"
    model_file.write_bytes(b"w")
    directory = str(tmp_path / "c")
    key, parts = cache.cache_key([model_file], {})
    path = cache.entry_path(key, directory)
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_writer, args=(path, parts, seed, 15))
               for seed in range(3)]
    for proc in writers:
        proc.start()
    seen = 0
    while any(proc.is_alive() for proc in writers) or not seen:
        model = cache._read(path, parts)     # None before the first rename
        if model is not None:
            assert len(model.payload) == 1 << 20
            seen += 1
    for proc in writers:
        proc.join()
        assert proc.exitcode == 0
    assert seen > 0
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]


def test_a_cached_demo_model_scores_bit_identically(tmp_path, monkeypatch):
    from deeplift.genomics.models import load_model
    from deeplift.genomics.scoring import ScoringPlan
    directory = str(tmp_path / "c")

    def convert():
        return load_model(DEMO_MODEL, method="rescale")
    stored = cache.cached_model(convert, [DEMO_MODEL], {"method": "rescale"},
                                directory=directory)
    read = cache.cached_model(convert, [DEMO_MODEL], {"method": "rescale"},
                              directory=directory)
    assert (stored.deeplift_cache, read.deeplift_cache) == ("stored", "hit")
    assert read.deeplift_method == "rescale"
    onehot = np.eye(4, dtype=np.float32)[
        np.random.RandomState(0).randint(0, 4, (3, 200))]
    scores = [ScoringPlan(m, "rescale", 3, 200, [0, 2], "dinuc-shuffle:2",
                          0, 8).score(onehot, 0) for m in (stored, read)]
    assert scores[0].tobytes() == scores[1].tobytes()
    assert np.abs(scores[0]).max() > 0


def test_worker_plugin_loads_in_a_task_thread_once():
    pytest.importorskip("distributed")
    from deeplift import distributed as dd
    made = []

    class Runner:
        def __init__(self, spec):
            made.append(threading.current_thread().name)

    class Spec:
        model_key = "k" * 16

        def as_dict(self):
            return {"model": "m"}
    plugin = dd._worker_plugin_class()(Spec(), None, Runner)
    plugin.setup(worker=None)              # on the event loop: loads nothing
    assert made == [] and plugin.runner is None
    threads = [threading.Thread(target=plugin.get_runner) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and made[0] != threading.main_thread().name
    assert isinstance(plugin.get_runner(), Runner) and len(made) == 1


def test_unpicklable_models_are_used_not_cached(tmp_path):
    model_file = tmp_path / "m.h5"
    model_file.write_bytes(b"w")
    directory = str(tmp_path / "c")
    unpicklable = Model(lambda: None)            # a lambda does not pickle
    model = cache.cached_model(lambda: unpicklable, [model_file], {},
                               directory=directory)
    assert model is unpicklable and model.deeplift_cache == "off"
    assert cache.store_model(unpicklable, [model_file], {},
                             directory=directory) is None
    assert os.listdir(os.path.join(directory, "models")) == []
    # store_model: an entry others read; kept if one is there already
    path = cache.store_model(Model(b"y"), [model_file], {},
                             directory=directory)
    assert path and cache.store_model(Model(b"z"), [model_file], {},
                                      directory=directory) == path
    convert, calls = counting()
    got = cache.cached_model(convert, [model_file], {}, directory=directory)
    assert got.payload == b"y" and calls == []
