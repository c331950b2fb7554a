"""Publish the demo as a Hugging Face Space (Gradio SDK) from this project checkout.

    python -m exegan.space --space your-org/exegan-demo --dry-run          # what would be uploaded; sends nothing
    python -m exegan.space --space your-org/exegan-demo [--model your-org/exegan-ffhq-256] [--private]

Uploads app.py, exegan/, assets/ (without the bundled weights when ``--model`` is given), README.md (its YAML front
matter is the Space config, checked here first), LICENSE, constraints.txt and requirements.txt, and nothing else
(no .venv, runs/, tests/, train/, eval/, notebooks, caches). Two files are written for the Space rather than copied:

- ``requirements.txt`` with the pins of constraints.txt written in: a Space installs only requirements.txt (its build
  mounts that one file), so the checkout's ``-c constraints.txt`` line would not find its file there;
- ``.gitattributes`` with the Space's LFS rules (:data:`LFS_PATTERNS`, plus any other file over 10 MB): the Hub
  refuses large and binary files pushed without LFS/Xet. This checkout's own .gitattributes has no LFS filter on
  purpose (see that file).

The Space's files become exactly this list (files a previous upload left there are deleted). Space variables:
``EXEGAN_APP_LOCK_MODEL=1`` (visitors cannot switch the shared model, whatever else is set) and, with ``--model``,
``EXEGAN_MODEL`` (without it, a leftover ``EXEGAN_MODEL`` is removed so the bundled model is served).
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import HfApi
from huggingface_hub.utils import filter_repo_objects

PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""The checkout this module belongs to (the folder above the ``exegan`` package)."""

TOP_FILES = ("app.py", "README.md", "LICENSE", "requirements.txt", "constraints.txt")
TOP_DIRS = ("exegan", "assets")
NEEDED = ("app.py", "README.md", "requirements.txt", "constraints.txt", "exegan/__init__.py", "exegan/demo.py")
"""What the Space cannot start without (app.py imports exegan.demo; the README is its config)."""
BUNDLED_WEIGHTS = "assets/default-model/model.safetensors"
GENERATED = (".gitattributes", "requirements.txt")
"""Files written for the Space instead of copied from the checkout."""

ALLOW_PATTERNS = (*TOP_FILES, ".gitattributes", "exegan/*", "assets/*")
"""``upload_folder`` patterns (``fnmatch``; ``*`` also matches ``/``): the only paths that may be uploaded..."""
IGNORE_PATTERNS = ("*__pycache__*", "*.pyc", "*.pyo", "*.ipynb", "*/.*", "*.egg-info*")
"""...minus caches, notebooks and hidden files/folders below the top level (.ipynb_checkpoints, .DS_Store)."""

LFS_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.onnx",
                "*.png", "*.jpg", "*.jpeg", "*.webp", "*.gif")
"""Tracked by LFS in the Space (its .gitattributes); the repository's .gitattributes marks the same as binary."""
LFS_MIN_BYTES = 10 * 1000 * 1000
"""Files from this size on go through LFS whatever their type (the Hub refuses >10 MB without LFS)."""

MAX_FILES = 1000
MAX_TOTAL_BYTES = 1 << 30
MAX_TEXT_BYTES = 1 << 20
"""Bounds: files and bytes per upload (the project uploads ~50 files, ~20 MB); README / requirements size."""

SPACE_COLORS = ("red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray")
SHORT_DESCRIPTION_MAX = 60
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
_NAME = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?(.*)")
LOCK_VARIABLE, MODEL_VARIABLE = "EXEGAN_APP_LOCK_MODEL", "EXEGAN_MODEL"


# ------------------------------------------------------------------------------------------------ the plan
@dataclass(frozen=True)
class Entry:
    """One file of the Space: its path there, size, whether it goes through LFS, and where it comes from (a file
    of the checkout, or ``content`` written for the Space)."""
    path: str
    size: int
    lfs: bool
    source: Path | None = None
    content: bytes | None = None


@dataclass
class Plan:
    """Everything a publish does, computed offline: printed by ``--dry-run``, carried out by :func:`publish`."""
    root: Path
    space: str
    model: str | None
    private: bool
    files: list[Entry]
    variables: dict[str, str]
    front_matter: str
    ignore_patterns: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.files)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _read_text(path: Path) -> str:
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise ValueError(f"{path}: larger than {MAX_TEXT_BYTES >> 20} MiB, not a README / requirements file")
    return path.read_text(encoding="utf-8")


