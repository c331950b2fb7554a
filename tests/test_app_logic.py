"""The demo's handlers as plain functions (no server): editor values -> photo + mask, bad input, controls ->
pipeline arguments, the model manager, and every handler's outputs."""

import io

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from conftest import make_tiny
from exegan import align as al
from exegan import app_logic as logic

RNG = np.random.default_rng(0)
PHOTO = RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8)
EXEMPLAR = RNG.integers(0, 256, (40, 40, 3), dtype=np.uint8)


def rgba_layer(shape, box, alpha=150):
    layer = np.zeros(shape[:2] + (4,), np.uint8)
    y0, y1, x0, x1 = box
    layer[y0:y1, x0:x1] = (255, 0, 200, alpha)
    return layer


def editor(photo=PHOTO, *layers):
    bg = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    return {"background": bg, "layers": list(layers), "composite": bg}


def hole_of(box, shape=PHOTO.shape):
    h = np.zeros(shape[:2], bool)
    h[box[0]:box[1], box[2]:box[3]] = True
    return h


BOX = (10, 30, 20, 50)


@pytest.fixture(scope="module")
def manager():
    m = logic.ModelManager(source="unused")
    m.model = make_tiny()
    return m


def run(manager, ed, **kw):
    args = dict(mask_image=None, exemplar=EXEMPLAR, exemplar_b=None, more_exemplars=None, n_samples=2, seed=0,
                truncation=1.0, strength=4, custom_phi=False, phi_latents=None,
                mode=logic.MODE_SEPARATE, crossover=None, align=False, face=None, align_exemplars=False, fit="pad")
    args.update(kw)
    return logic.inpaint(manager, ed, **args)


# ----------------------------------------------------------------------------------------------- editor values
def test_mask_is_the_alpha_of_the_painted_layers():
    a, b = rgba_layer(PHOTO.shape, BOX), rgba_layer(PHOTO.shape, (40, 44, 0, 5), alpha=1)
    np.testing.assert_array_equal(logic.editor_mask(editor(PHOTO, a)), hole_of(BOX))
    both = logic.editor_mask(editor(PHOTO, a, b))
    assert both.sum() == hole_of(BOX).sum() + 20  # union; any alpha > 0 counts
    erased = a.copy()
    erased[..., 3] = 0  # the eraser leaves colour behind but alpha 0
    assert logic.editor_mask(editor(PHOTO, erased)) is None
    assert logic.editor_mask(editor(PHOTO)) is None and logic.editor_mask(None) is None


def test_layers_as_pil_or_files_and_other_sizes(tmp_path):
    layer = rgba_layer(PHOTO.shape, BOX)
    path = tmp_path / "layer.png"
    Image.fromarray(layer).save(path)
    ed = {"background": PHOTO, "layers": [Image.fromarray(layer), str(path)], "composite": None}
    np.testing.assert_array_equal(logic.editor_mask(ed), hole_of(BOX))
    big = np.asarray(Image.fromarray(layer).resize((128, 96), Image.Resampling.NEAREST))
    np.testing.assert_array_equal(logic.editor_mask({"layers": [big]}, size=(64, 48)), hole_of(BOX))


def test_layers_without_alpha_are_read_as_mask_pictures():
    gray = np.zeros(PHOTO.shape[:2], np.uint8)
    gray[10:30, 20:50] = 255
    np.testing.assert_array_equal(logic.editor_mask({"layers": [Image.fromarray(gray)]}), hole_of(BOX))
    np.testing.assert_array_equal(logic.editor_mask({"layers": [gray]}), hole_of(BOX))
    rgb = Image.fromarray(np.dstack([gray] * 3))
    np.testing.assert_array_equal(logic.editor_mask({"layers": [rgb]}), hole_of(BOX))


