"""The demo's logic (``exegan.demo``, no Gradio and no server): editor values -> photo + mask, bad input, controls
-> pipeline arguments, the model manager, the runs' outcomes; then the Gradio layer (``app.py``) on top of it: the
handlers' outputs and API parameters, and user errors shown once as ``DemoError``."""

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, import_app, make_tiny
from exegan import demo
from exegan.demo import DemoError, InpaintRequest

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
    m = demo.ModelManager(source="unused")
    m.model = make_tiny()
    return m


ARGS = dict(mask_image=None, exemplar=EXEMPLAR, exemplar_b=None, more_exemplars=None, n_samples=2, seed=0,
            truncation=1.0, strength=4, custom_phi=False, phi_latents=None, mode=demo.MODE_SEPARATE, crossover=None,
            align=False, face=None, align_exemplars=False, fit="pad")


def request(ed, **kw) -> InpaintRequest:
    return InpaintRequest(photo=ed, **{**ARGS, **kw})


def run(manager, ed, **kw) -> demo.Outcome:
    return demo.inpaint(manager, request(ed, **kw))


def sweep(manager, ed, **kw) -> demo.Outcome:
    return demo.mixing_sweep(manager, request(ed, **kw))


# ----------------------------------------------------------------------------------------------- editor values
def test_mask_is_the_alpha_of_the_painted_layers():
    a, b = rgba_layer(PHOTO.shape, BOX), rgba_layer(PHOTO.shape, (40, 44, 0, 5), alpha=1)
    np.testing.assert_array_equal(demo.editor_mask(editor(PHOTO, a)), hole_of(BOX))
    both = demo.editor_mask(editor(PHOTO, a, b))
    assert both.sum() == hole_of(BOX).sum() + 20  # union; any alpha > 0 counts
    erased = a.copy()
    erased[..., 3] = 0  # the eraser leaves colour behind but alpha 0
    assert demo.editor_mask(editor(PHOTO, erased)) is None
    assert demo.editor_mask(editor(PHOTO)) is None and demo.editor_mask(None) is None


def test_layers_as_pil_or_files_and_other_sizes(tmp_path):
    layer = rgba_layer(PHOTO.shape, BOX)
    path = tmp_path / "layer.png"
    Image.fromarray(layer).save(path)
    ed = {"background": PHOTO, "layers": [Image.fromarray(layer), str(path)], "composite": None}
    np.testing.assert_array_equal(demo.editor_mask(ed), hole_of(BOX))
    big = np.asarray(Image.fromarray(layer).resize((128, 96), Image.Resampling.NEAREST))
    np.testing.assert_array_equal(demo.editor_mask({"layers": [big]}, size=(64, 48)), hole_of(BOX))


def test_layers_without_alpha_are_read_as_mask_pictures():
    gray = np.zeros(PHOTO.shape[:2], np.uint8)
    gray[10:30, 20:50] = 255
    np.testing.assert_array_equal(demo.editor_mask({"layers": [Image.fromarray(gray)]}), hole_of(BOX))
    np.testing.assert_array_equal(demo.editor_mask({"layers": [gray]}), hole_of(BOX))
    rgb = Image.fromarray(np.dstack([gray] * 3))
    np.testing.assert_array_equal(demo.editor_mask({"layers": [rgb]}), hole_of(BOX))


def test_background_falls_back_to_the_composite_and_ignores_an_empty_canvas():
    assert demo.editor_background({"background": None, "layers": [], "composite": PHOTO}) is PHOTO
    blank = np.zeros((10, 10, 4), np.uint8)
    assert demo.editor_background({"background": blank, "layers": [], "composite": None}) is None
    assert demo.editor_background({"background": Image.fromarray(blank), "layers": []}) is None
    pil = Image.fromarray(PHOTO).convert("I;16")
    assert demo.editor_background({"background": pil, "layers": []}) is pil


def test_uploaded_mask_is_combined_and_resized_with_a_notice(tmp_path):
    m = np.zeros((96, 128), np.uint8)
    m[0:10, 0:20] = 255  # twice the photo's size
    path = tmp_path / "mask.png"
    Image.fromarray(m).save(path)
    notes = demo.Notes()
    with pytest.warns(UserWarning, match="resized"):
        photo, hole = demo.read_photo_and_mask(editor(PHOTO, rgba_layer(PHOTO.shape, BOX)), str(path), notes)
    assert photo.size == (64, 48) and "resized" in notes[0]
    assert hole.sum() == hole_of(BOX).sum() + 50


