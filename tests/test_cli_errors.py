"""Every command answers an expected failure with one line naming the input and exit status 2, not a traceback
(exegan/errors.py); EXEGAN_DEBUG=1 brings the traceback back."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT, make_tiny


def run(args, tmp_path, **env):
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=full_env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli") / "tiny"
    make_tiny().save_pretrained(d)
    return d


def one_line_error(r, *needles):
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, r.stderr
    assert all(n in lines[0] for n in needles), lines[0]


def test_commands_report_expected_failures_in_one_line(tmp_path, model):
    (tmp_path / "deep" / "config.json").parent.mkdir()
    (tmp_path / "deep" / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "deep" / "model.safetensors").write_bytes((model / "model.safetensors").read_bytes())
    (tmp_path / "afile").write_text("x")
    (tmp_path / "photo.png").write_bytes(b"not a png")
    one_line_error(run(["-m", "exegan", "info", "--model", str(tmp_path / "deep")], tmp_path),
                   "config.json", "invalid model config")
    one_line_error(run(["-m", "exegan.convert", "--exe", "missing.pt", "--psp", "missing.pt", "--out", "o"],
                       tmp_path), "missing.pt")
    one_line_error(run(["-m", "exegan", "inpaint", "--model", str(model), "--image", "photo.png", "--mask",
                        "photo.png", "--exemplar", "photo.png", "--out", "afile"], tmp_path), "afile")
    one_line_error(run(["-m", "eval.synthetic", "--model", str(tmp_path / "nowhere"), "--n", "3"], tmp_path),
                   "nowhere")
    one_line_error(run([str(ROOT / "train" / "train.py"), "--config", "tiny", "--output_dir", "run",
                        "--resume_from_checkpoint", "no-such-checkpoint"], tmp_path), "no-such-checkpoint")


def test_debug_shows_the_traceback(tmp_path):
    r = run(["-m", "exegan.convert", "--exe", "missing.pt", "--psp", "missing.pt", "--out", "o"], tmp_path,
            EXEGAN_DEBUG="1")
    assert r.returncode != 0 and "Traceback" in r.stderr
