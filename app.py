"""Gradio demo of exegan (also the Hugging Face Space's entry point): ``python app.py``.

Paint over part of a face photo, give exemplar faces, get several completions. The logic lives in
``exegan/app_logic.py`` (handlers) and ``exegan/align.py`` (detection, alignment, paste-back); this file only lays
out the page and wires events, so importing it builds the UI but loads no model (the model loads on first use,
or at start-up under ``python app.py``).

Environment: ``EXEGAN_MODEL`` (model folder or Hub repo id; default: the bundled ``assets/default-model``),
``EXEGAN_MODELS`` (comma-separated presets for the model list), ``EXEGAN_APP_LOCK_MODEL=1`` (no model switching),
``EXEGAN_DEVICE`` / ``EXEGAN_PRECISION`` (e.g. ``bf16`` on CPUs with AVX-512 bf16), ``EXEGAN_APP_MAX_SIDE``
(photos are downscaled to this, default 2048), ``EXEGAN_APP_CONCURRENCY`` (parallel inference jobs, default 1),
and Gradio's own ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``.
"""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr

from exegan import app_logic as logic
from exegan.images import MAX_PIXELS

EXAMPLES = Path(__file__).resolve().parent / "assets" / "examples"
MANAGER = logic.ModelManager()
MAX_LATENTS = 18  # slider bounds before the model is known (pSp has 18 codes); page load narrows them

INTRO = """# EXE-GAN · exemplar-guided face inpainting
**1.** Upload (or paste, or take with the webcam) a face photo and **paint over the part to replace** — or upload a
mask picture (white = fill). **2.** Give an **exemplar** face: the filled region takes its attributes (eyes,
glasses, beard, expression…). **3.** Press **Generate**: several different completions; pixels outside the mask
never change. Works best on face crops; other photos are detected, aligned and pasted back automatically."""


# ------------------------------------------------------------------------------------------------ handlers
# Thin wrappers: their signatures name the API parameters (gradio_client keyword arguments).
def inpaint(photo, mask_image, exemplar, exemplar_b, more_exemplars, n_samples, seed, truncation, strength,
            custom_phi, phi_latents, mode, crossover, align, face, align_exemplars, fit, progress=gr.Progress()):
    """Fill the painted (or uploaded) mask of `photo` guided by the exemplar(s); returns the results gallery, the
    masked input, (original, first result), a status text and the aligned face crop (None without alignment)."""
    return logic.inpaint(MANAGER, photo, mask_image, exemplar, exemplar_b, more_exemplars, n_samples, seed,
                         truncation, strength, custom_phi, phi_latents, mode, crossover, align, face,
                         align_exemplars, fit, progress=progress)


def mixing_sweep(photo, mask_image, exemplar, exemplar_b, seed, truncation, strength, custom_phi, phi_latents,
                 align, face, align_exemplars, fit, progress=gr.Progress()):
    """Render every style-mixing crossover between exemplars A and B (one result per crossover, and a strip)."""
    return logic.sweep(MANAGER, photo, mask_image, exemplar, exemplar_b, seed, truncation, strength, custom_phi,
                       phi_latents, align, face, align_exemplars, fit, progress=progress)


def detect_faces(photo):
    """Detect the faces of the photo: face list (largest first), preview with numbered boxes, message."""
    return logic.detect(photo)


def random_seed():
    """A new random seed."""
    return logic.random_seed()


def model_info():
    """The active model (name, resolution, licence) and the matching control ranges."""
    return logic.control_updates(MANAGER)


def load_model(source, exe_checkpoint, psp_checkpoint):
    """Switch the model: a folder / Hub repo in exegan's format, or the authors' .pt files."""
    return logic.load_model(MANAGER, source, exe_checkpoint, psp_checkpoint)


def _show_selected(original, gallery, evt: gr.SelectData):
    return logic.compare(original, gallery, evt)


def _sync_latents(strength):
    return logic.phi_preview(MANAGER, strength)


# ------------------------------------------------------------------------------------------------ layout
def _examples() -> list[list]:
    e = {n: str(EXAMPLES / f"{n}.png") for n in ("photo", "photo_mask_eyes", "exemplar_glasses", "exemplar_beard",
                                                  "exemplar_smile", "photo_tilted", "photo_tilted_mask",
                                                  "two_faces")}
    if not all(os.path.isfile(p) for p in e.values()):
        return []
    # photo, mask, exemplar A, exemplar B, align
    return [[e["photo"], e["photo_mask_eyes"], e["exemplar_glasses"], None, False],
            [e["photo"], e["photo_mask_eyes"], e["exemplar_beard"], e["exemplar_smile"], False],
            [e["photo_tilted"], e["photo_tilted_mask"], e["exemplar_smile"], None, True],
            [e["two_faces"], None, e["exemplar_glasses"], None, True]]


