"""The progress line of pointnet_tf2.utils.progress, with a fake clock."""

import io

import pytest

from pointnet_tf2.utils import progress
from pointnet_tf2.utils.progress import Progress
from pointnet_tf2.utils.progress import format_duration


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (44.6, "45s"), (185, "3m05s"), (7620, "2h07m")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_rate_and_time_left_then_the_time_taken():
    clock = Clock()
    bar = Progress(100, "toy", unit="files", stream=io.StringIO(), clock=clock, tty=False)
    clock.now += 10
    bar.update(25, skipped=2)
    assert bar.line() == "toy: [######..................] 25/100 (25%) 2.5 files/s, 30s left, 2 skipped"
    clock.now += 30
    bar.update(75)
    assert bar.line() == "toy: [########################] 100/100 (100%) 2.5 files/s, took 40s, 2 skipped"


def test_initial_items_are_done_but_not_in_the_rate():
    clock = Clock()
    bar = Progress(10, "resume", stream=io.StringIO(), clock=clock, initial=4, tty=False)
    clock.now += 4
    bar.update(2)
    assert bar.line() == "resume: [##############..........] 6/10 (60%) 0.5/s, 8s left"


def test_unknown_total():
    clock = Clock()
    bar = Progress(None, "stream", unit="batches", stream=io.StringIO(), clock=clock, tty=False)
    clock.now += 2
    bar.update(5)
    assert bar.line() == "stream: 5 batches done, 2.5 batches/s"


def test_non_terminal_lines_at_most_every_interval_and_a_final_line():
    clock, stream = Clock(), io.StringIO()
    with Progress(10, "slow", stream=stream, clock=clock, interval=5, tty=False) as bar:
        for _ in range(10):
            clock.now += 2  # a line at 6 s, 12 s and 18 s (the next 5 s after the last line)
            bar.update(1)
    lines = stream.getvalue().splitlines()
    assert lines == [
        "slow: [#######.................] 3/10 (30%) 0.5/s, 14s left",
        "slow: [##############..........] 6/10 (60%) 0.5/s, 8s left",
        "slow: [#####################...] 9/10 (90%) 0.5/s, 2s left",
        "slow: [########################] 10/10 (100%) 0.5/s, took 20s",
    ]


def test_a_fast_loop_prints_nothing_unless_always_final():
    clock, stream = Clock(), io.StringIO()
    with Progress(20, "fast", stream=stream, clock=clock, tty=False) as bar:
        for _ in range(20):
            clock.now += 0.01
            bar.update(1)
    assert stream.getvalue() == ""
    with Progress(20, "fast", stream=stream, clock=clock, tty=False, always_final=True) as bar:
        clock.now += 1
        bar.update(20)
    assert stream.getvalue() == "fast: [########################] 20/20 (100%) 20.0/s, took 1s\n"


def test_terminal_redraws_in_place_and_clears_for_other_output():
    clock, stream = Clock(), io.StringIO()
    bar = Progress(4, "tty", stream=stream, clock=clock, tty=True)
    bar.update(1)  # the first update draws at once
    bar.update(1)  # within 0.1 s of the last draw: not drawn
    clock.now += 0.5
    bar.update(1)
    bar.clear()
    bar.update(1)  # the last item: drawn
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") == 5 and text.endswith("took 0s\x1b[K\n")
    assert "\r\x1b[K" in text  # cleared
    counts = [draw.split("] ")[1].split(" (")[0] for draw in text.split("\r") if "] " in draw]
    assert counts == ["1/4", "3/4", "4/4", "4/4"]
    assert "3/4 (75%) 6.0/s, 0s left\x1b[K" in text


def test_disabled_prints_nothing_and_the_default_interval_is_read_when_built(monkeypatch):
    clock, stream = Clock(), io.StringIO()
    with Progress(3, stream=stream, clock=clock, enabled=False, always_final=True) as bar:
        clock.now += 100
        bar.update(3)
    assert stream.getvalue() == ""
    monkeypatch.setattr(progress, "DEFAULT_INTERVAL", 0.0)
    with Progress(2, "every", stream=stream, clock=clock, tty=False) as bar:
        bar.update(1)
        bar.update(1)
    assert len(stream.getvalue().splitlines()) == 3
