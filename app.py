"""Gradio demo of exegan (also the Hugging Face Space's entry point): ``python app.py``.

Paint over part of a face photo, give exemplar faces, get several completions. This file is the Gradio layer
only: it lays out the page, turns the controls into an ``exegan.demo.InpaintRequest``, shows the outcome, and turns
``exegan.demo.DemoError`` into ``gr.Error``. The logic lives in ``exegan/demo.py`` (requests, the model manager,
runs; no Gradio needed) and ``exegan/align.py`` (detection, alignment, paste-back). Importing this file builds the
page but loads no model (the model loads on first use, or at start-up under ``python app.py``).

Environment: ``EXEGAN_MODEL`` (model folder or Hub repo id; default: the bundled ``assets/default-model``),
who may switch the shared model (``exegan.demo.model_switch_policy``: nobody by default; ``EXEGAN_MODELS``, a
comma-separated list of presets visitors may choose from; ``EXEGAN_APP_ALLOW_MODEL_SWITCH=1``, any folder or repo,
for your own machine; ``EXEGAN_APP_LOCK_MODEL=1`` forces nobody),
``EXEGAN_DEVICE`` / ``EXEGAN_PRECISION`` (default ``auto``: bf16 where the hardware computes it natively),
``EXEGAN_APP_CONCURRENCY`` (parallel inference jobs, default 1),
and Gradio's own ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import gradio as gr
from gradio.data_classes import FileData
from PIL import Image

from exegan import demo as core
from exegan.align import DetectorUnavailable, default_detector
from exegan.images import MAX_PIXELS

EXAMPLES = Path(__file__).resolve().parent / "assets" / "examples"
MANAGER = core.ModelManager()
MAX_LATENTS = 18  # slider bounds before the model is known (pSp has 18 codes); page load narrows them

INTRO = """# EXE-GAN · exemplar-guided face inpainting
**1.** Upload (or paste, or take with the webcam) a face photo and **paint over the part to replace** — or upload a
mask picture (white = fill). **2.** Give an **exemplar** face: the filled region takes its attributes (eyes,
glasses, beard, expression…). **3.** Press **Generate**: several different completions; pixels outside the mask
never change. Works best on face crops; other photos are detected, aligned and pasted back automatically."""


# ------------------------------------------------------------------------------------------------ handlers
# The signatures name the API's parameters (gradio_client keyword arguments); those of /inpaint and /mixing_sweep
# are fields of core.InpaintRequest, and the components are wired to them by these names (build_demo).
NOT_API = ("progress", "request")  # handler parameters Gradio fills itself (gr.Progress, gr.Request)


class Failures:
    """The last error message of each browser session, kept until :meth:`pop` shows it in the page's status (a
    toast alone is easy to miss). Bounded: the oldest sessions' messages are dropped past ``limit``."""

    def __init__(self, limit: int = 1024):
        self.limit, self._lock, self._messages = limit, threading.Lock(), OrderedDict()

    def put(self, request: gr.Request | None, message: str) -> None:
        key = getattr(request, "session_hash", None)
        if key is None:  # API calls without a session: the error reaches the client, nothing to show later
            return
        with self._lock:
            self._messages[key] = message
            self._messages.move_to_end(key)
            while len(self._messages) > self.limit:
                self._messages.popitem(last=False)

    def pop(self, request: gr.Request | None) -> str | None:
        with self._lock:
            return self._messages.pop(getattr(request, "session_hash", None), None)


FAILURES = Failures()