def test_large_photos_keep_their_resolution_and_tiny_ones_are_refused(manager):
    big = np.random.default_rng(1).integers(0, 256, (1500, 2600, 3), dtype=np.uint8)  # over the old 2048 limit
    box = (600, 1000, 1200, 1900)
    out = run(manager, editor(big, rgba_layer(big.shape, box)), n_samples=1, align=False)
    hole = hole_of(box, big.shape)
    result = np.asarray(out.images[0])
    assert result.shape == big.shape and np.array_equal(result[~hole], big[~hole])
    assert (result[hole] != big[hole]).any(-1).mean() > 0.5
    assert len(out.notes) == 1 and "enlarged 81× into your photo, so it looks soft" in out.notes[0]  # 2600 / 32
    assert "fills in real photos look soft" in manager.describe() and "exegan.convert" in demo.MODEL_GUIDANCE
    small = PHOTO[:20, :31]
    with pytest.raises(demo.DemoError, match=r"^The photo is 31×20 pixels, too small .* at least 32 pixels"):
        run(manager, editor(small, rgba_layer(small.shape, (2, 2, 10, 10))))
    with pytest.raises(demo.DemoError, match=r"^Exemplar A is 8×8 pixels, too small"):
        run(manager, editor(PHOTO, rgba_layer(PHOTO.shape, BOX)), exemplar=EXEMPLAR[:8, :8])


