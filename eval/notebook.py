"""Execute the comparison notebook on finished runs: ``python -m eval.notebook RESULTS.json [...] [--out NB]``.

Runs ``eval/compare_methods.ipynb`` top to bottom with ``nbclient`` on a kernel of *this* interpreter (a temporary
kernel spec, so no ``jupyter kernelspec install`` is needed) and writes the executed copy with its outputs (tables,
plots, sample grids) to ``--out`` (default: the notebook itself, so GitHub and the Hub show the figures). Needs
``nbclient``, ``nbformat``, ``ipykernel`` and ``matplotlib``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["NOTEBOOK", "execute", "main"]

NOTEBOOK = Path(__file__).resolve().parent / "compare_methods.ipynb"
KERNEL = "exegan-eval"


def execute(results: list[str | os.PathLike], out: str | os.PathLike = NOTEBOOK, *, notebook: str | os.PathLike = NOTEBOOK,
            figures: str | os.PathLike | None = None, timeout: int = 600) -> Path:
    """Execute ``notebook`` on the ``results.json`` files (``EXEGAN_EVAL_RESULTS``) and save it to ``out``;
    ``figures``: also save every figure there as PNG (``EXEGAN_EVAL_FIGURES``). The working directory of the
    kernel is the repository root. Returns ``out``."""
    import nbclient
    import nbformat

    paths = [Path(p).resolve() for p in results]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"no results.json at {', '.join(missing)}: run python -m eval.run first")
    nb = nbformat.read(notebook, as_version=4)
    saved = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "EXEGAN_EVAL_RESULTS", "EXEGAN_EVAL_FIGURES",
                                            "MPLBACKEND")}
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "kernels" / KERNEL
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3", "language": "python"}))
        os.environ.update(JUPYTER_PATH=os.pathsep.join(filter(None, [tmp, saved["JUPYTER_PATH"]])),
                          EXEGAN_EVAL_RESULTS=os.pathsep.join(os.path.relpath(p) for p in paths),
                          MPLBACKEND="module://matplotlib_inline.backend_inline")
        if figures:
            os.environ["EXEGAN_EVAL_FIGURES"] = str(figures)
        else:
            os.environ.pop("EXEGAN_EVAL_FIGURES", None)
        try:
            nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=timeout,
                                    resources={"metadata": {"path": os.getcwd()}}).execute()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    out = Path(out)
    nbformat.write(nb, out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.notebook", description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="+", help="results.json files of python -m eval.run (one curve set each)")
    p.add_argument("--out", default=str(NOTEBOOK), help="where the executed notebook goes (default: in place)")
    p.add_argument("--figures", default=None, help="also save every figure as PNG in this folder")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    args = p.parse_args(argv)
    if not 1 <= args.timeout <= 86400:
        p.error(f"--timeout must be in 1-86400, got {args.timeout}")
    print(f"wrote {execute(args.results, args.out, figures=args.figures, timeout=args.timeout)}")
    return 0


if __name__ == "__main__":
    from exegan.errors import run_cli

    raise SystemExit(run_cli(main))
