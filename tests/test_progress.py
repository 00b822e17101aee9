"""Progress bars: off when asked, one plain line per few percent when the
stream is not a terminal (log files), never a \\r-joined line."""
import io

from deeplift import progress


def test_line_progress_writes_a_line_every_few_percent():
    stream = io.StringIO()
    bar = progress.LineProgress(total=200, desc="scoring", stream=stream,
                                every_percent=10)
    for _ in range(200):
        bar.update(1)
    bar.close()
    text = stream.getvalue()
    lines = text.splitlines()
    assert "\r" not in text
    # 10%, 20%, ..., 90% while running, then the final 100% line
    assert len(lines) == 10
    assert lines[0].startswith("scoring: 20/200 ex (10%)")
    assert lines[-1].startswith("scoring: 200/200 ex (100%)")


def test_large_updates_give_one_line_not_many():
    stream = io.StringIO()
    bar = progress.LineProgress(total=100, stream=stream, every_percent=5)
    bar.update(60)          # jumps over 12 steps at once
    bar.update(40)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert [line.split("(")[1][:4] for line in lines] == ["60%)", "100%"]


def test_progress_bar_in_a_non_terminal_uses_lines(monkeypatch, capsys):
    monkeypatch.delenv("DEEPLIFT_NO_PROGRESS", raising=False)
    with progress.progress_bar(total=50, desc="batches") as bar:
        assert isinstance(bar, progress.LineProgress)  # pytest's capture
        for _ in range(5):
            bar.update(10)
    err = capsys.readouterr().err
    assert "\r" not in err and err.count("\n") >= 2
    assert err.splitlines()[-1].startswith("batches: 50/50")


def test_progress_bar_off(monkeypatch, capsys):
    monkeypatch.delenv("DEEPLIFT_NO_PROGRESS", raising=False)
    with progress.progress_bar(total=10, enabled=False) as bar:
        bar.update(10)
    monkeypatch.setenv("DEEPLIFT_NO_PROGRESS", "1")
    with progress.progress_bar(total=10) as bar:
        bar.update(10)
    assert capsys.readouterr().err == ""