def test_a_grey_photo_gets_a_grey_result(manager):
    grey = np.repeat(PHOTO[..., :1], 3, axis=2)
    out = run(manager, editor(grey, rgba_layer(grey.shape, BOX)), n_samples=2)
    hole = hole_of(BOX)
    for image in out.images:
        a = np.asarray(image)
        assert np.array_equal(a[~hole], grey[~hole]) and (a[hole] != grey[hole]).any()
        assert (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all()
    colour = np.asarray(run(manager, editor(PHOTO, rgba_layer(PHOTO.shape, BOX)), n_samples=1).images[0])
    assert (colour[hole][:, 0] != colour[hole][:, 1]).any()  # a colour photo keeps a colour fill


def test_face_numbers_default_to_the_face_under_the_mask():
    assert [demo.face_index(v) for v in (None, "", 0, "0", demo.AUTO_FACE_LABEL)] == [None] * 5
    assert demo.face_index(2) == 1 and demo.face_index("3") == 2
    with pytest.raises(demo.DemoError, match="Face must be a face number"):
        demo.face_index("left one")


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
    with pytest.raises(DemoError, match="Add a face photo"):
        demo.read_photo_and_mask(None)
    with pytest.raises(DemoError, match="mask image could not be read.*not a recognised image"):
        demo.read_photo_and_mask(editor(), not_image)
    with pytest.raises(DemoError, match="photo could not be read.*truncated"):
        demo.read_photo_and_mask({"background": truncated, "layers": []})
    with pytest.raises(DemoError, match="Exemplar A could not be read.*empty"):
        demo.read_exemplars(empty)
    with pytest.raises(DemoError, match="at least one exemplar"):
        demo.read_exemplars(None, None, [])
    with pytest.raises(DemoError, match="two exemplars"):
        demo.read_exemplars(EXEMPLAR, None, None, demo.MODE_MIX)
    # the output cap cannot be bypassed with extra exemplar files (each makes at least one image)
    assert len(demo.read_exemplars(EXEMPLAR, EXEMPLAR, [EXEMPLAR] * (demo.MAX_OUTPUTS - 2))) == demo.MAX_OUTPUTS
    with pytest.raises(DemoError, match=f"17 exemplars were given; at most {demo.MAX_OUTPUTS}"):
        demo.read_exemplars(EXEMPLAR, EXEMPLAR, [empty] * (demo.MAX_OUTPUTS - 1))  # refused before reading


def test_decompression_bombs_are_refused(tmp_path):
    bomb = _file(tmp_path, "bomb.png", _png(Image.new("L", (9000, 8000))))  # 72 MP of zeros: a tiny file
    with pytest.raises(DemoError, match="too large"):
        demo.read_photo_and_mask({"background": bomb, "layers": []})
    with pytest.raises(DemoError, match="too large"):
        demo.read_exemplars(bomb)


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
        photo, hole = demo.read_photo_and_mask({"background": path, "layers": []}, path)
        assert photo.mode == "RGB" and photo.size == (64, 48), name
        assert demo.read_exemplars(path)[0].mode == "RGB"
    photo, _ = demo.read_photo_and_mask({"background": _file(tmp_path, "w.png", files["16bit.png"]), "layers": []})
    np.testing.assert_array_equal(np.asarray(photo)[..., 0], PHOTO[..., 0])  # 16-bit scaled, not clipped


# ----------------------------------------------------------------------------------------------- controls
def test_strength_maps_to_the_last_latents_and_defaults_to_the_official_phi(manager):
    m = manager.model
    limit = demo.phi_limit(m)
    assert limit == min(m.n_latent, m.style_encoder.n_styles) == 8
    assert demo.default_strength(m) == len(m.resolve_phi(None)) == 4
    assert demo.strength_to_phi(m, 4) is None  # the official phi itself
    assert demo.strength_to_phi(m, 0) == []
    assert demo.strength_to_phi(m, 2) == [6, 7] and demo.strength_to_phi(m, 8) == list(range(8))
    assert m.resolve_phi(demo.strength_to_phi(m, 4)) == list(range(limit - 4, limit))  # official = suffix here
    with pytest.raises(ValueError):
        demo.strength_to_phi(m, 9)
    labels = demo.latent_choices(m)
    assert [v for _, v in labels] == list(range(8)) and labels[0][0].startswith("0 · 4 px")
    assert [demo.latent_resolution(j, 256) for j in range(6)] == [4, 8, 8, 16, 16, 32]
    assert demo.selected_latents(m, 2) == [6, 7] and demo.selected_latents(m, 4) == [4, 5, 6, 7]


def test_controls_map_to_pipeline_arguments(manager):
    m = manager.model
    kw, notes = demo.pipeline_kwargs(m, InpaintRequest(n_samples=3, seed=7, truncation=0.7, strength=2))
    assert kw == dict(n_samples=3, seed=7, truncation=0.7, phi=[6, 7]) and notes == []
    kw, _ = demo.pipeline_kwargs(m, InpaintRequest(strength=5, custom_phi=True, phi_latents=["1", 3, 3]))
    assert kw["phi"] == [1, 3]
    kw, _ = demo.pipeline_kwargs(m, InpaintRequest(custom_phi=True, phi_latents=[4, 5, 6, 7]))
    assert kw["phi"] is None  # the official selection
    kw, notes = demo.pipeline_kwargs(m, InpaintRequest(mode=demo.MODE_MIX, crossover=3))
    assert kw["mix"] == 3 and kw["phi"] is None
    kw, notes = demo.pipeline_kwargs(m, InpaintRequest(mode=demo.MODE_MIX, strength=2, crossover=5))
    assert kw["mix"] == 2 and "crossover 5" in notes[0]
    kw, notes = demo.pipeline_kwargs(m, InpaintRequest(n_samples=8), n_exemplars=3)
    assert kw["n_samples"] == 5 and "16 images" in notes[0]
    for bad in (dict(n_samples=0), dict(seed=-1), dict(truncation=3)):
        with pytest.raises(ValueError):
            demo.pipeline_kwargs(m, InpaintRequest(**bad))
    assert 0 <= demo.random_seed() <= demo.MAX_SEED


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
    run(manager, ed, exemplar_b=EXEMPLAR[::-1], mode=demo.MODE_MIX, crossover=1, custom_phi=True,
        phi_latents=[5, 6, 7])
    assert calls[-1]["mix"] == 1 and calls[-1]["phi"] == [5, 6, 7]


# ----------------------------------------------------------------------------------------------- runs
def test_inpaint_outcome_and_known_pixels(manager):
    ed = editor(PHOTO, rgba_layer(PHOTO.shape, BOX))
    out = run(manager, ed, n_samples=3, more_exemplars=[EXEMPLAR])
    assert out.aligned_view is None  # no alignment asked for
    hole = hole_of(BOX)
    gallery = out.gallery
    assert len(gallery) == 6 and gallery[3][1] == "exemplar 2 · seed 0"
    for img, _ in gallery:
        a = np.asarray(img)
        assert a.shape == PHOTO.shape and np.array_equal(a[~hole], PHOTO[~hole])
    assert np.array_equal(np.asarray(out.photo), PHOTO) and np.array_equal(out.hole, hole)
    assert np.array_equal(np.asarray(out.masked)[~hole], PHOTO[~hole]) and "6 results" in out.status
    again = run(manager, ed, n_samples=3, more_exemplars=[EXEMPLAR]).images
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(out.images, again))
    other = run(manager, ed, n_samples=3, seed=1).images
    assert not np.array_equal(np.asarray(other[0]), np.asarray(out.images[0]))


