"""Progress bars (exegan.progress): the one rule (stderr a terminal, EXEGAN_PROGRESS=0/1, a caller's disable), and
the bars of training, eval.run and eval.synthetic reaching their totals on stderr while stdout keeps its lines."""

import io
import re

import numpy as np
import pytest
from PIL import Image

from conftest import make_tiny
from eval.distributed import Dist
from eval.features import FeatureStore
from eval.synthetic import CheckConfig, run_check
from exegan.progress import ENV, progress_bar, progress_enabled, write
from test_train import run_train  # the tiny 32 px training run of tests/test_train.py


class _Terminal(io.StringIO):
    def isatty(self):
        return True


# ------------------------------------------------------------------------------------------------ the rule
def test_bar_reaches_its_total_when_forced_on(monkeypatch, capsys):
    monkeypatch.setenv(ENV, "1")
    assert sum(progress_bar(range(7), desc="count", unit="img")) == 21
    out = capsys.readouterr()
    assert out.out == ""
    assert "count: 100%" in out.err and "7/7" in out.err and "img/s" in out.err


def test_nothing_on_stderr_when_turned_off_or_redirected(monkeypatch, capsys):
    monkeypatch.setenv(ENV, "0")
    assert list(progress_bar(range(3))) == [0, 1, 2]
    monkeypatch.delenv(ENV)  # capsys: stderr is not a terminal
    assert list(progress_bar(range(3))) == [0, 1, 2]
    assert capsys.readouterr().err == ""


def test_a_terminal_shows_the_bar_unless_the_variable_or_the_caller_says_no(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr("sys.stderr", _Terminal())
    assert progress_enabled() and not progress_enabled(disable=True)
    monkeypatch.setenv(ENV, "0")
    assert not progress_enabled()
    monkeypatch.setenv(ENV, "1")
    assert not progress_enabled(disable=True)  # another process, or --progress_bar false


def test_lines_written_during_a_bar_stay_whole_on_stdout(monkeypatch, capsys):
    monkeypatch.setenv(ENV, "1")
    with progress_bar(total=2, desc="work") as bar:
        bar.update(1)
        write("step 1: loss/d=1.5")
        bar.update(1)
    out = capsys.readouterr()
    assert out.out == "step 1: loss/d=1.5\n"
    assert "2/2" in out.err and "step" not in out.err


# ------------------------------------------------------------------------------------------------ training
def _log_lines(stdout: str) -> list[str]:
    """The `step N: ...` lines with the measured speed masked (the one value that differs between runs)."""
    return [re.sub(r"speed/images_per_s=\S+", "speed/images_per_s=*", line) for line in stdout.splitlines()
            if line.startswith("step ")]


def test_training_bar_counts_steps_and_leaves_the_log_lines_alone(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.setenv(ENV, "1")
    args = ["--max_train_steps", "2", "--checkpointing_steps", "2"]
    run_train(tmp_path / "shown", data_dir, *args)
    shown = capsys.readouterr()
    run_train(tmp_path / "hidden", data_dir, *args, "--progress_bar", "false")
    hidden = capsys.readouterr()

    lines = _log_lines(shown.out)
    assert [line.split(":")[0] for line in lines] == ["step 1", "step 2"]
    assert all(re.fullmatch(r"step \d+: (\S+=[-\d.e+naninf*]+ ?)+", line) for line in lines), lines
    assert lines == _log_lines(hidden.out)  # the bar changes nothing on stdout
    assert "\r" not in shown.out and "train:" not in shown.out
    final = shown.err.split("\r")[-1]  # the bar as last drawn
    assert "train: 100%" in final and "2/2" in final
    assert re.search(r"d=[-\d.e]+, g=[-\d.e]+, img/s=[\d.e+]+", final), final
    assert re.search(rf"scan \S+: {len(list(data_dir.iterdir()))}img", shown.err)  # the image folder scan
    assert "train:" not in hidden.err and "scan" not in hidden.err


# ------------------------------------------------------------------------------------------------ evaluation
class _Process(Dist):
    """Process ``rank`` of ``world`` without Accelerate: map runs this process's batches only (no gather)."""

    def __init__(self, rank: int = 0, world: int = 1):
        self.rank, self.world, self.is_main = rank, world, rank == 0

    def gather(self, local):
        return local  # this process's results only

    def barrier(self):
        pass


def test_eval_bars_count_this_process_share_on_the_main_process_only(monkeypatch, capsys):
    monkeypatch.setenv(ENV, "1")
    assert _Process().map(lambda b: [x * 2 for x in b], range(10), 4, desc="generate m") == list(range(0, 20, 2))
    assert "generate m: 100%" in capsys.readouterr().err.split("\r")[-1]
    assert _Process(0, 2).map(lambda b: b, range(10), 4, desc="generate m") == [0, 1, 2, 3, 8, 9]
    assert "6/6" in capsys.readouterr().err.split("\r")[-1]  # batches 0 and 2 of 3
    assert _Process(1, 2).map(lambda b: b, range(10), 4, desc="generate m") == [4, 5, 6, 7]
    assert capsys.readouterr().err == ""


def test_feature_bars_name_the_extractor_and_skip_cached_features(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(ENV, "1")
    paths = []
    for i in range(5):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(np.full((8, 8, 3), i * 40, np.uint8)).save(paths[-1])
    store = FeatureStore(_Process(), batch_size=2)
    feats = store.features("mean-0123abcd", lambda batch: batch.mean((1, 2, 3))[:, None], paths)
    assert feats[:, 0].tolist() == [0, 40, 80, 120, 160]
    err = capsys.readouterr().err
    assert "hash images: 100%" in err and "features mean: 100%" in err and "5/5" in err
    store.features("mean-0123abcd", lambda batch: pytest.fail("cached"), paths)
    assert capsys.readouterr().err == ""  # nothing hashed or computed again: no bar


def test_synthetic_check_bar_covers_every_generated_output(monkeypatch, capsys):
    monkeypatch.setenv(ENV, "1")
    r = run_check(make_tiny(), CheckConfig(n=3, n_samples=2), progress=True)
    out = capsys.readouterr()
    assert out.out == ""  # the parts are named on the bar, not printed
    total = r["known_pixels"]["outputs_checked"]  # 3 faces x (2 masks + 2 guidance + 2 seeds)
    final = out.err.split("\r")[-1]
    assert total == 18 and "diversity: 100%" in final and f"{total}/{total}" in final
    assert "quality center" in out.err and "guidance" in out.err