def check_root(root: Path) -> Path:
    """``root`` resolved, or a ValueError naming what a Space needs and the folder lacks."""
    root = Path(root).expanduser().resolve()
    if not (root / "app.py").is_file() or not (root / "README.md").is_file():
        raise ValueError(f"{root} is not an exegan project checkout (no app.py / README.md there; exegan installed "
                         "from a wheel has no demo to publish): pass --root with the folder that holds app.py")
    missing = [n for n in NEEDED if not (root / n).is_file()]
    if missing:
        raise ValueError(f"{root}: missing {', '.join(missing)}, which the Space needs")
    return root


def check_repo_id(value: str, flag: str) -> str:
    value = (value or "").strip()
    if not _REPO_ID.fullmatch(value) or ".." in value or "--" in value or value.endswith((".", "-")):
        raise ValueError(f"{flag} {value!r}: need a Hugging Face repo id of the form org/name")
    return value


def ignore_patterns(model: str | None) -> list[str]:
    """The ignore patterns of an upload (without the bundled weights when another model is served)."""
    return [*IGNORE_PATTERNS, *([BUNDLED_WEIGHTS] if model else [])]


def select_files(root: Path, ignore: list[str]) -> list[str]:
    """Paths (posix, relative to ``root``) that ``upload_folder`` with :data:`ALLOW_PATTERNS` and ``ignore`` would
    take from ``root``: the same filter, on a walk of only the allowed places (never .venv or runs/)."""
    from huggingface_hub.utils._paths import DEFAULT_IGNORE_PATTERNS

    found = [n for n in (*TOP_FILES, ".gitattributes") if (root / n).is_file()]
    for top in TOP_DIRS:
        for dirpath, dirnames, filenames in os.walk(root / top):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
            found += [(Path(dirpath) / f).relative_to(root).as_posix() for f in sorted(filenames)]
            if len(found) > MAX_FILES:
                raise ValueError(f"{root / top}: more than {MAX_FILES} files to upload; is this the project "
                                 "checkout?")
    return sorted(filter_repo_objects(found, allow_patterns=list(ALLOW_PATTERNS),
                                      ignore_patterns=[*ignore, *DEFAULT_IGNORE_PATTERNS]))


def is_lfs(path: str, size: int) -> bool:
    """Whether the Space stores ``path`` through LFS: big, or of a type in :data:`LFS_PATTERNS` (patterns without a
    slash match the file name at any depth, as in .gitattributes)."""
    name = path.rsplit("/", 1)[-1]
    return size >= LFS_MIN_BYTES or any(fnmatch.fnmatchcase(name, p) for p in LFS_PATTERNS)


def gitattributes(paths_sizes: list[tuple[str, int]]) -> str:
    """The Space's .gitattributes: :data:`LFS_PATTERNS` plus each other file of ``LFS_MIN_BYTES`` or more."""
    lines = ["# Written by `python -m exegan.space`: what this Space stores through LFS/Xet.",
             *(f"{p} filter=lfs diff=lfs merge=lfs -text" for p in LFS_PATTERNS)]
    for path, size in paths_sizes:
        name = path.rsplit("/", 1)[-1]
        if size >= LFS_MIN_BYTES and not any(fnmatch.fnmatchcase(name, p) for p in LFS_PATTERNS):
            lines.append(f"/{path.replace(' ', '[[:space:]]')} filter=lfs diff=lfs merge=lfs -text")
    return "\n".join(lines) + "\n"