def test_empty_mask_returns_the_input_unchanged_with_a_message(manager):
    with pytest.warns(UserWarning, match="mask is empty"):
        out = run(manager, editor(PHOTO))
    assert len(out.gallery) == 1 and np.array_equal(np.asarray(out.images[0]), PHOTO)
    assert "mask is empty" in out.status and out.status.startswith("Nothing to fill")
    notices = []
    out = demo.mixing_sweep(manager, request(editor(PHOTO), exemplar_b=EXEMPLAR), notify=notices.append)
    assert len(out.gallery) == 1 and np.array_equal(np.asarray(out.images[0]), PHOTO) and "Nothing" in out.status
    assert notices == out.notes and "mask is empty" in notices[0]  # notify gets each notice as it happens


def test_missing_inputs_and_no_model_give_clear_errors(manager, tmp_path):
    with pytest.raises(DemoError, match="exemplar"):
        run(manager, editor(PHOTO, rgba_layer(PHOTO.shape, BOX)), exemplar=None)
    with pytest.raises(DemoError, match="face photo"):
        run(manager, None)
    with pytest.raises(DemoError, match="Fit must be one of pad, crop, stretch"):
        run(manager, editor(PHOTO, rgba_layer(PHOTO.shape, BOX)), fit="squash")
    none = demo.ModelManager(source=str(tmp_path / "missing"))
    with pytest.raises(demo.ModelUnavailable, match="No model is loaded"):
        run(none, editor(PHOTO, rgba_layer(PHOTO.shape, BOX)))
    assert "No model is loaded" in none.describe() and "EXEGAN_MODEL" in none.describe()
    # a failure does not break the next request
    assert len(run(manager, editor(PHOTO, rgba_layer(PHOTO.shape, BOX))).images) == 2


def test_style_mixing_and_sweep(manager):
    ed = editor(PHOTO, rgba_layer(PHOTO.shape, BOX))
    gallery = run(manager, ed, exemplar_b=EXEMPLAR[::-1], mode=demo.MODE_MIX, crossover=2, n_samples=2).gallery
    assert len(gallery) == 2 and gallery[0][1].startswith("A+B mixed at 2")
    out = sweep(manager, ed, exemplar_b=EXEMPLAR[::-1])
    assert len(out.gallery) == 5 and out.gallery[-1][1] == "crossover 4: 4 latents from A, 0 from B"
    assert demo.strip(out.images).size == (5 * round(64 * 256 / 48) + 8, 256) and "sweep of 5" in out.status
    with pytest.raises(DemoError, match="two exemplars"):
        sweep(manager, ed)


def test_model_manager_load_describe_and_lock(tmp_path, monkeypatch):
    make_tiny().save_pretrained(tmp_path / "tiny")
    monkeypatch.setenv("EXEGAN_APP_ALLOW_MODEL_SWITCH", "1")  # the operator's opt-in
    m = demo.ModelManager(source=str(tmp_path / "missing"))
    assert m.load(str(tmp_path / "tiny")).size == 32
    info = m.describe()
    assert "tiny-test" in info and "32×32" in info and "licence:** test" in info
    assert str(tmp_path) not in info and "`tiny`" in info  # the folder's name, never the server path
    with pytest.raises(DemoError, match="Could not load") as err:
        m.load(str(tmp_path / "nothing-here"))
    assert str(tmp_path) not in str(err.value) and "nothing-here" in str(err.value)
    with pytest.raises(DemoError, match="both files"):
        m.load(None, "a.pt", None)
    with pytest.raises(DemoError, match="Give a model"):
        m.load(" ")
    assert "tiny-test" in m.describe()  # a failed switch keeps the old model
    monkeypatch.setenv("EXEGAN_APP_LOCK_MODEL", "1")
    with pytest.raises(DemoError, match="disabled"):
        m.load(str(tmp_path / "tiny"))
    monkeypatch.setenv("EXEGAN_MODEL", str(tmp_path / "tiny"))
    assert demo.ModelManager().get().size == 32  # default source: $EXEGAN_MODEL