def user_errors(handler):
    """Show the library's :class:`core.DemoError` as a Gradio error (a modal in the page that stays until closed,
    ``AppError`` in gradio_client), and keep the message for the session (its ``request`` argument) so the page's
    status can show it too (:func:`show_failure`). The only place where it is converted, so its message reaches
    the user verbatim."""
    signature = inspect.signature(handler)

    @functools.wraps(handler)
    def wrapped(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except core.DemoError as err:
            FAILURES.put(signature.bind_partial(*args, **kwargs).arguments.get("request"), str(err))
            raise gr.Error(str(err), duration=None, print_exception=False) from None
    return wrapped


def show_failure(request: gr.Request):
    """After a failed request: its message as the status, marked as an error (unchanged when there is none)."""
    message = FAILURES.pop(request)
    return gr.update() if message is None else f"❌ {message}"


def request_from(values: dict) -> core.InpaintRequest:
    """A handler's arguments (``locals()``, named like the request's fields) -> the request; omitted fields keep
    their defaults, an unknown name is a TypeError."""
    return core.InpaintRequest(**{k: v for k, v in values.items() if k not in NOT_API})


def api_parameters(handler) -> list[str]:
    """The names of a handler's API parameters, in order: its signature without those Gradio fills itself."""
    return [name for name in inspect.signature(handler).parameters if name not in NOT_API]


# --------------------------------------------------------------------------------------- uploads Gradio can't read
def pass_unreadable(component):
    """Gradio decodes uploaded pictures before a handler runs and answers a file it cannot decode with a generic
    "Could not preprocess input component at index N" message. A component passed through here hands such a file
    to the handler as it is (its path, or bytes from the editor's canvas), where exegan's readers name the input
    and the problem. (Done on the instance: subclassing a Gradio component writes a .pyi stub next to app.py.)"""
    if isinstance(component, gr.ImageEditor):
        decode = component.convert_and_format_image

        def convert_and_format_image(file, flatten_on_white: bool = False):
            try:
                return decode(file, flatten_on_white)
            except Exception:  # any decoding failure: the handler reports it (exegan.demo.read_photo_and_mask)
                return file.path if isinstance(file, FileData) else bytes(file)
        component.convert_and_format_image = convert_and_format_image
    else:
        preprocess = component.preprocess

        def preprocess_or_pass(payload):
            try:
                return preprocess(payload)
            except Exception:  # any decoding failure: the handler reports it (exegan.demo.read_exemplars, ...)
                return payload.path if payload is not None and payload.path else None
        component.preprocess = preprocess_or_pass
    return component


RESULTS_DIR = Path(tempfile.mkdtemp(prefix="exegan-results-"))  # one subfolder per request, the newest kept
KEEP_REQUESTS = 64


class ServedFiles:
    """One request's pictures, written as PNG files into a folder of its own (older requests' folders are removed,
    the newest ``KEEP_REQUESTS`` kept). Every picture a handler returns goes out as such a file, never as a PIL
    image: Gradio caches a returned PIL image under the hash of its bytes and rewrites that file in place, so two
    requests returning the same picture (the masked input of the same example, the same photo) could empty the
    file while the other's browser is downloading it; a returned file is copied into the cache atomically."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(dir=RESULTS_DIR))
        for old in sorted(RESULTS_DIR.iterdir(), key=lambda p: p.stat().st_mtime)[:-KEEP_REQUESTS]:
            if old != self.folder:
                shutil.rmtree(old, ignore_errors=True)

    def __call__(self, image: Image.Image | None, name: str) -> str | None:
        """``image`` as ``<folder>/<name>`` (PNG, lossless; fast to write, Gradio serves it as it is)."""
        if image is None:
            return None
        path = self.folder / name
        image.save(path, compress_level=1)
        return str(path)

    def editor(self, value: dict) -> dict:
        """An image-editor value (background, layers, composite) with its pictures as files."""
        return {"background": self(value["background"], "background.png"),
                "layers": [self(layer, f"layer_{i}.png") for i, layer in enumerate(value["layers"])],
                "composite": self(value["composite"], "composite.png")}


def named_results(out: core.Outcome, files: ServedFiles) -> list[tuple[str, str]]:
    """The gallery as (PNG file, caption) pairs: files named as the outcome says (``photo_e1_s42.png``), so a
    download keeps the exemplar and the seed that regenerates it."""
    names = out.names if len(out.names) == len(out.images) else [f"photo_{i + 1}.png" for i in range(len(out.images))]
    return [(files(image, name), caption) for image, name, caption in zip(out.images, names, out.captions)]


def outputs(out: core.Outcome, stages: core.Stages, files: ServedFiles) -> tuple:
    """An outcome -> (gallery, masked input, (original, first result) for the comparison slider, status, aligned
    face crop, original photo for the gallery's select handler, first result's file for "use as photo"), every
    picture a file of ``files``. Writing them is the request's last timed stage, so the status's time is end to
    end."""
    stages("save")
    gallery = named_results(out, files)
    original = files(out.photo, "original.png")
    masked, aligned = files(out.masked, "masked_input.png"), files(out.aligned_view, "aligned_face.png")
    stages.finish()
    out = replace(out, seconds=stages.total, timings=dict(stages.seconds))
    return gallery, masked, (original, gallery[0][0]), out.status, aligned, original, gallery[0][0]


@user_errors
def inpaint(photo, mask_image, exemplar, exemplar_b, more_exemplars, n_samples, seed, truncation, strength,
            custom_phi, phi_latents, mode, crossover, align, face, align_exemplars, fit, progress=gr.Progress(),
            request: gr.Request = None):
    """Fill the painted (or uploaded) mask of `photo` guided by the exemplar(s); returns the results gallery, the
    masked input, (original, first result), a status text and the aligned face crop (None without alignment)."""
    inputs = request_from(locals())
    stages = core.Stages(progress)
    out = core.inpaint(MANAGER, inputs, notify=gr.Warning, stages=stages)
    return outputs(out, stages, ServedFiles())


@user_errors
def mixing_sweep(photo, mask_image, exemplar, exemplar_b, seed, truncation, strength, custom_phi, phi_latents,
                 align, face, align_exemplars, fit, progress=gr.Progress(), request: gr.Request = None):
    """Render every style-mixing crossover between exemplars A and B (one result per crossover, and a strip)."""
    inputs = request_from(locals())
    stages = core.Stages(progress)
    out = core.mixing_sweep(MANAGER, inputs, notify=gr.Warning, stages=stages)
    files = ServedFiles()
    gallery, masked, comparison, status, aligned, original, chosen = outputs(out, stages, files)
    return gallery, masked, comparison, files(core.strip(out.images), "crossover_strip.png"), status, aligned, \
        original, chosen


@user_errors
def use_as_photo(chosen):
    """The chosen result (the gallery's selection, else its first image) as the editor's new photo, with nothing
    painted on it: edit a result again, e.g. another part with another exemplar."""
    if not chosen:
        raise core.DemoError("Generate results first, then pick the one to edit further.")
    return {"background": chosen, "layers": [], "composite": chosen}


@user_errors
def detect_faces(photo, request: gr.Request = None):
    """Detect the faces of the photo: face list (largest first), preview with numbered boxes, message."""
    found = core.find_faces(photo, notify=gr.Warning)
    return (gr.update(choices=found.choices, value=0 if found.choices else None),
            ServedFiles()(found.preview, "detected_faces.png"), found.message)


@user_errors
def add_region(photo, region, face, request: gr.Request = None):
    """Add a face part (eyes, brows, nose, mouth, lower_face or face), located from the landmarks of face `face`
    (default the largest), to the photo's painted mask; returns the editor value, a message, and clears the
    part selector."""
    value, message = core.add_region(photo, region, face, notify=gr.Warning)
    return ServedFiles().editor(value), message, None


def random_seed():
    """A new random seed."""
    return core.random_seed()


def control_updates(manager: core.ModelManager):
    """Model info + the ranges of the controls that depend on the model (strength, latents, crossover); the
    controls stay as they are while no model is loaded."""
    try:
        model = manager.get()
    except core.ModelUnavailable:
        return manager.describe(), gr.update(), gr.update(), gr.update()
    limit, k = core.phi_limit(model), core.default_strength(model)
    return (manager.describe(), gr.update(maximum=limit, value=k),
            gr.update(choices=core.latent_choices(model), value=model.resolve_phi(None)),
            gr.update(maximum=limit, value=k // 2))


def model_info():
    """The active model (name, resolution, licence) and the matching control ranges."""
    return control_updates(MANAGER)


@user_errors
def load_model(source, exe_checkpoint, psp_checkpoint):
    """Switch the model: a folder / Hub repo in exegan's format, or the authors' .pt files."""
    MANAGER.load(source, exe_checkpoint, psp_checkpoint)
    return control_updates(MANAGER)


def _show_selected(original, gallery, evt: gr.SelectData):
    """Gallery selection -> ((original, selected result) for the comparison slider, the selected result's file
    for "use as photo")."""
    if original is None or not gallery:
        return None, None
    idx = evt.index if evt is not None and isinstance(evt.index, int) else 0
    item = gallery[min(idx, len(gallery) - 1)]
    item = item[0] if isinstance(item, (tuple, list)) else item
    return (original, item), item


def _sync_latents(strength):
    """Strength slider -> the matching selection in the per-latent selector (kept in sync for display)."""
    try:
        return gr.update(value=core.selected_latents(MANAGER.get(), int(strength)))
    except (core.DemoError, TypeError, ValueError):  # no model, or no valid strength
        return gr.update()


# ------------------------------------------------------------------------------------------------ layout
def _examples() -> list[list]:
    """Example rows (photo, mask, exemplar A, exemplar B, align): first the held-out synthetic faces chosen by
    ``assets/make_synthetic_examples.py`` for the largest exemplar effect of the bundled model (listed in
    ``synthetic_examples.json``), then drawn pictures that show detection, alignment and the face chooser."""
    rows = []
    listing = EXAMPLES / "synthetic_examples.json"
    if listing.is_file():
        for ex in json.loads(listing.read_text()).get("examples", []):
            files = [EXAMPLES / ex[k] for k in ("photo", "mask", "exemplar_a", "exemplar_b")]
            if all(f.is_file() for f in files):
                rows.append([str(f) for f in files] + [False])
    e = {n: str(EXAMPLES / f"{n}.png") for n in ("exemplar_glasses", "photo_tilted", "photo_tilted_mask", "two_faces")}
    if all(os.path.isfile(p) for p in e.values()):
        rows += [[e["photo_tilted"], e["photo_tilted_mask"], e["exemplar_glasses"], None, True],
                 [e["two_faces"], None, e["exemplar_glasses"], None, True]]
    return rows


def build_demo() -> gr.Blocks:
    """The page. Control ranges come from the model when it is already loaded (``main`` loads it first, so the
    API defaults match the model); otherwise generic ones, narrowed when a page loads."""
    policy = core.model_switch_policy()
    model = MANAGER.model
    limit = core.phi_limit(model) if model else MAX_LATENTS
    k = core.default_strength(model) if model else 10
    choices = core.latent_choices(model) if model else []
    info = MANAGER.describe() if model else "Loading the model…"
    presets = core.model_presets()
    with gr.Blocks(title="EXE-GAN face inpainting", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        model_md = gr.Markdown(info, elem_id="model-info")
        with gr.Accordion("Sharper results on photos", open=False, elem_id="model-guidance"):
            gr.Markdown(core.MODEL_GUIDANCE)
        original = gr.State(None)
        chosen = gr.State(None)  # the result "use as photo" takes: the gallery's selection, else its first image
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                photo = pass_unreadable(gr.ImageEditor(
                    # type "pil" + image_mode None: Gradio hands over the decoded picture unconverted (16-bit,
                    # CMYK... are flattened by exegan.images, not clipped by PIL's convert); layers stay RGBA
                    label="Photo: paint over the region to fill", type="pil", image_mode=None,
                    sources=["upload", "clipboard", "webcam"], format="png", height=460, elem_id="photo",
                    brush=gr.Brush(default_size=24, colors=[("#ff00cc", 0.6)], color_mode="fixed"),
                    eraser=gr.Eraser(default_size=24), layers=False, transforms=["crop"]))
                part = gr.Radio([(label, key) for key, label in core.REGION_LABELS.items()], value=None,
                                label="Mask a face part in one click (then refine it with the brush)",
                                elem_id="face-parts")
                with gr.Accordion("…or upload a mask picture (white = fill)", open=False):
                    mask_image = pass_unreadable(gr.Image(
                        label="Mask (white = region to fill; combined with the painting)", type="filepath",
                        image_mode=None, sources=["upload", "clipboard"], height=200, elem_id="mask-image"))
                with gr.Row():
                    exemplar = pass_unreadable(gr.Image(
                        label="Exemplar A", type="filepath", image_mode=None, height=200,
                        sources=["upload", "clipboard", "webcam"], elem_id="exemplar-a"))
                    exemplar_b = pass_unreadable(gr.Image(
                        label="Exemplar B (optional)", type="filepath", image_mode=None, height=200,
                        sources=["upload", "clipboard", "webcam"], elem_id="exemplar-b"))
                with gr.Accordion("More exemplars", open=False):
                    more = gr.File(label="Extra exemplar faces (each gets its own results)", file_count="multiple",
                                   file_types=["image"], type="filepath")
                run = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column(scale=6):
                gallery = gr.Gallery(label="Results", columns=4,
                                     height=360, format="png", object_fit="contain", elem_id="results",
                                     buttons=["download", "download_all", "fullscreen"], interactive=False)
                with gr.Row():
                    masked = gr.Image(label="Masked input", format="png", interactive=False, height=240,
                                      elem_id="masked-input")
                    comparison = gr.ImageSlider(label="Original ↔ result", type="pil", format="png",
                                                interactive=False, max_height=240, elem_id="comparison")
                status = gr.Markdown(label="Status", elem_id="status")
                reuse = gr.Button("✏️ Edit the selected result further (it becomes the photo)", size="sm",
                                  elem_id="use-as-photo")

        with gr.Accordion("Settings", open=True):
            with gr.Row():
                n_samples = gr.Slider(1, core.MAX_SAMPLES, value=4, step=1, label="Samples per exemplar",
                                      info="Different completions for each exemplar.")
                with gr.Column(min_width=200):
                    seed = gr.Number(value=0, precision=0, minimum=0, maximum=core.MAX_SEED, label="Seed",
                                     info="Same seed + settings = same images.")
                    dice = gr.Button("🎲 Random seed", size="sm")
                truncation = gr.Slider(0.0, 1.5, value=1.0, step=0.05, label="Truncation ψ",
                                       info="Below 1: more typical, less varied; 1: no truncation.")
            strength = gr.Slider(0, limit, value=k, step=1, label="Exemplar strength",
                                 info="How many of the model's style latents the exemplar drives (the finest "
                                      "first). 0 ignores it; the default is the model's official setting; the "
                                      "maximum also copies pose and face shape.")
            with gr.Accordion("Advanced: pick the exemplar-driven latents", open=False):
                custom_phi = gr.Checkbox(False, label="Use this selection instead of the strength slider")
                phi_latents = gr.CheckboxGroup(choices=choices, value=model.resolve_phi(None) if model else [],
                                               label="Exemplar-driven latents (φ)",
                                               info="Each latent styles one resolution of the generator: coarse "
                                                    "(pose, shape) → middle (features) → fine (colour, texture).")
        with gr.Accordion("Style mixing (two exemplars)", open=False):
            mode = gr.Radio([("Each exemplar separately", core.MODE_SEPARATE),
                             ("Mix A and B", core.MODE_MIX)], value=core.MODE_SEPARATE, label="Exemplars")
            crossover = gr.Slider(0, limit, value=k // 2, step=1, label="Crossover",
                                  info="The first (coarser) exemplar-driven latents come from A, the rest from B: "
                                       "0 = all B, maximum = all A.")
            with gr.Row():
                sweep_btn = gr.Button("Sweep every crossover", elem_id="sweep")
            strip = gr.Image(label="Crossover strip (B → A)", format="png", interactive=False, elem_id="strip")
        with gr.Accordion("Face alignment", open=False):
            with gr.Row():
                align = gr.Checkbox(True, label="Detect and align the face",
                                    info="For photos that are not face crops: the face is aligned FFHQ-style, "
                                         "filled and pasted back. Turn off for ready-made face crops.")
                align_exemplars = gr.Checkbox(True, label="Align the exemplars",
                                              info="Detect the face in each exemplar and crop it the same way.")
                fit = gr.Radio(list(core.FIT_MODES), value="pad", label="Without alignment: fit the picture by",
                               info="pad (letterbox), crop (centre square) or stretch")
            with gr.Row():
                face = gr.Dropdown(choices=[], value=None, label="Face", allow_custom_value=True,
                                   info="Default: the face(s) you paint over; or 1 = the largest, 2 = the next…")
                find = gr.Button("Find faces", size="sm")
            face_msg = gr.Markdown(label="Detection")
            with gr.Row():
                face_preview = gr.Image(label="Detected faces", interactive=False, height=240)
                aligned = gr.Image(label="Aligned face, as the model sees it (last run)", interactive=False,
                                   format="png", height=240)
        with gr.Accordion("Model", open=False, visible=policy != "off"):
            gr.Markdown("One of this server's models." if policy == "presets" else
                        "A folder or Hugging Face Hub repo (`org/name`) in exegan's format, or the authors' "
                        "`EXE_GAN_model_256.pt` + `psp_ffhq_encode.pt`.")
            gr.Markdown("The switch applies to everyone using this server.")
            source = gr.Dropdown(choices=presets, value=None, allow_custom_value=policy == "any",
                                 label="Model" if policy == "presets" else "Model folder or Hub repo id")
            with gr.Row(visible=policy == "any"):
                exe = gr.Textbox(label="…or the authors' EXE_GAN_model_*.pt (path)")
                psp = gr.Textbox(label="…and psp_ffhq_encode.pt (path)")
            load_btn = gr.Button("Load model")
        rows = _examples()
        if rows:
            gr.Examples(rows, [photo, mask_image, exemplar, exemplar_b, align], elem_id="examples", label="Examples: held-out synthetic "
                        "faces chosen for a visible exemplar effect, then drawn scenes (photo, mask, A, B, align)")
        gr.Markdown("Code: MIT. Model weights carry their own licence (shown above; FFHQ-trained weights are for "
                    "non-commercial research). Do not use this to deceive: results are synthetic.")

        # the request's controls, by API parameter name: each handler takes them in the order of its signature
        controls = dict(photo=photo, mask_image=mask_image, exemplar=exemplar, exemplar_b=exemplar_b,
                        more_exemplars=more, n_samples=n_samples, seed=seed, truncation=truncation,
                        strength=strength, custom_phi=custom_phi, phi_latents=phi_latents, mode=mode,
                        crossover=crossover, align=align, face=face, align_exemplars=align_exemplars, fit=fit)
        concurrency = int(os.environ.get("EXEGAN_APP_CONCURRENCY", "1"))
        run.click(inpaint, [controls[p] for p in api_parameters(inpaint)],
                  [gallery, masked, comparison, status, aligned, original, chosen], api_name="inpaint",
                  concurrency_id="model", concurrency_limit=concurrency
                  ).failure(show_failure, None, status, api_visibility="private")
        sweep_btn.click(mixing_sweep, [controls[p] for p in api_parameters(mixing_sweep)],
                        [gallery, masked, comparison, strip, status, aligned, original, chosen],
                        api_name="mixing_sweep", concurrency_id="model", concurrency_limit=concurrency
                        ).failure(show_failure, None, status, api_visibility="private")
        reuse.click(use_as_photo, chosen, photo, api_visibility="private")
        dice.click(random_seed, None, seed, api_name="random_seed")
        part.input(add_region, [photo, part, face], [photo, status, part], api_name="add_region",
                   concurrency_limit=2).failure(show_failure, None, status, api_visibility="private")
        find.click(detect_faces, photo, [face, face_preview, face_msg], api_name="detect_faces",
                   concurrency_limit=2).failure(show_failure, None, face_msg, api_visibility="private")
        photo.upload(detect_faces, photo, [face, face_preview, face_msg], api_visibility="private",
                     concurrency_limit=2).failure(show_failure, None, face_msg, api_visibility="private")
        gallery.select(_show_selected, [original, gallery], [comparison, chosen], api_visibility="private")
        strength.release(_sync_latents, strength, phi_latents, api_visibility="private")
        load_btn.click(load_model, [source, exe, psp], [model_md, strength, phi_latents, crossover],
                       api_name="load_model", concurrency_id="model", concurrency_limit=concurrency)
        demo.load(model_info, None, [model_md, strength, phi_latents, crossover], api_name="model_info")
    demo.queue(max_size=int(os.environ.get("EXEGAN_APP_QUEUE", "32")))
    return demo


LAUNCH_KWARGS = dict(show_error=True, max_file_size="25mb", theme=gr.themes.Soft())

demo = build_demo()


def main() -> None:
    from PIL import Image

    # PIL refuses to decode more than 2x this: match exegan's decompression-bomb limit for Gradio's own decoding
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS // 2
    global demo
    try:
        MANAGER.get()  # load once at start-up, so the first request is not slow
        demo = build_demo()  # again, now with the model's control ranges (also the API's defaults)
    except core.ModelUnavailable as err:
        print(f"warning: {err}")
    try:
        default_detector()  # the face detector too
    except DetectorUnavailable as err:
        print(f"warning: {err}; face alignment is off")
    demo.launch(**LAUNCH_KWARGS)


if __name__ == "__main__":
    main()