def test_background_falls_back_to_the_composite_and_ignores_an_empty_canvas():
    assert logic.editor_background({"background": None, "layers": [], "composite": PHOTO}) is PHOTO
    blank = np.zeros((10, 10, 4), np.uint8)
    assert logic.editor_background({"background": blank, "layers": [], "composite": None}) is None
    assert logic.editor_background({"background": Image.fromarray(blank), "layers": []}) is None
    pil = Image.fromarray(PHOTO).convert("I;16")
    assert logic.editor_background({"background": pil, "layers": []}) is pil


def test_uploaded_mask_is_combined_and_resized_with_a_notice(tmp_path):
    m = np.zeros((96, 128), np.uint8)
    m[0:10, 0:20] = 255  # twice the photo's size
    path = tmp_path / "mask.png"
    Image.fromarray(m).save(path)
    notes = []
    with pytest.warns(UserWarning, match="resized"):
        photo, hole = logic.read_photo_and_mask(editor(PHOTO, rgba_layer(PHOTO.shape, BOX)), str(path), notes)
    assert photo.size == (64, 48) and "resized" in notes[0]
    assert hole.sum() == hole_of(BOX).sum() + 50


def test_huge_photos_are_downscaled_with_a_notice(monkeypatch):
    monkeypatch.setattr(logic, "MAX_SIDE", 32)
    notes = []
    with pytest.warns(UserWarning, match="downscaled"):
        photo, hole = logic.read_photo_and_mask(editor(PHOTO, rgba_layer(PHOTO.shape, BOX)), None, notes)
    assert photo.size == (32, 24) and hole.shape == (24, 32) and hole.any()