def build_demo() -> gr.Blocks:
    """The page. Control ranges come from the model when it is already loaded (``main`` loads it first, so the
    API defaults match the model); otherwise generic ones, narrowed when a page loads."""
    switch = logic.model_switch_allowed()
    model = MANAGER.model
    limit = logic.phi_limit(model) if model else MAX_LATENTS
    k = logic.default_strength(model) if model else 10
    choices = logic.latent_choices(model) if model else []
    info = MANAGER.describe() if model else "Loading the model…"
    presets = [s.strip() for s in os.environ.get("EXEGAN_MODELS", "").split(",") if s.strip()]
    with gr.Blocks(title="EXE-GAN face inpainting", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(INTRO)
        model_md = gr.Markdown(info, elem_id="model-info")
        original = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                photo = gr.ImageEditor(
                    # type "pil" + image_mode None: Gradio hands over the decoded picture unconverted (16-bit,
                    # CMYK... are flattened by exegan.images, not clipped by PIL's convert); layers stay RGBA
                    label="Photo: paint over the region to fill", type="pil", image_mode=None,
                    sources=["upload", "clipboard", "webcam"], format="png", height=460, elem_id="photo",
                    brush=gr.Brush(default_size=24, colors=[("#ff00cc", 0.6)], color_mode="fixed"),
                    eraser=gr.Eraser(default_size=24), layers=False, transforms=["crop"])
                with gr.Accordion("…or upload a mask picture (white = fill)", open=False):
                    mask_image = gr.Image(label="Mask (white = region to fill; combined with the painting)",
                                          type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                          height=200, elem_id="mask-image")
                with gr.Row():
                    exemplar = gr.Image(label="Exemplar A", type="filepath", image_mode=None, height=200,
                                        sources=["upload", "clipboard", "webcam"], elem_id="exemplar-a")
                    exemplar_b = gr.Image(label="Exemplar B (optional)", type="filepath", image_mode=None,
                                          height=200, sources=["upload", "clipboard", "webcam"], elem_id="exemplar-b")
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

        with gr.Accordion("Settings", open=True):
            with gr.Row():
                n_samples = gr.Slider(1, logic.MAX_SAMPLES, value=4, step=1, label="Samples per exemplar",
                                      info="Different completions for each exemplar.")
                with gr.Column(min_width=200):
                    seed = gr.Number(value=0, precision=0, minimum=0, maximum=logic.MAX_SEED, label="Seed",
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
            mode = gr.Radio([("Each exemplar separately", logic.MODE_SEPARATE),
                             ("Mix A and B", logic.MODE_MIX)], value=logic.MODE_SEPARATE, label="Exemplars")
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
                fit = gr.Radio(list(logic.FIT_MODES), value="pad", label="Without alignment: fit the picture by",
                               info="pad (letterbox), crop (centre square) or stretch")
            with gr.Row():
                face = gr.Dropdown(choices=[], value=None, label="Face", allow_custom_value=True,
                                   info="1 = the largest (default), 2 = the next one, …")
                find = gr.Button("Find faces", size="sm")
            face_msg = gr.Markdown(label="Detection")
            with gr.Row():
                face_preview = gr.Image(label="Detected faces", interactive=False, height=240)
                aligned = gr.Image(label="Aligned face, as the model sees it (last run)", interactive=False,
                                   format="png", height=240)
        with gr.Accordion("Model", open=False, visible=switch):
            gr.Markdown("A folder or Hugging Face Hub repo (`org/name`) in exegan's format, or the authors' "
                        "`EXE_GAN_model_256.pt` + `psp_ffhq_encode.pt`. The switch applies to everyone using this "
                        "server.")
            source = gr.Dropdown(choices=presets, value=None, allow_custom_value=True,
                                 label="Model folder or Hub repo id")
            with gr.Row():
                exe = gr.Textbox(label="…or the authors' EXE_GAN_model_*.pt (path)")
                psp = gr.Textbox(label="…and psp_ffhq_encode.pt (path)")
            load_btn = gr.Button("Load model")
        rows = _examples()
        if rows:
            gr.Examples(rows, [photo, mask_image, exemplar, exemplar_b, align], label="Examples (drawn by "
                        "assets/make_examples.py)")
        gr.Markdown("Code: MIT. Model weights carry their own licence (shown above; FFHQ-trained weights are for "
                    "non-commercial research). Do not use this to deceive: results are synthetic.")

        inputs = [photo, mask_image, exemplar, exemplar_b, more, n_samples, seed, truncation, strength, custom_phi,
                  phi_latents, mode, crossover, align, face, align_exemplars, fit]
        concurrency = int(os.environ.get("EXEGAN_APP_CONCURRENCY", "1"))
        run.click(inpaint, inputs, [gallery, masked, comparison, status, aligned, original], api_name="inpaint",
                  concurrency_id="model", concurrency_limit=concurrency)
        sweep_inputs = [photo, mask_image, exemplar, exemplar_b, seed, truncation, strength, custom_phi,
                        phi_latents, align, face, align_exemplars, fit]
        sweep_btn.click(mixing_sweep, sweep_inputs, [gallery, masked, comparison, strip, status, aligned, original],
                        api_name="mixing_sweep", concurrency_id="model", concurrency_limit=concurrency)
        dice.click(random_seed, None, seed, api_name="random_seed")
        find.click(detect_faces, photo, [face, face_preview, face_msg], api_name="detect_faces",
                   concurrency_limit=2)
        photo.upload(detect_faces, photo, [face, face_preview, face_msg], api_visibility="private",
                     concurrency_limit=2)
        gallery.select(_show_selected, [original, gallery], comparison, api_visibility="private")
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
    except logic.ModelUnavailable as err:
        print(f"warning: {err}")
    try:
        logic.al.default_detector()  # the face detector too
    except logic.al.DetectorUnavailable as err:
        print(f"warning: {err}; face alignment is off")
    demo.launch(**LAUNCH_KWARGS)


if __name__ == "__main__":
    main()