def test_model_switching_is_off_unless_the_operator_allows_it(tmp_path, monkeypatch):
    make_tiny().save_pretrained(tmp_path / "tiny")
    make_tiny(seed=1).save_pretrained(tmp_path / "other")
    for name in ("EXEGAN_APP_ALLOW_MODEL_SWITCH", "EXEGAN_APP_LOCK_MODEL", "EXEGAN_MODELS"):
        monkeypatch.delenv(name, raising=False)
    m = demo.ModelManager(source=str(tmp_path / "tiny"))
    assert demo.model_switch_policy() == "off" and not demo.model_switch_allowed()
    for args in [(str(tmp_path / "other"),), ("org/some-repo",), (None, "/etc/a.pt", "/etc/b.pt")]:
        with pytest.raises(DemoError, match="disabled") as err:
            m.load(*args)
        assert str(tmp_path) not in str(err.value)
    # presets: only the operator's list, never the authors' .pt paths or anything typed in
    monkeypatch.setenv("EXEGAN_MODELS", f"{tmp_path / 'other'}, org/listed")
    assert demo.model_switch_policy() == "presets"
    assert m.load(str(tmp_path / "other")).size == 32
    for args in [(str(tmp_path / "tiny"),), (None, "a.pt", "b.pt")]:
        with pytest.raises(DemoError, match="only its listed models: other, org/listed") as err:
            m.load(*args)
        assert str(tmp_path) not in str(err.value)
    monkeypatch.setenv("EXEGAN_APP_ALLOW_MODEL_SWITCH", "1")
    assert demo.model_switch_policy() == "any" and m.load(str(tmp_path / "tiny")).size == 32
    monkeypatch.setenv("EXEGAN_APP_LOCK_MODEL", "1")  # the lock wins over everything
    assert demo.model_switch_policy() == "off"


def test_public_text_hides_server_paths_only():
    assert demo.public_text("/srv/models/tiny has no config.json") == "tiny has no config.json"
    assert demo.public_text("source: `~/exegan/assets/default-model/`") == "source: `default-model`"
    assert demo.public_text("(/x/y/z.pt)") == "(z.pt)"
    for keep in ("org/name", "a 1/2 ratio", "60% free-form", "no path here"):
        assert demo.public_text(keep) == keep


# ----------------------------------------------------------------------------------------------- alignment
def test_aligned_run_changes_only_the_mask_in_the_full_photo(manager, detector):
    from test_align import mx

    scene = mx.place(mx.backdrop(480, 360, (120, 150, 140), 0), mx.PHOTO, (300, 170), 220, 12)
    hole = np.asarray(mx.eyes_mask(220, scene.size, (190, 60), 12)) > 0
    layer = np.zeros((360, 480, 4), np.uint8)
    layer[hole] = (255, 0, 200, 150)
    photo = np.asarray(scene)
    reported = []
    out = demo.inpaint(manager, demo.InpaintRequest(**{**ARGS, "photo": editor(photo, layer), "align": True,
                       "align_exemplars": True, "exemplar": np.asarray(mx.aligned_photo(mx.EXEMPLARS[
                           "exemplar_smile"], 64))}), progress=lambda f, d: reported.append((f, d)))
    # every stage of the request is reported as it starts, in order, and timed end to end
    assert [d for _, d in reported] == [demo.STAGES[k][1] for k in ("read", "exemplars", "detect", "align",
                                                                    "generate", "paste")]
    assert [f for f, _ in reported] == sorted(f for f, _ in reported)
    assert set(out.timings) >= {"read", "exemplars", "detect", "align", "generate", "paste"}
    assert out.seconds == pytest.approx(sum(out.timings.values())) and out.seconds > out.timings["generate"] > 0
    assert "detection" in out.status and "paste-back" in out.status and f"in {out.seconds:.1f} s" in out.status
    assert "aligned" in out.status and len(out.gallery) == 2 and out.aligned_view.size == (256, 256)
    assert "fills faces at 32×32 px" in out.status and "Sharper results on photos" in out.status  # honest: soft
    for img in out.images:
        a = np.asarray(img)
        assert a.shape == photo.shape and np.array_equal(a[~hole], photo[~hole])
    found = demo.find_faces(editor(photo))
    assert [c[1] for c in found.choices] == [0, 1] and "One face" in found.message  # 0: the face under the mask
    assert found.preview.size == (480, 360)
    backdrop = np.zeros((360, 480, 4), np.uint8)
    backdrop[300:350, 10:60] = (255, 0, 200, 150)  # a corner far from the face
    with pytest.raises(DemoError, match="The mask covers none of the 1 detected face"):
        run(manager, editor(photo, backdrop), align=True)
    with pytest.raises(DemoError, match="Face 3"):
        run(manager, editor(photo, layer), align=True, face=3)
    with pytest.raises(DemoError, match="face number"):
        run(manager, editor(photo, layer), align=True, face="left")
    assert [demo.face_index(v) for v in (None, "", 0, 1, "2", 3.0)] == [None, None, None, 0, 1, 2]