def _file(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def _png(img: Image.Image, fmt="PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_bad_files_give_clear_errors(tmp_path):
    not_image = _file(tmp_path, "notes.png", b"this is not an image")
    truncated = _file(tmp_path, "cut.png", _png(Image.fromarray(PHOTO))[:200])
    empty = _file(tmp_path, "empty.png", b"")
    with pytest.raises(gr.Error, match="Add a face photo"):
        logic.read_photo_and_mask(None)
    with pytest.raises(gr.Error, match="mask image could not be read.*not a recognised image"):
        logic.read_photo_and_mask(editor(), not_image)
    with pytest.raises(gr.Error, match="photo could not be read.*truncated"):
        logic.read_photo_and_mask({"background": truncated, "layers": []})
    with pytest.raises(gr.Error, match="Exemplar A could not be read.*empty"):
        logic.read_exemplars(empty)
    with pytest.raises(gr.Error, match="at least one exemplar"):
        logic.read_exemplars(None, None, [])
    with pytest.raises(gr.Error, match="two exemplars"):
        logic.read_exemplars(EXEMPLAR, None, None, logic.MODE_MIX)


def test_decompression_bombs_are_refused(tmp_path):
    bomb = _file(tmp_path, "bomb.png", _png(Image.new("L", (9000, 8000))))  # 72 MP of zeros: a tiny file
    with pytest.raises(gr.Error, match="too large"):
        logic.read_photo_and_mask({"background": bomb, "layers": []})
    with pytest.raises(gr.Error, match="too large"):
        logic.read_exemplars(bomb)


def test_any_image_mode_is_accepted(tmp_path):
    rgb = Image.fromarray(PHOTO)
    files = {
        "gray.png": _png(rgb.convert("L")),
        "rgba.png": _png(rgb.convert("RGBA")),
        "cmyk.jpg": _png(rgb.convert("CMYK"), "JPEG", quality=95),
        "16bit.png": _png(Image.fromarray((PHOTO[..., 0].astype(np.uint16) * 257))),
        "palette.png": _png(rgb.convert("P")),
    }
    for name, data in files.items():
        path = _file(tmp_path, name, data)
        photo, hole = logic.read_photo_and_mask({"background": path, "layers": []}, path)
        assert photo.mode == "RGB" and photo.size == (64, 48), name
        assert logic.read_exemplars(path)[0].mode == "RGB"
    photo, _ = logic.read_photo_and_mask({"background": _file(tmp_path, "w.png", files["16bit.png"]), "layers": []})
    np.testing.assert_array_equal(np.asarray(photo)[..., 0], PHOTO[..., 0])  # 16-bit scaled, not clipped


# ----------------------------------------------------------------------------------------------- controls
def test_strength_maps_to_the_last_latents_and_defaults_to_the_official_phi(manager):
    m = manager.model
    limit = logic.phi_limit(m)
    assert limit == min(m.n_latent, m.style_encoder.n_styles) == 8
    assert logic.default_strength(m) == len(m.resolve_phi(None)) == 4
    assert logic.strength_to_phi(m, 4) is None  # the official phi itself
    assert logic.strength_to_phi(m, 0) == []
    assert logic.strength_to_phi(m, 2) == [6, 7] and logic.strength_to_phi(m, 8) == list(range(8))
    assert m.resolve_phi(logic.strength_to_phi(m, 4)) == list(range(limit - 4, limit))  # official = suffix here
    with pytest.raises(ValueError):
        logic.strength_to_phi(m, 9)
    labels = logic.latent_choices(m)
    assert [v for _, v in labels] == list(range(8)) and labels[0][0].startswith("0 · 4 px")
    assert [logic.latent_resolution(j, 256) for j in range(6)] == [4, 8, 8, 16, 16, 32]


def test_controls_map_to_pipeline_arguments(manager):
    m = manager.model
    kw, notes = logic.pipeline_kwargs(m, n_samples=3, seed=7, truncation=0.7, strength=2)
    assert kw == dict(n_samples=3, seed=7, truncation=0.7, phi=[6, 7]) and notes == []
    kw, _ = logic.pipeline_kwargs(m, strength=5, custom_phi=True, phi_latents=["1", 3, 3])
    assert kw["phi"] == [1, 3]
    kw, _ = logic.pipeline_kwargs(m, custom_phi=True, phi_latents=[4, 5, 6, 7])
    assert kw["phi"] is None  # the official selection
    kw, notes = logic.pipeline_kwargs(m, mode=logic.MODE_MIX, crossover=3)
    assert kw["mix"] == 3 and kw["phi"] is None
    kw, notes = logic.pipeline_kwargs(m, mode=logic.MODE_MIX, strength=2, crossover=5)
    assert kw["mix"] == 2 and "crossover 5" in notes[0]
    kw, notes = logic.pipeline_kwargs(m, n_samples=8, n_exemplars=3)
    assert kw["n_samples"] == 5 and "16 images" in notes[0]
    for bad in (dict(n_samples=0), dict(seed=-1), dict(truncation=3)):
        with pytest.raises(ValueError):
            logic.pipeline_kwargs(m, **bad)
    assert 0 <= logic.random_seed() <= logic.MAX_SEED


def test_handler_passes_the_controls_to_the_model(manager, monkeypatch):
    calls = []
    real = manager.model.inpaint

    def spy(image, mask, exemplars, **kw):
        calls.append(kw)
        return real(image, mask, exemplars, **kw)

    monkeypatch.setattr(manager.model, "inpaint", spy)
    ed = editor(PHOTO, rgba_layer(PHOTO.shape, BOX))
    run(manager, ed, n_samples=3, seed=11, truncation=0.5, strength=6, fit="crop")
    assert calls[-1] == dict(n_samples=3, seed=11, truncation=0.5, phi=[2, 3, 4, 5, 6, 7], fit="crop")
    run(manager, ed, exemplar_b=EXEMPLAR[::-1], mode=logic.MODE_MIX, crossover=1, custom_phi=True,
        phi_latents=[5, 6, 7])
    assert calls[-1]["mix"] == 1 and calls[-1]["phi"] == [5, 6, 7]


# ----------------------------------------------------------------------------------------------- handlers
def test_inpaint_outputs_and_known_pixels(manager):
    ed = editor(PHOTO, rgba_layer(PHOTO.shape, BOX))
    gallery, masked, (original, first), status, aligned, orig_state = run(manager, ed, n_samples=3,
                                                                           more_exemplars=[EXEMPLAR])
    assert aligned is None  # no alignment asked for
    hole = hole_of(BOX)
    assert len(gallery) == 6 and gallery[3][1] == "exemplar 2 · sample 1 · seed 0"
    for img, _ in gallery:
        out = np.asarray(img)
        assert out.shape == PHOTO.shape and np.array_equal(out[~hole], PHOTO[~hole])
    assert np.array_equal(np.asarray(original), PHOTO) and first is gallery[0][0] and orig_state is original
    assert np.array_equal(np.asarray(masked)[~hole], PHOTO[~hole]) and "6 results" in status
    again = run(manager, ed, n_samples=3, more_exemplars=[EXEMPLAR])[0]
    assert all(np.array_equal(np.asarray(a[0]), np.asarray(b[0])) for a, b in zip(gallery, again))
    other = run(manager, ed, n_samples=3, seed=1)[0]
    assert not np.array_equal(np.asarray(other[0][0]), np.asarray(gallery[0][0]))


def test_empty_mask_returns_the_input_unchanged_with_a_message(manager):
    with pytest.warns(UserWarning, match="mask is empty"):
        gallery, _, _, status, _, _ = run(manager, editor(PHOTO))
    assert len(gallery) == 1 and np.array_equal(np.asarray(gallery[0][0]), PHOTO)
    assert "mask is empty" in status and status.startswith("Nothing to fill")
    gallery, _, _, strip, status, _, _ = logic.sweep(manager, editor(PHOTO), None, EXEMPLAR, EXEMPLAR, 0, 1.0, 4,
                                                  False, None, False, None, False, "pad")
    assert len(gallery) == 1 and np.array_equal(np.asarray(gallery[0][0]), PHOTO) and "Nothing" in status


def test_missing_inputs_and_no_model_give_clear_errors(manager, tmp_path):
    with pytest.raises(gr.Error, match="exemplar"):
        run(manager, editor(PHOTO, rgba_layer(PHOTO.shape, BOX)), exemplar=None)
    with pytest.raises(gr.Error, match="face photo"):
        run(manager, None)
    none = logic.ModelManager(source=str(tmp_path / "missing"))
    with pytest.raises(gr.Error, match="No model is loaded"):
        run(none, editor(PHOTO, rgba_layer(PHOTO.shape, BOX)))
    assert "No model is loaded" in none.describe() and "EXEGAN_MODEL" in none.describe()
    info, *updates = logic.control_updates(none)
    assert "No model is loaded" in info and all(u == gr.update() for u in updates)
    # a failure does not break the next request
    assert len(run(manager, editor(PHOTO, rgba_layer(PHOTO.shape, BOX)))[0]) == 2


def test_style_mixing_and_sweep(manager):
    ed = editor(PHOTO, rgba_layer(PHOTO.shape, BOX))
    gallery = run(manager, ed, exemplar_b=EXEMPLAR[::-1], mode=logic.MODE_MIX, crossover=2, n_samples=2)[0]
    assert len(gallery) == 2 and gallery[0][1].startswith("A+B mixed at 2")
    gallery, _, _, strip, status, _, _ = logic.sweep(manager, ed, None, EXEMPLAR, EXEMPLAR[::-1], 0, 1.0, 4, False,
                                                  None, False, None, False, "pad")
    assert len(gallery) == 5 and gallery[-1][1] == "crossover 4: 4 latents from A, 0 from B"
    assert strip.size == (5 * round(64 * 256 / 48) + 8, 256) and "sweep of 5" in status
    with pytest.raises(gr.Error, match="two exemplars"):
        logic.sweep(manager, ed, None, EXEMPLAR, None, 0, 1.0, 4, False, None, False, None, False, "pad")


def test_compare_picks_the_selected_result():
    class Evt:
        index = 1

    gal = [("a.png", "x"), ("b.png", "y")]
    assert logic.compare("orig.png", gal, Evt()) == ("orig.png", "b.png")
    assert logic.compare("orig.png", gal, None) == ("orig.png", "a.png")
    assert logic.compare(None, gal, None) is None


def test_model_manager_load_describe_and_lock(tmp_path, monkeypatch):
    make_tiny().save_pretrained(tmp_path / "tiny")
    m = logic.ModelManager(source=str(tmp_path / "missing"))
    info, strength, latents, crossover = logic.load_model(m, str(tmp_path / "tiny"))
    assert "tiny-test" in info and "32×32" in info and "licence:** test" in info
    assert strength["maximum"] == 8 and strength["value"] == 4 and latents["value"] == [4, 5, 6, 7]
    assert crossover["value"] == 2
    with pytest.raises(gr.Error, match="Could not load"):
        logic.load_model(m, str(tmp_path / "nothing-here"))
    with pytest.raises(gr.Error, match="both files"):
        logic.load_model(m, None, "a.pt", None)
    with pytest.raises(gr.Error, match="Give a model"):
        logic.load_model(m, " ")
    assert "tiny-test" in m.describe()  # a failed switch keeps the old model
    monkeypatch.setenv("EXEGAN_APP_LOCK_MODEL", "1")
    with pytest.raises(gr.Error, match="disabled"):
        logic.load_model(m, str(tmp_path / "tiny"))
    monkeypatch.setenv("EXEGAN_MODEL", str(tmp_path / "tiny"))
    assert logic.ModelManager().get().size == 32  # default source: $EXEGAN_MODEL


def test_phi_preview_follows_the_strength_slider(manager):
    assert logic.phi_preview(manager, 2)["value"] == [6, 7]
    assert logic.phi_preview(manager, 4)["value"] == [4, 5, 6, 7]


# ----------------------------------------------------------------------------------------------- alignment
def test_aligned_run_changes_only_the_mask_in_the_full_photo(manager, detector):
    from test_align import mx

    scene = mx.place(mx.backdrop(480, 360, (120, 150, 140), 0), mx.PHOTO, (300, 170), 220, 12)
    hole = np.asarray(mx.eyes_mask(220, scene.size, (190, 60), 12)) > 0
    layer = np.zeros((360, 480, 4), np.uint8)
    layer[hole] = (255, 0, 200, 150)
    photo = np.asarray(scene)
    gallery, _, _, status, aligned, _ = run(manager, editor(photo, layer), align=True, align_exemplars=True,
                                   exemplar=np.asarray(mx.aligned_photo(mx.EXEMPLARS["exemplar_smile"], 64)))
    assert "aligned" in status and len(gallery) == 2 and aligned.size == (256, 256)
    for img, _ in gallery:
        out = np.asarray(img)
        assert out.shape == photo.shape and np.array_equal(out[~hole], photo[~hole])
    dd, preview, msg = logic.detect(editor(photo))
    assert dd["choices"][0][1] == 1 and dd["value"] == 1 and "One face" in msg and preview.size == (480, 360)
    with pytest.raises(gr.Error, match="Face 3"):
        run(manager, editor(photo, layer), align=True, face=3)
    with pytest.raises(gr.Error, match="face number"):
        run(manager, editor(photo, layer), align=True, face="left")
    assert [logic.face_index(v) for v in (None, "", 0, 1, "2", 3.0)] == [0, 0, 0, 0, 1, 2]


def test_no_face_falls_back_to_the_plain_fit_with_a_message(manager, detector):
    flat = np.full((48, 64, 3), 90, np.uint8)
    with pytest.warns(UserWarning, match="No face found"):
        gallery, _, _, status, _, _ = run(manager, editor(flat, rgba_layer(flat.shape, BOX)), align=True)
    assert len(gallery) == 2 and "No face found" in status
    dd, _, msg = logic.detect(editor(flat))
    assert dd["choices"] == [] and "No face found" in msg