def space_requirements(requirements: str, constraints: str) -> str:
    """requirements.txt for the Space: every unpinned requirement gets its ``==`` pin from ``constraints``, and
    the ``-c constraints.txt`` line goes (a Space's build sees only requirements.txt). Another ``-r`` / ``-c`` file
    is refused: the Space could not read it either."""
    pins = {}
    for line in constraints.splitlines():
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)", line)
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    out = ["# Written by `python -m exegan.space` from requirements.txt with the pins of constraints.txt: a Space",
           "# installs only this file."]
    for line in requirements.splitlines():
        hash_ = re.search(r"(^|\s)#", line)
        body, comment = (line[:hash_.start()].strip(), line[hash_.end():]) if hash_ else (line.strip(), "")
        if not body:
            continue  # blank and comment lines (the checkout's speak of constraints.txt, which is not used here)
        option = re.match(r"(-c|--constraint|-r|--requirement)(?:\s+|=)(\S+)$", body)
        if option:
            if option.group(1) in ("-c", "--constraint") and Path(option.group(2)).name == "constraints.txt":
                continue  # written in below
            raise ValueError(f"requirements.txt: '{body}' names a file a Space cannot read; list the packages "
                             "directly")
        m = _NAME.fullmatch(body)
        if body.startswith("-") or not m or "@" in body or "://" in body:
            out.append(line)  # pip options, URLs, paths: as they are
            continue
        name, extras, rest = m.group(1), m.group(2) or "", m.group(3)
        pin = pins.get(_norm(name))
        if pin and not rest.strip().startswith(("=", "<", ">", "!", "~")):
            body = f"{name}{extras}=={pin}{rest}"
        out.append(body + (f"  #{comment}" if comment else ""))
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------------ the Space config
def front_matter(readme: str, path: str = "README.md") -> tuple[str, dict]:
    """The YAML between the ``---`` lines that open ``readme`` (text, parsed), or a ValueError."""
    lines = readme.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ValueError(f"{path}: no Space config: the file must start with a '---' line opening the YAML front "
                         "matter")
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        raise ValueError(f"{path}: the YAML front matter has no closing '---' line") from None
    text = "\n".join(lines[1:end])
    try:
        import yaml
    except ImportError:
        raise ImportError("reading the Space config needs PyYAML: pip install 'exegan[app]'") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 2})" if where is not None else ""
        raise ValueError(f"{path}: the front matter is not valid YAML{line}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the front matter must be a YAML mapping of fields")
    return text, data


def pinned_gradio(constraints: str) -> str | None:
    m = re.search(r"^\s*gradio\s*==\s*([^\s;#]+)", constraints, flags=re.MULTILINE)
    return m.group(1) if m else None


def validate_front_matter(meta: dict, gradio_pin: str | None, path: str = "README.md") -> None:
    """Check the fields a Gradio Space of this project needs; a ValueError names the first bad field."""
    def bad(key: str, why: str) -> ValueError:
        return ValueError(f"{path} front matter: {key} {why}")

    for key in ("title", "emoji", "colorFrom", "colorTo", "sdk", "sdk_version", "app_file"):
        if key not in meta:
            raise bad(key, "is missing")
    for key in ("title", "emoji", "sdk", "sdk_version", "app_file"):
        if not isinstance(meta[key], str) or not meta[key].strip():
            raise bad(key, "must be a non-empty string (quote it)")
    if "\n" in meta["title"] or len(meta["title"]) > 100:
        raise bad("title", "must be one line of at most 100 characters")
    if len(meta["emoji"]) > 16 or any(c.isascii() for c in meta["emoji"]):
        raise bad("emoji", "must be one emoji")
    for key in ("colorFrom", "colorTo"):
        if meta[key] not in SPACE_COLORS:
            raise bad(key, f"must be one of {', '.join(SPACE_COLORS)} (got {meta[key]!r})")
    if meta["sdk"] != "gradio":
        raise bad("sdk", f"must be gradio (got {meta['sdk']!r})")
    if meta["app_file"] != "app.py":
        raise bad("app_file", f"must be app.py, the demo (got {meta['app_file']!r})")
    if gradio_pin is None:
        raise bad("sdk_version", "cannot be checked: constraints.txt pins no gradio version (gradio==X.Y.Z)")
    if meta["sdk_version"] != gradio_pin:
        raise bad("sdk_version", f"is {meta['sdk_version']!r} but constraints.txt pins gradio=={gradio_pin}; make "
                                 "them equal")
    if "pinned" in meta and not isinstance(meta["pinned"], bool):
        raise bad("pinned", "must be true or false")
    if "license" in meta and not (isinstance(meta["license"], str)
                                  and re.fullmatch(r"[a-z0-9][a-z0-9._+-]{0,63}", meta["license"])):
        raise bad("license", "must be a Hub licence id such as mit, apache-2.0 or other")
    if "python_version" in meta and not (isinstance(meta["python_version"], str)
                                         and re.fullmatch(r"3\.\d{1,2}(\.\d{1,2})?", meta["python_version"])):
        raise bad("python_version", "must be a quoted version such as \"3.11\" (unquoted, 3.10 reads as 3.1)")
    if "short_description" in meta and not (isinstance(meta["short_description"], str)
                                            and len(meta["short_description"]) <= SHORT_DESCRIPTION_MAX):
        raise bad("short_description", f"must be text of at most {SHORT_DESCRIPTION_MAX} characters")


