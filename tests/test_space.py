"""exegan.space: publishing the demo as a Hugging Face Space, offline: dry runs on the real checkout and on small
copies of it, and the real upload code against a fake in-process HfApi (nothing here contacts the Hub)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub.utils import filter_repo_objects
from huggingface_hub.utils._paths import DEFAULT_IGNORE_PATTERNS

from exegan import space
from exegan.errors import run_cli

ROOT = Path(__file__).resolve().parent.parent
LISTED = re.compile(r"^  (LFS|   ) +([\d,]+)  (\S+)")


def cli(argv, capsys):
    """(exit status, stdout, stderr) of ``python -m exegan.space argv``, in process."""
    rc = run_cli(space.main, argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def listed(out: str) -> dict[str, tuple[bool, int]]:
    """The dry run's file lines: path -> (LFS?, size)."""
    return {m.group(3): (m.group(1) == "LFS", int(m.group(2).replace(",", "")))
            for m in map(LISTED.match, out.splitlines()) if m}


def small_checkout(root: Path) -> Path:
    """The files a Space needs, copied into ``root`` (the bundled weights replaced by a few bytes)."""
    for name in ("app.py", "README.md", "requirements.txt", "constraints.txt", "LICENSE"):
        shutil.copyfile(ROOT / name, root / name)
    shutil.copytree(ROOT / "exegan", root / "exegan", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (root / "assets" / "default-model").mkdir(parents=True)
    (root / space.BUNDLED_WEIGHTS).write_bytes(b"not a model")
    return root


@pytest.fixture(scope="module")
def dry_run_output():
    """The dry run on the real checkout, as a user runs it (``python -m exegan.space``)."""
    out = subprocess.run([sys.executable, "-m", "exegan.space", "--space", "your-org/exegan-demo", "--dry-run"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_dry_run_lists_the_demo_and_nothing_else(dry_run_output):
    files = listed(dry_run_output)
    for needed in ("app.py", "exegan/pipeline.py", "exegan/demo.py", space.BUNDLED_WEIGHTS,
                   "assets/default-model/config.json", "requirements.txt", "constraints.txt", "README.md",
                   "LICENSE", ".gitattributes"):
        assert needed in files, needed
    for path in files:
        assert not path.startswith((".venv/", "runs/", "tests/", "train/", "eval/", ".git/", "scripts/", "docs/",
                                    "test-artifacts/", ".hypothesis/", ".pytest_cache/")), path
        assert "__pycache__" not in path and not path.endswith((".pyc", ".ipynb")), path
    for path in files:  # only the allowed top-level files and folders
        assert path in (*space.TOP_FILES, ".gitattributes") or path.split("/")[0] in space.TOP_DIRS, path
    total = re.search(r"^Total: (\d+) files, ([\d,]+) bytes$", dry_run_output, flags=re.MULTILINE)
    assert int(total.group(1)) == len(files)
    assert int(total.group(2).replace(",", "")) == sum(size for _, size in files.values())
    assert "  EXEGAN_APP_LOCK_MODEL=1" in dry_run_output.splitlines()
    assert "sdk: gradio" in dry_run_output and "dry run: nothing was sent" in dry_run_output


def test_dry_run_marks_lfs(dry_run_output):
    files = listed(dry_run_output)
    assert files[space.BUNDLED_WEIGHTS] == (True, (ROOT / space.BUNDLED_WEIGHTS).stat().st_size)
    assert files["assets/examples/photo.png"][0]
    assert not files["app.py"][0] and not files["exegan/pipeline.py"][0] and not files["README.md"][0]
    assert all(lfs for path, (lfs, size) in files.items() if size >= space.LFS_MIN_BYTES)
    assert space.is_lfs("weights/x.safetensors", 10) and space.is_lfs("data/big.dat", space.LFS_MIN_BYTES)
    assert not space.is_lfs("data/small.dat", space.LFS_MIN_BYTES - 1)
    attrs = space.gitattributes([("data/big file.dat", space.LFS_MIN_BYTES), ("m.safetensors", 10 ** 8)])
    assert "*.safetensors filter=lfs diff=lfs merge=lfs -text" in attrs.splitlines()
    assert "/data/big[[:space:]]file.dat filter=lfs diff=lfs merge=lfs -text" in attrs.splitlines()
    assert "m.safetensors" not in attrs  # already covered by its pattern


def test_with_model_the_bundled_weights_are_not_uploaded(capsys):
    rc, out, err = cli(["--space", "org/demo", "--model", "org/exegan-ffhq-256", "--dry-run"], capsys)
    assert rc == 0, err
    files = listed(out)
    assert space.BUNDLED_WEIGHTS not in files
    assert "assets/default-model/config.json" in files and "app.py" in files
    lines = out.splitlines()
    assert "  EXEGAN_MODEL=org/exegan-ffhq-256" in lines and "  EXEGAN_APP_LOCK_MODEL=1" in lines


def test_upload_patterns_over_the_whole_checkout_give_the_dry_run_files():
    """What upload_folder's allow/ignore patterns take from the checkout, .venv, runs/, .git and all, is the dry
    run's list (plus the two files written for the Space)."""
    everything = [(Path(d) / f).relative_to(ROOT).as_posix() for d, _, fs in os.walk(ROOT) for f in fs]
    for model in (None, "org/model"):
        plan = space.make_plan("org/demo", model=model)
        taken = set(filter_repo_objects(everything, allow_patterns=list(space.ALLOW_PATTERNS),
                                        ignore_patterns=[*plan.ignore_patterns, *DEFAULT_IGNORE_PATTERNS]))
        assert {e.path for e in plan.files} == taken | set(space.GENERATED)


def test_repository_gitattributes_marks_the_space_lfs_types_binary_without_lfs():
    rules = [line.split() for line in (ROOT / ".gitattributes").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert {r[0] for r in rules if "binary" in r[1:]} == set(space.LFS_PATTERNS)
    assert not any("filter=lfs" in " ".join(r) for r in rules)  # a plain clone must keep the real model file
    assert not any(fnmatch_any("eval/compare_methods.ipynb", r[0]) for r in rules)  # notebooks stay diffable


def fnmatch_any(path, pattern):
    import fnmatch

    return fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern)


def test_real_readme_front_matter_is_a_valid_space_config():
    text, meta = space.front_matter((ROOT / "README.md").read_text(encoding="utf-8"))
    space.validate_front_matter(meta, space.pinned_gradio((ROOT / "constraints.txt").read_text()))
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert "sdk_version" in text


@pytest.mark.parametrize("old, new, field", [
    ("colorFrom: indigo", "colorFrom: orange", "colorFrom"),
    ("colorTo: purple", "colorTo: 12", "colorTo"),
    ("sdk: gradio", "sdk: streamlit", "sdk"),
    ("sdk_version: ", "sdk_version: 0.0.1\nold_sdk_version: ", "sdk_version"),
    ("app_file: app.py", "app_file: main.py", "app_file"),
    ("pinned: false", "pinned: maybe", "pinned"),
    ('python_version: "3.11"', "python_version: 3.10", "python_version"),
    ("license: other", "license: Not A Licence!", "license"),
    ("emoji: ", "emoji: x\nold_emoji: ", "emoji"),
    ("title: ", "old_title: ", "title"),
    ("---\n", "", "front matter"),
    ("colorTo: purple", "colorTo: [purple", "front matter"),
])
def test_a_broken_front_matter_is_refused_naming_the_field(tmp_path, capsys, old, new, field):
    root = small_checkout(tmp_path)
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert old in readme
    (root / "README.md").write_text(readme.replace(old, new, 1), encoding="utf-8")
    rc, out, err = cli(["--space", "org/demo", "--root", str(root), "--dry-run"], capsys)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and field in err, err


def test_a_small_checkout_passes_and_lists_only_its_files(tmp_path, capsys):
    root = small_checkout(tmp_path)
    (root / "exegan" / "__pycache__").mkdir(exist_ok=True)
    (root / "exegan" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"x")
    (root / "exegan" / ".ipynb_checkpoints").mkdir()
    (root / "exegan" / ".ipynb_checkpoints" / "a.py").write_text("x")
    (root / "assets" / "notes.ipynb").write_text("{}")
    for junk in (".venv/lib/site.py", "runs/x/model.safetensors", "tests/test_x.py", "train/train.py", "out/a.png"):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_text("x")
    rc, out, err = cli(["--space", "org/demo", "--root", str(root), "--dry-run"], capsys)
    assert rc == 0, err
    files = set(listed(out))
    expected = {p.relative_to(root).as_posix() for p in (root / "exegan").rglob("*.py")
                if "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts}
    expected |= {"app.py", "README.md", "LICENSE", "requirements.txt", "constraints.txt", ".gitattributes",
                 space.BUNDLED_WEIGHTS}
    assert files == expected


def test_missing_app_py_is_refused(tmp_path, capsys):
    root = small_checkout(tmp_path)
    (root / "app.py").unlink()
    rc, out, err = cli(["--space", "org/demo", "--root", str(root), "--dry-run"], capsys)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "app.py" in err and "--root" in err


def test_missing_bundled_weights_without_model_is_refused(tmp_path, capsys):
    root = small_checkout(tmp_path)
    (root / space.BUNDLED_WEIGHTS).unlink()
    rc, _, err = cli(["--space", "org/demo", "--root", str(root), "--dry-run"], capsys)
    assert rc == 2 and "model" in err
    rc, _, err = cli(["--space", "org/demo", "--root", str(root), "--model", "org/m", "--dry-run"], capsys)
    assert rc == 0, err


@pytest.mark.parametrize("argv, words", [
    (["--space", "not-a-repo-id"], "--space"),
    (["--space", "org/demo", "--model", str(ROOT / "assets" / "default-model")], "local folder"),
    (["--space", "org/demo", "--model", "a/b/c"], "--model"),
])
def test_bad_ids_are_refused(capsys, argv, words):
    rc, _, err = cli([*argv, "--dry-run"], capsys)
    assert rc == 2 and words in err and len(err.strip().splitlines()) == 1


def test_space_requirements_carry_the_constraint_pins():
    text = space.space_requirements((ROOT / "requirements.txt").read_text(), (ROOT / "constraints.txt").read_text())
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    assert "-c constraints.txt" not in lines and not any(line.startswith("-c") for line in lines)
    pin = space.pinned_gradio((ROOT / "constraints.txt").read_text())
    assert f"gradio=={pin}" in lines
    assert any(re.fullmatch(r"torch==[\w.+]+", line) for line in lines)
    assert space.space_requirements("foo[x]>=1  # c\nbar ; python_version < '4'\n", "foo==2\nbar==3\n").splitlines()[
        -2:] == ["foo[x]>=1  # c", "bar==3 ; python_version < '4'"]
    with pytest.raises(ValueError, match="other.txt"):
        space.space_requirements("-r other.txt\n", "")


class FakeApi:
    """An in-process stand-in for huggingface_hub.HfApi that records the calls; upload_folder applies the real
    allow/ignore filter to the folder it is given."""
    def __init__(self, token=None, variables=None, model_files=("config.json", "model.safetensors", "README.md")):
        self.token, self.calls, self.uploaded = token, [], {}
        self.variables = dict(variables or {})
        self.model_files = model_files

    def model_info(self, repo_id):
        self.calls.append(("model_info", repo_id))
        return type("Info", (), {"siblings": [type("S", (), {"rfilename": f})() for f in self.model_files],
                                 "private": False, "gated": False})()

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))
        return f"https://huggingface.co/spaces/{repo_id}"

    def get_space_variables(self, repo_id):
        self.calls.append(("get_space_variables", repo_id))
        return dict(self.variables)

    def add_space_variable(self, repo_id, key, value, *, description=None):
        self.calls.append(("add_space_variable", repo_id, key, value))
        self.variables[key] = value

    def delete_space_variable(self, repo_id, key):
        self.calls.append(("delete_space_variable", repo_id, key))
        self.variables.pop(key, None)

    def upload_folder(self, *, repo_id, folder_path, repo_type=None, allow_patterns=None, ignore_patterns=None,
                      delete_patterns=None, commit_message=None):
        self.calls.append(("upload_folder", repo_id, repo_type, delete_patterns))
        folder = Path(folder_path)
        present = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
        for path in filter_repo_objects(present, allow_patterns=allow_patterns,
                                        ignore_patterns=[*ignore_patterns, *DEFAULT_IGNORE_PATTERNS]):
            self.uploaded[path] = (folder / path).read_bytes()


@pytest.fixture
def fake_hub(monkeypatch):
    """``space.HfApi`` replaced by :class:`FakeApi` (the created instances are in the returned list); a token in
    the environment."""
    made = []

    def factory(token=None):
        made.append(FakeApi(token, variables={"EXEGAN_MODEL": "org/old"}))
        return made[-1]

    monkeypatch.setattr(space, "HfApi", factory)
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_tests")
    return made


def test_publish_calls_the_hub_as_planned(fake_hub, capsys):
    rc, out, err = cli(["--space", "org/demo"], capsys)
    assert rc == 0, err
    api = fake_hub[0]
    assert api.token == "hf_fake_token_for_tests"
    names = [c[0] for c in api.calls]
    assert names == ["create_repo", "get_space_variables", "delete_space_variable", "add_space_variable",
                     "upload_folder"]  # variables first: the build of the new files starts with them set
    assert api.calls[0] == ("create_repo", "org/demo",
                            dict(repo_type="space", space_sdk="gradio", private=False, exist_ok=True))
    assert api.calls[-1] == ("upload_folder", "org/demo", "space", "*")
    assert api.variables == {"EXEGAN_APP_LOCK_MODEL": "1"}  # the leftover EXEGAN_MODEL is gone
    plan = space.make_plan("org/demo")
    assert set(api.uploaded) == {e.path for e in plan.files}
    for e in plan.files:  # copies of the checkout, or the files written for the Space
        assert api.uploaded[e.path] == (e.content if e.content is not None else e.source.read_bytes()), e.path
    reqs = api.uploaded["requirements.txt"].decode()
    assert not any(line.startswith("-c") for line in reqs.splitlines()) and "gradio==" in reqs
    assert "*.safetensors filter=lfs" in api.uploaded[".gitattributes"].decode()
    assert "published: https://huggingface.co/spaces/org/demo" in out


def test_publish_with_a_model_sets_it_and_leaves_the_weights(fake_hub, capsys):
    rc, out, err = cli(["--space", "org/demo", "--model", "org/exegan-ffhq-256", "--private"], capsys)
    assert rc == 0, err
    api = fake_hub[0]
    assert ("model_info", "org/exegan-ffhq-256") in api.calls
    assert api.calls[1][2]["private"] is True
    assert api.variables == {"EXEGAN_MODEL": "org/exegan-ffhq-256", "EXEGAN_APP_LOCK_MODEL": "1"}
    assert space.BUNDLED_WEIGHTS not in api.uploaded and "app.py" in api.uploaded
    assert set(api.uploaded) == {e.path for e in space.make_plan("org/demo", model="org/m").files}


def test_publish_refuses_a_model_repo_not_in_exegan_format(monkeypatch, capsys):
    made = []
    monkeypatch.setattr(space, "HfApi", lambda token=None: made.append(FakeApi(token, model_files=("a.bin",)))
                        or made[-1])
    monkeypatch.setenv("HF_TOKEN", "hf_fake")
    rc, _, err = cli(["--space", "org/demo", "--model", "org/other"], capsys)
    assert rc == 2 and "not an exegan model" in err
    assert [c[0] for c in made[0].calls] == ["model_info"]  # nothing created or uploaded


def test_upload_without_a_token_is_refused_before_any_network_call(monkeypatch, tmp_path, capsys):
    import huggingface_hub.constants

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))

    def no_api(*a, **k):
        raise AssertionError("HfApi must not be created without a token")

    monkeypatch.setattr(space, "HfApi", no_api)
    rc, out, err = cli(["--space", "org/demo"], capsys)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "token" in err and "--dry-run" in err
