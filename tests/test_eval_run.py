"""Whole evaluation runs on a tiny protocol: 9 test images of 32x32 (8 used: batch-reverse pairing drops the
incomplete last batch), a random tiny EXE-GAN saved with save_pretrained, random full-size FID Inception weights
and a random shallow ArcFace loaded by the real loading code. The Inception pass dominates (~0.1 s per image on
two idle cores; 56 distinct images here), so FID uses the exact eigenvalue route instead of a 2048x2048 sqrtm.
Also: mask identity across methods and runs, the comparison notebook (headless), and a 2-process Accelerate run
(``ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 ...``)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_tiny
from eval.masks import load_mask
from eval.run import job_seed, main
from eval.testing import save_random_arcface, save_random_fid_weights

REPO = Path(__file__).resolve().parents[1]


def _have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_assets")
    data = root / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:36] / 40.0
    for i in range(9):  # smooth colourful 40x36 pictures (centre-cropped to 32 px by the run)
        base = np.stack([np.sin(xx * (i + 1) * 3), np.cos(yy * (i + 2) * 2), xx * yy], -1)
        img = ((base * 0.4 + 0.5 + rng.normal(0, 0.05, base.shape)).clip(0, 1) * 255).astype(np.uint8)
        Image.fromarray(img).save(data / f"face{i:02d}.png")
    make_tiny().save_pretrained(root / "model")
    return {"root": root, "data": data, "model": root / "model",
            "fid": save_random_fid_weights(root / "inception_random.pth"),
            "arcface": save_random_arcface(root / "arcface_tiny.pth")}


def _common(assets, out):
    # one torch thread: on a shared two-core machine the tiny networks run several times faster
    return ["--data", str(assets["data"]), "--out", str(out), "--masks", "center,10-20", "--cache", "none",
            "--threads", "1"]


@pytest.fixture(scope="module")
def run(assets):
    out = assets["root"] / "run1"
    lpips = ["--lpips-vgg", "random"] if _have("exegan.perceptual") else []
    with pytest.warns(UserWarning) if lpips else _nothing():
        main(_common(assets, out) + ["--method", f"exegan={assets['model']}", "--method", "telea", "--seeds", "0,1",
                                     "--fid-weights", assets["fid"], "--fid-sqrt", "exact",
                                     "--identity", f"arcface:{assets['arcface']}", *lpips])
    return out, json.loads((out / "results.json").read_text())


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_results_json_records_protocol_next_to_every_number(run):
    out, res = run
    proto = res["protocol"]
    assert proto["n"] == 8 and proto["n_available"] == 9 and proto["seeds"] == [0, 1] and proto["size"] == 32
    assert proto["exemplars"]["pairs"]["face00"] == "face07" and proto["exemplars"]["drop_last"]
    assert not proto["feature_extractor"]["standard_weights"] and "bilinear" in proto["resize"]
    assert [(e["method"], e["mask"]) for e in res["results"]] == [
        ("exegan", "center"), ("exegan", "10-20"), ("telea", "center"), ("telea", "10-20")]
    expected = {"fid", "u_ids", "p_ids", "mae", "psnr", "ssim", "id_cos_exemplar", "id_cos_original",
                "attr_distance"} | ({"lpips_diversity"} if _have("exegan.perceptual") else set())
    for e in res["results"]:
        assert e["n"] == 8 and e["seeds"] == [0, 1] and e["ssim_window"] == 31 and e["fid_sqrt"] == "exact"
        assert "Inception" in e["feature_extractor"] and e["resize"] == proto["resize"]
        assert set(e["metrics"]) == expected
        for key in expected - {"lpips_diversity"}:
            m = e["metrics"][key]
            assert len(m["per_seed"]) == 2 and m["mean"] == pytest.approx(np.mean(m["per_seed"]))
            assert m["std"] == pytest.approx(np.std(m["per_seed"]))
        assert 0 <= e["metrics"]["u_ids"]["mean"] <= 0.5 and e["metrics"]["fid"]["mean"] > 0
    table = (out / "results.md").read_text()
    assert "| Metric | Mask | N | exegan | telea |" in table
    assert "| FID ↓ | center | 8 |" in table and "| U-IDS (%) ↑ | 10-20 | 8 |" in table
    assert "NON-STANDARD weights" in table and "Seeds: 0, 1" in table and "bilinear" in table


def test_outputs_are_composites_and_deterministic_methods_are_cached(run):
    out, res = run
    files = res["files"]
    for method in ("exegan", "telea"):
        for mask in ("center", "10-20"):
            for i, name in enumerate(files["names"]):
                got = np.asarray(Image.open(out / files["outputs"].format(method=method, mask=mask, seed=1,
                                                                          name=name)))
                gt = np.asarray(Image.open(out / files["gt"][i]))
                hole = load_mask(out / files["masks"][mask][i])
                np.testing.assert_array_equal(got[~hole], gt[~hole])
    by = {(e["method"], e["mask"]): e["metrics"] for e in res["results"]}
    assert by[("telea", "center")]["fid"]["std"] == 0  # deterministic: both seeds give the same pixels
    assert by[("exegan", "center")]["fid"]["std"] > 0
    # one Inception pass per distinct image: 8 ground truths + exegan 2 masks x 2 seeds x 8 + telea 2 x 8
    passes = {k.split("-")[0]: v for k, v in res["feature_passes"].items()}
    assert passes["fid"] == 8 + 32 + 16
    if "lpips_diversity" in by[("telea", "center")]:
        assert by[("telea", "center")]["lpips_diversity"]["mean"] == 0
        assert by[("exegan", "center")]["lpips_diversity"]["mean"] > 0


def test_a_runs_outputs_feed_a_second_run_as_a_folder_method(run, assets):
    out1, res1 = run
    out3 = assets["root"] / "run3"  # the documented layout outputs/<method>/<mask>/seed<seed>/<stem>.png, fed back
    main(_common(assets, out3) + ["--method", f"folder={out1 / 'outputs' / 'exegan'}", "--seeds", "0,1",
                                  "--size", "32", "--no-fid", "--identity", "none"])
    res3 = json.loads((out3 / "results.json").read_text())
    label = res3["results"][0]["method"]
    for mask in ("center", "10-20"):
        for seed in (0, 1):  # seed 1 differs from seed 0 for EXE-GAN: the right seed folder was read
            for name in res1["files"]["names"]:
                path = res1["files"]["outputs"].format(method="exegan", mask=mask, seed=seed, name=name)
                again = res3["files"]["outputs"].format(method=label, mask=mask, seed=seed, name=name)
                assert (out3 / again).read_bytes() == (out1 / path).read_bytes() or np.array_equal(
                    np.asarray(Image.open(out3 / again)), np.asarray(Image.open(out1 / path)))
    by1 = {(e["method"], e["mask"]): e["metrics"] for e in res1["results"]}
    by3 = {e["mask"]: e["metrics"] for e in res3["results"]}
    for mask in ("center", "10-20"):
        for key in ("mae", "psnr", "ssim"):  # same pixels, same numbers
            assert by3[mask][key]["per_seed"] == pytest.approx(by1[("exegan", mask)][key]["per_seed"])


def test_masks_are_identical_across_methods_and_runs(run, assets):
    out1, res1 = run
    for mask in ("center", "10-20"):
        hashes = {e["mask_sha256"] for e in res1["results"] if e["mask"] == mask}
        assert hashes == {res1["protocol"]["masks"][mask]["sha256"]}
    out2 = assets["root"] / "run2"  # a second, cheap run: other methods, no Inception / identity metrics
    main(_common(assets, out2) + ["--method", f"exegan={assets['model']}", "--method", "paste", "--seeds", "0",
                                  "--no-fid", "--identity", "none"])
    res2 = json.loads((out2 / "results.json").read_text())
    for mask in ("center", "10-20"):
        assert res2["protocol"]["masks"][mask]["sha256"] == res1["protocol"]["masks"][mask]["sha256"]
        assert {e["mask_sha256"] for e in res2["results"] if e["mask"] == mask} == \
            {res1["protocol"]["masks"][mask]["sha256"]}
        for a, b in zip(res1["files"]["masks"][mask], res2["files"]["masks"][mask]):
            assert (out1 / a).read_bytes() == (out2 / b).read_bytes()
    # the same seed reproduces the same EXE-GAN completions in another run
    name = res1["files"]["names"][3]
    rel = res1["files"]["outputs"].format(method="exegan", mask="10-20", seed=0, name=name)
    assert (out1 / rel).read_bytes() == (out2 / rel).read_bytes()
    assert "fid" not in res2["results"][0]["metrics"] and res2["protocol"]["identity"]["available"] is False
    assert job_seed(0, "center", 3) == job_seed(0, "center", 3) != job_seed(1, "center", 3)


def test_comparison_notebook_runs_headless(run, assets, tmp_path):
    """``python -m eval.notebook`` executes eval/compare_methods.ipynb with nbclient on a kernel of this
    interpreter (a temporary kernel spec, so it works in any fresh venv with ipykernel) and writes the executed
    copy: every cell ran, the plots are embedded, the figures saved."""
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    from eval.notebook import main as notebook_main

    results = [str(run[0] / "results.json")]
    if (assets["root"] / "run2" / "results.json").is_file():
        results.append(str(assets["root"] / "run2" / "results.json"))
    out = tmp_path / "executed.ipynb"
    assert notebook_main([*results, "--out", str(out), "--figures", str(tmp_path / "figures"), "--timeout", "120"]) == 0
    figures = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert {"fid_ids_vs_ratio.png", "pixel_metrics_vs_ratio.png", "exemplar_fidelity.png",
            "samples_run1_center.png"} <= set(figures)
    nb = nbformat.read(out, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4  # set metrics, pixel metrics, fidelity, samples
    assert any("text/markdown" in o.get("data", {}) for c in code for o in c.outputs)  # the results table
    assert str(REPO) not in nbformat.writes(nb)  # relative paths only: the executed copy is committed


def test_two_process_accelerate_run_matches_single_process(run, assets):
    """``accelerate launch`` with two CPU processes (gloo): generation, hashing, identity / style-code features and
    pixel metrics are sharded and gathered, and the numbers equal the single-process run's (same masks, seeds,
    completions). ~8 s on two idle cores (no Inception pass: --no-fid)."""
    out = assets["root"] / "run_2proc"
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "eval.run",
           *_common(assets, out), "--method", f"exegan={assets['model']}", "--method", "telea", "--seeds", "0,1",
           "--no-fid", "--identity", f"arcface:{assets['arcface']}"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    assert res["processes"] == 2
    single = {(e["method"], e["mask"]): e["metrics"] for e in run[1]["results"]}
    for e in res["results"]:
        for key in ("mae", "psnr", "ssim", "id_cos_exemplar", "attr_distance"):
            assert e["metrics"][key]["per_seed"] == pytest.approx(single[(e["method"], e["mask"])][key]["per_seed"],
                                                                  rel=1e-5)


def test_bad_metric_weights_fail_before_anything_is_generated(assets, tmp_path):
    (tmp_path / "not_inception.pth").write_bytes(b"garbage")
    for weights in (tmp_path / "missing.pth", tmp_path / "not_inception.pth"):
        out = tmp_path / f"run_{weights.stem}"
        with pytest.raises((ValueError, FileNotFoundError)):
            main(_common(assets, out) + ["--method", "telea", "--seeds", "0", "--fid-weights", str(weights),
                                         "--identity", "none"])
        assert not (out / "outputs").exists()  # refused before the first completion was made


def test_synthetic_faces_source_with_the_offline_stand_ins(tmp_path):
    """``--data synthetic-faces:N:SEED`` evaluates held-out synthetic faces (the faces the synthetic check uses),
    and ``--fid-weights sface`` / ``--lpips-vgg sface`` give FD-SFace, IDS-SFace and SFace-trunk diversity under
    their own names (never as FID / LPIPS); FD-SFace is the Fréchet distance of the raw SFace embeddings."""
    pytest.importorskip("gan_face_generate", reason="the synthetic-faces source needs gan-face-generate")
    from eval.fid import fid_from_features
    from eval.synthetic import held_out_faces
    from exegan.sface import load_sface

    try:
        net = load_sface().eval()
    except (RuntimeError, FileNotFoundError) as err:
        pytest.skip(f"SFace unavailable: {err}")
    out = tmp_path / "run"
    main(["--data", "synthetic-faces:8:3", "--out", str(out), "--method", "telea", "--method", "paste",
          "--masks", "center", "--seeds", "0,1", "--fid-weights", "sface", "--lpips-vgg", "sface",
          "--cache", "none", "--threads", "1", "--size", "64"])
    res = json.loads((out / "results.json").read_text())
    assert res["protocol"]["data"].startswith("synthetic-faces:8:3")
    gt = np.stack([np.asarray(Image.open(out / p).convert("RGB")) for p in res["files"]["gt"]])
    assert np.array_equal(gt, held_out_faces(8, seed=3))  # the synthetic check's held-out faces
    by = {r["method"]: r["metrics"] for r in res["results"]}
    for m in by.values():
        assert {"fd_sface", "u_ids_sface", "p_ids_sface", "sface_diversity"} <= set(m)
        assert not {"fid", "u_ids", "p_ids", "lpips_diversity"} & set(m)
        assert m["sface_diversity"]["mean"] == 0  # deterministic methods: the seeds agree
    assert "not comparable" in res["protocol"]["feature_extractor"]["name"]

    import torch

    def embed(paths):
        x = torch.from_numpy(np.stack([np.asarray(Image.open(out / p).convert("RGB")) for p in paths]))
        with torch.no_grad():
            return net.embed(x.permute(0, 3, 1, 2).float() / 127.5 - 1).numpy()

    fake = [res["files"]["outputs"].format(method="telea", mask="center", seed=0, name=n)
            for n in res["files"]["names"]]
    expected = fid_from_features(embed(res["files"]["gt"]).astype(np.float64), embed(fake).astype(np.float64))
    assert by["telea"]["fd_sface"]["mean"] == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("spec", ["synthetic-faces:1", "synthetic-faces:5001", "synthetic-faces:x",
                                  "synthetic-faces:8:-1", "synthetic-faces:8:1:2"])
def test_synthetic_faces_spec_is_bounded(spec, tmp_path, capsys):
    from eval.run import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--data", spec, "--out", str(tmp_path), "--method", "telea", "--no-fid"])
    assert "synthetic-faces:N[:SEED]" in capsys.readouterr().err