# ------------------------------------------------------------------------------------------------ build, show, publish
def make_plan(space: str, *, model: str | None = None, private: bool = False, root: Path | str | None = None) -> Plan:
    """Check the inputs and the checkout and list what a publish uploads and sets; reads files only."""
    space = check_repo_id(space, "--space")
    if model is not None:
        if Path(model).expanduser().exists() or model.startswith((".", "/", "~")):
            raise ValueError(f"--model {model!r}: the Space cannot read a local folder; give a Hub model repo id "
                             "(upload one with python -m exegan.convert ... --push-to-hub org/name)")
        model = check_repo_id(model, "--model")
    root = check_root(Path(root) if root is not None else PROJECT_ROOT)
    readme, constraints = _read_text(root / "README.md"), _read_text(root / "constraints.txt")
    text, meta = front_matter(readme)
    validate_front_matter(meta, pinned_gradio(constraints))

    if model is None and not (root / BUNDLED_WEIGHTS).is_file():
        raise ValueError(f"{root / BUNDLED_WEIGHTS}: missing, and no --model: the Space would have no model to serve")
    ignore = ignore_patterns(model)
    paths = select_files(root, ignore)
    sizes = {p: (root / p).stat().st_size for p in paths if p not in GENERATED}
    reqs = space_requirements(_read_text(root / "requirements.txt"), constraints).encode()
    sizes["requirements.txt"] = len(reqs)
    attrs = gitattributes(sorted(sizes.items())).encode()
    sizes[".gitattributes"] = len(attrs)
    generated = {"requirements.txt": reqs, ".gitattributes": attrs}
    files = [Entry(p, n, is_lfs(p, n), None if p in generated else root / p, generated.get(p))
             for p, n in sorted(sizes.items())]
    if len(files) > MAX_FILES or sum(e.size for e in files) > MAX_TOTAL_BYTES:
        raise ValueError(f"{root}: the upload would exceed {MAX_FILES} files / {MAX_TOTAL_BYTES >> 20} MiB")
    variables = {LOCK_VARIABLE: "1", **({MODEL_VARIABLE: model} if model else {})}
    return Plan(root, space, model, private, files, variables, text, ignore)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def describe(plan: Plan) -> str:
    """The dry run's report: files with sizes and LFS marks, total, variables, Space config."""
    lfs = [e for e in plan.files if e.lfs]
    out = [f"Space {plan.space}: Gradio SDK, {'private' if plan.private else 'public'} when created "
           f"(https://huggingface.co/spaces/{plan.space})",
           f"Upload from {plan.root}: {len(plan.files)} files, {_mb(plan.total_bytes)} "
           f"(the Space's files become exactly these; files not listed are deleted there)"]
    for e in plan.files:
        note = "  (written for the Space)" if e.content is not None else ""
        out.append(f"  {'LFS' if e.lfs else '   '} {e.size:>12,}  {e.path}{note}")
    out.append(f"Total: {len(plan.files)} files, {plan.total_bytes:,} bytes")
    out.append(f"Through LFS: {len(lfs)} files, {sum(e.size for e in lfs):,} bytes (marked LFS: "
               f"{LFS_MIN_BYTES // 10**6} MB or more, or {' '.join(LFS_PATTERNS)})")
    if plan.model:
        out.append(f"Not uploaded: {BUNDLED_WEIGHTS} (the Space serves {plan.model})")
    out.append("Space variables:")
    out += [f"  {k}={v}" for k, v in plan.variables.items()]
    if not plan.model:
        out.append(f"  ({MODEL_VARIABLE} is removed if set: the Space serves the bundled model)")
    out.append("Space config (README.md front matter, valid):")
    out += [f"  {line}" for line in plan.front_matter.splitlines()]
    return "\n".join(out)


def stage(plan: Plan, folder: Path) -> None:
    """Write the plan's files into ``folder`` (copies, and the files written for the Space)."""
    for e in plan.files:
        dest = folder / e.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        if e.content is not None:
            dest.write_bytes(e.content)
        else:
            shutil.copyfile(e.source, dest)