def test_no_face_falls_back_to_the_plain_fit_with_a_message(manager, detector):
    flat = np.full((48, 64, 3), 90, np.uint8)
    with pytest.warns(UserWarning, match="No face found"):
        out = run(manager, editor(flat, rgba_layer(flat.shape, BOX)), align=True)
    assert len(out.gallery) == 2 and "No face found" in out.status
    found = demo.find_faces(editor(flat))
    assert found.choices == [] and "No face found" in found.message
    assert demo.find_faces(None) == ([], None, "Upload a photo to find faces.")


# ----------------------------------------------------------------------------------------------- without Gradio
def test_the_library_imports_and_runs_where_gradio_cannot_be_imported():
    """The installed library must not need the demo's optional dependency: ``import gradio`` fails in this
    subprocess (a None entry in sys.modules), yet exegan, its pipeline and the demo logic import and run."""
    script = textwrap.dedent("""
        import sys
        sys.modules["gradio"] = sys.modules["gradio_client"] = None  # `import gradio` raises ImportError
        import exegan, exegan.pipeline, exegan.align
        from exegan import demo
        import numpy as np
        from conftest import make_tiny

        photo = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
        layer = np.zeros((48, 64, 4), np.uint8)
        layer[10:30, 20:50, 3] = 255
        manager = demo.ModelManager(source="unused")
        manager.model = make_tiny()
        req = demo.InpaintRequest(photo={"background": photo, "layers": [layer]}, exemplar=photo[:40, :40],
                                  exemplar_b=photo[8:, 24:], n_samples=2, align=False, align_exemplars=False)
        out = demo.inpaint(manager, req)
        assert len(out.images) == 4 and out.images[0].size == (64, 48) and "4 results" in out.status, out.status
        assert len(demo.mixing_sweep(manager, req).images) == 5
        try:
            demo.inpaint(manager, demo.InpaintRequest(photo=req.photo))
        except demo.DemoError as err:
            assert str(err).startswith("Add at least one exemplar face"), err
        else:
            raise AssertionError("no DemoError without an exemplar")
        assert sys.modules["gradio"] is None and sys.modules["gradio_client"] is None
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", script], cwd=ROOT / "tests", capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stderr[-3000:]


# ----------------------------------------------------------------------------------------------- app.py
def read(path) -> np.ndarray:
    """A picture file a handler returned, as an array."""
    assert isinstance(path, str) and path.endswith(".png"), path
    return np.asarray(Image.open(path))


@pytest.fixture
def app(manager, monkeypatch):
    """The Gradio layer with the tiny model as the active one."""
    module = import_app()
    monkeypatch.setattr(module, "MANAGER", manager)
    return module


def test_building_the_page_writes_nothing_next_to_app_py(app):
    """Gradio writes a .pyi stub beside the source of every component subclass it sees: the app must not define
    any (a Space's source folder stays as uploaded)."""
    app.build_demo()
    assert not (ROOT / "app.pyi").exists()


def test_handler_parameters_are_the_request_fields_and_the_documented_api(app):
    fields = set(InpaintRequest.__dataclass_fields__)
    documented = ["photo", "mask_image", "exemplar", "exemplar_b", "more_exemplars", "n_samples", "seed",
                  "truncation", "strength", "custom_phi", "phi_latents", "mode", "crossover", "align", "face",
                  "align_exemplars", "fit"]
    assert app.api_parameters(app.inpaint) == documented and set(documented) == fields
    sweep_params = app.api_parameters(app.mixing_sweep)
    assert sweep_params == [p for p in documented if p not in ("more_exemplars", "n_samples", "mode", "crossover")]


def test_handlers_return_the_components_values(app):
    ed = editor(PHOTO, rgba_layer(PHOTO.shape, BOX))
    gallery, masked, (original, first), status, aligned, orig_state, chosen = app.inpaint(
        ed, **{**ARGS, "n_samples": 3})
    assert chosen == gallery[0][0] == first  # "edit further" takes the first result until another one is selected
    assert len(gallery) == 3 and gallery[1][1] == "exemplar 1 · seed 1" and aligned is None  # sample 2: seed 0 + 1
    assert [Path(f).name for f, _ in gallery] == ["photo_e1_s0.png", "photo_e1_s1.png", "photo_e1_s2.png"]
    assert np.array_equal(read(original), PHOTO) and orig_state == original
    assert np.array_equal(read(masked)[~hole_of(BOX)], PHOTO[~hole_of(BOX)]) and "3 results" in status
    # every picture is a PNG file of this request's own folder (Gradio rewrites a returned PIL image's cache file
    # in place, which races when two requests return the same picture): a second request shares no file
    again = app.inpaint(ed, **{**ARGS, "n_samples": 3})
    files = [f for f, _ in gallery] + [masked, original]
    assert len({Path(f).parent for f in files}) == 1
    assert {Path(f).parent for f in files}.isdisjoint({Path(again[1]).parent, Path(again[2][0]).parent})
    assert np.array_equal(read(again[1]), read(masked))  # same picture, another file
    sweep_args = {k: v for k, v in ARGS.items() if k not in ("more_exemplars", "n_samples", "mode", "crossover")}
    gallery, masked, comparison, strip, status, aligned, original, chosen = app.mixing_sweep(
        ed, **{**sweep_args, "exemplar_b": EXEMPLAR[::-1]})
    strip = Image.open(strip)
    assert len(gallery) == 5 and strip.size == (5 * round(64 * 256 / 48) + 8, 256) and "sweep of 5" in status


def test_user_errors_become_one_gradio_error_without_stray_quotes(app, tmp_path, monkeypatch):
    import gradio as gr

    monkeypatch.setenv("EXEGAN_APP_ALLOW_MODEL_SWITCH", "1")

    ed = editor(PHOTO, rgba_layer(PHOTO.shape, BOX))
    with pytest.raises(gr.Error) as err:
        app.inpaint(ed, **{**ARGS, "exemplar": None})
    assert err.value.message.startswith("Add at least one exemplar face:") and err.value.message.endswith(".")
    with pytest.raises(gr.Error, match="two exemplars"):
        app.mixing_sweep(ed, **{k: v for k, v in ARGS.items()
                                if k not in ("more_exemplars", "n_samples", "mode", "crossover")})
    with pytest.raises(gr.Error) as err:
        app.load_model(" ", "", "")
    assert err.value.message.startswith("Give a model folder")
    app.MANAGER = demo.ModelManager(source=str(tmp_path / "missing"))
    with pytest.raises(gr.Error) as err:
        app.inpaint(ed, **ARGS)
    assert err.value.message.startswith("No model is loaded")


def test_model_panel_and_control_updates(app, tmp_path, monkeypatch):
    import gradio as gr

    monkeypatch.setenv("EXEGAN_APP_ALLOW_MODEL_SWITCH", "1")

    none = demo.ModelManager(source=str(tmp_path / "missing"))
    info, *updates = app.control_updates(none)
    assert "No model is loaded" in info and all(u == gr.update() for u in updates)
    make_tiny().save_pretrained(tmp_path / "tiny")
    app.MANAGER = demo.ModelManager(source=str(tmp_path / "missing"))
    info, strength, latents, crossover = app.load_model(str(tmp_path / "tiny"), "", "")
    assert "tiny-test" in info and "32×32" in info and "licence:** test" in info
    assert strength["maximum"] == 8 and strength["value"] == 4 and latents["value"] == [4, 5, 6, 7]
    assert crossover["value"] == 2
    assert app._sync_latents(2)["value"] == [6, 7] and app._sync_latents(4)["value"] == [4, 5, 6, 7]
    assert app._sync_latents(99) == gr.update()


def test_compare_picks_the_selected_result(app):
    class Evt:
        index = 1

    gal = [("a.png", "x"), ("b.png", "y")]
    assert app._show_selected("orig.png", gal, Evt()) == (("orig.png", "b.png"), "b.png")
    assert app._show_selected("orig.png", gal, None) == (("orig.png", "a.png"), "a.png")
    assert app._show_selected(None, gal, None) == (None, None)


def test_a_result_becomes_the_photo_and_is_edited_again(app):
    """Iterative editing: the chosen result is the editor's new photo with nothing painted; filling another part
    of it keeps every pixel of that result outside the new hole."""
    import gradio as gr

    ed = editor(PHOTO, rgba_layer(PHOTO.shape, BOX))
    gallery, *_, chosen = app.inpaint(ed, **{**ARGS, "n_samples": 2})
    value = app.use_as_photo(chosen)
    assert value["layers"] == [] and value["background"] == chosen
    first = np.asarray(Image.open(chosen).convert("RGB"))
    box2 = (2, 10, 30, 44)  # another region, overlapping the first hole's edge
    again = editor(first, rgba_layer(first.shape, box2))
    gallery2, *_ = app.inpaint(again, **{**ARGS, "n_samples": 1, "seed": 7})
    second = np.asarray(Image.open(gallery2[0][0]).convert("RGB"))
    keep = ~hole_of(box2)
    assert np.array_equal(second[keep], first[keep]) and not np.array_equal(second, first)
    with pytest.raises(gr.Error, match="Generate results first"):
        app.use_as_photo(None)


def test_failures_are_kept_per_session_for_the_status(app):
    """The last error of a browser session is shown once in its status; API calls without a session keep
    nothing; the store is bounded."""
    import gradio as gr

    class Req:
        def __init__(self, key):
            self.session_hash = key

    ed = editor(PHOTO, rgba_layer(PHOTO.shape, BOX))
    with pytest.raises(gr.Error):
        app.inpaint(ed, **{**ARGS, "exemplar": None}, request=Req("s1"))
    shown = app.show_failure(Req("s1"))
    assert shown.startswith("❌ Add at least one exemplar face")
    assert app.show_failure(Req("s1")) == gr.update() and app.show_failure(Req("other")) == gr.update()
    with pytest.raises(gr.Error):
        app.inpaint(ed, **{**ARGS, "exemplar": None})  # no request: nothing stored
    failures = app.Failures(limit=3)
    for i in range(5):
        failures.put(Req(i), f"error {i}")
    assert [failures.pop(Req(i)) for i in range(5)] == [None, None, "error 2", "error 3", "error 4"]


def test_detect_faces_fills_the_face_list(app, detector):
    from test_align import mx

    scene = np.asarray(mx.place(mx.backdrop(480, 360, (120, 150, 140), 0), mx.PHOTO, (300, 170), 220, 12))
    dd, preview, msg = app.detect_faces(editor(scene))
    assert [c[1] for c in dd["choices"]] == [0, 1] and dd["value"] == 0  # default: the face under the mask
    assert "One face" in msg and read(preview).shape[:2] == (360, 480)
    dd, _, msg = app.detect_faces(editor(np.full((48, 64, 3), 90, np.uint8)))
    assert dd["choices"] == [] and dd["value"] is None and "No face found" in msg


def test_face_part_masks_join_the_painted_layer(detector):
    from exegan import regions
    from test_align import mx

    scene = np.asarray(mx.place(mx.backdrop(480, 360, (120, 150, 140), 0), mx.PHOTO, (300, 170), 220, 12))
    painted = np.zeros((360, 480, 4), np.uint8)
    painted[10:30, 10:40] = (255, 0, 204, 153)  # an earlier brush stroke is kept
    value, message = demo.add_region(editor(scene, painted), "mouth")
    face = detector(Image.fromarray(scene))[0]
    mouth = regions.region_mask("mouth", face.landmarks, (480, 360))
    _, hole = demo.read_photo_and_mask(value)
    assert np.array_equal(hole, mouth | (painted[..., 3] > 0)) and mouth.sum() > 500
    assert message.startswith("Mouth added to the mask") and np.array_equal(np.asarray(value["background"]), scene)
    again, _ = demo.add_region(value, "eyes")  # parts accumulate, the layer stays editable
    _, both = demo.read_photo_and_mask(again)
    assert np.array_equal(both, hole | regions.region_mask("eyes", face.landmarks, (480, 360)))
    with pytest.raises(DemoError, match="No face found in the photo, so its parts cannot be located"):
        demo.add_region(editor(np.full((64, 64, 3), 90, np.uint8)), "eyes")
    with pytest.raises(DemoError, match="Unknown face part 'ears'"):
        demo.add_region(editor(scene), "ears")