def _check_model(api, model: str) -> None:
    """The model repo exists, is readable with this token and is in exegan's format; warn when private/gated."""
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        info = api.model_info(model)
    except RepositoryNotFoundError:
        raise ValueError(f"--model {model}: no such model repo on the Hub, or this token cannot read it") from None
    names = {s.rfilename for s in (getattr(info, "siblings", None) or [])}
    if not {"config.json", "model.safetensors"} <= names:
        raise ValueError(f"--model {model}: not an exegan model (needs config.json and model.safetensors; convert "
                         "the authors' files with python -m exegan.convert ... --push-to-hub)")
    if getattr(info, "private", False) or getattr(info, "gated", False):
        print(f"warning: {model} is private or gated: add a Space secret HF_TOKEN that can read it, or the Space "
              "cannot load its model", file=sys.stderr)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's connection / timeout errors (huggingface_hub 2.x uses httpx2, older ones httpx)."""
    import importlib

    found = []
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(found) or (OSError,)


def publish(plan: Plan, api, out=print) -> str:
    """Create the Space if needed, set its variables, upload the plan's files (one commit); the Space's URL.
    ``api``: a :class:`huggingface_hub.HfApi` holding the token."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        if plan.model:
            _check_model(api, plan.model)
        api.create_repo(plan.space, repo_type="space", space_sdk="gradio", private=plan.private, exist_ok=True)
        if not plan.model and MODEL_VARIABLE in (api.get_space_variables(plan.space) or {}):
            api.delete_space_variable(plan.space, MODEL_VARIABLE)
            out(f"removed the Space variable {MODEL_VARIABLE}")
        descriptions = {LOCK_VARIABLE: "exegan: 1 = visitors cannot switch the shared model",
                        MODEL_VARIABLE: "exegan: the Hub model repo the demo serves"}
        for key, value in plan.variables.items():
            api.add_space_variable(plan.space, key, value, description=descriptions[key])
            out(f"set the Space variable {key}={value}")
        with tempfile.TemporaryDirectory(prefix="exegan-space-") as tmp:
            stage(plan, Path(tmp))
            out(f"uploading {len(plan.files)} files ({_mb(plan.total_bytes)})...")
            api.upload_folder(repo_id=plan.space, repo_type="space", folder_path=tmp,
                              allow_patterns=list(ALLOW_PATTERNS), ignore_patterns=list(plan.ignore_patterns),
                              delete_patterns="*", commit_message="Publish the exegan demo (python -m exegan.space)")
    except HfHubHTTPError:
        raise  # the Hub's answer (an OSError: one line from run_cli)
    except _transport_errors() as err:  # no connection, timeout: one line too
        raise OSError(f"could not reach the Hugging Face Hub ({type(err).__name__}: {err})") from None
    url = f"https://huggingface.co/spaces/{plan.space}"
    out(f"published: {url} (the Space builds and starts in a few minutes)")
    return url


def resolve_token(token: str | None) -> str:
    """``--token``, else ``HF_TOKEN``, else huggingface_hub's stored login; a ValueError when there is none."""
    token = (token or "").strip()
    if not token:
        from huggingface_hub import get_token

        token = (get_token() or "").strip()
    if not token:
        raise ValueError("no Hugging Face token: set HF_TOKEN, run `hf auth login`, or pass --token (with write "
                         "access to the Space's owner); --dry-run shows the upload without one")
    return token


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m exegan.space", description=__doc__.split("\n\n")[0])
    p.add_argument("--space", required=True, metavar="ORG/NAME",
                   help="the Space to create or update, e.g. your-org/exegan-demo")
    p.add_argument("--model", default=None, metavar="ORG/MODEL",
                   help="a Hub model repo in exegan's format for the Space to serve (sets EXEGAN_MODEL; the bundled "
                        "weights are then not uploaded); default: the bundled default model")
    p.add_argument("--private", action="store_true",
                   help="create the Space private (applies when it is created; an existing Space keeps its "
                        "visibility)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the files (sizes, LFS), variables and Space config that would be published; send "
                        "nothing (no token needed)")
    p.add_argument("--token", default=None,
                   help="Hugging Face token with write access (default: $HF_TOKEN, then the stored `hf auth login`; "
                        "prefer those: a flag is visible to other users of this machine)")
    p.add_argument("--root", default=None, metavar="DIR",
                   help=f"the project checkout to upload (default: {PROJECT_ROOT}, the folder above the exegan "
                        "package)")
    args = p.parse_args(argv)
    plan = make_plan(args.space, model=args.model, private=args.private, root=args.root)
    if args.dry_run:
        print(describe(plan))
        print("dry run: nothing was sent")
        return 0
    token = resolve_token(args.token)
    publish(plan, HfApi(token=token))
    return 0


if __name__ == "__main__":
    from .errors import run_cli

    sys.exit(run_cli(main))
