"""The demo served on 127.0.0.1 (a random free port) and driven through ``gradio_client``: every named endpoint,
the ImageEditor payload, errors that do not break the next request, concurrent requests, and flat memory."""

import gc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, running_app

EX = ROOT / "assets" / "examples"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app with a tiny model, launched in this process; yields (client, app module, work dir)."""
    from gradio_client import Client

    work = tmp_path_factory.mktemp("app")
    with running_app(work) as (demo, app):
        yield Client(demo.local_url, verbose=False), app, work


def photo_files(work: Path, size=(96, 80), box=(20, 50, 30, 70)):
    """A photo, an RGBA editor layer painted over ``box`` (y0, y1, x0, x1) and the matching hole."""
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    layer = np.zeros((size[1], size[0], 4), np.uint8)
    y0, y1, x0, x1 = box
    layer[y0:y1, x0:x1] = (255, 0, 204, 153)
    Image.fromarray(photo).save(work / "photo.png")
    Image.fromarray(layer).save(work / "layer.png")
    hole = layer[..., 3] > 0
    return photo, hole


def editor_payload(photo_path, *layers):
    from gradio_client import handle_file

    return {"background": handle_file(str(photo_path)), "layers": [handle_file(str(p)) for p in layers],
            "composite": None, "id": None}


def inpaint_args(work, **kw):
    from gradio_client import handle_file

    args = dict(photo=editor_payload(work / "photo.png", work / "layer.png"), mask_image=None,
                exemplar=handle_file(str(EX / "exemplar_glasses.png")), exemplar_b=None, more_exemplars=[],
                n_samples=4, seed=5, truncation=1.0, strength=4, custom_phi=False, phi_latents=[],
                mode="separate", crossover=2, align=False, face=None, align_exemplars=False, fit="pad",
                api_name="/inpaint")
    args.update(kw)
    return args


def test_named_endpoints(server):
    client, _, _ = server
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/inpaint", "/mixing_sweep", "/detect_faces", "/random_seed", "/model_info", "/load_model"} <= names


def test_inpaint_through_the_api_keeps_known_pixels(server):
    client, _, work = server
    photo, hole = photo_files(work)
    gallery, masked, comparison, status, aligned = client.predict(**inpaint_args(work))
    assert len(gallery) == 4 and gallery[1]["caption"] == "exemplar 1 · seed 6"  # sample 2 was drawn from seed 5 + 1
    assert Path(gallery[1]["image"]).name == "photo_e1_s6.png"  # downloads keep the exemplar and the seed
    outs = [np.asarray(Image.open(g["image"]).convert("RGB")) for g in gallery]
    for out in outs:
        assert out.shape == photo.shape and np.array_equal(out[~hole], photo[~hole])
        assert (out[hole] != photo[hole]).any(axis=-1).mean() > 0.9
    assert len({o.tobytes() for o in outs}) == 4  # four different samples
    assert np.array_equal(np.asarray(Image.open(comparison[0]).convert("RGB")), photo)
    assert Image.open(masked).size == (96, 80) and "4 results" in status and aligned is None
    again = client.predict(**inpaint_args(work))[0]
    assert np.array_equal(np.asarray(Image.open(again[0]["image"]).convert("RGB")), outs[0])  # same seed


def test_omitted_parameters_take_the_models_defaults(server):
    from gradio_client import handle_file

    client, _, work = server
    photo, hole = photo_files(work)
    gallery, _, _, status, _ = client.predict(photo=editor_payload(work / "photo.png", work / "layer.png"),
                                           mask_image=None, exemplar=handle_file(str(EX / "exemplar_smile.png")),
                                           exemplar_b=None, more_exemplars=[], face=None, api_name="/inpaint")
    assert len(gallery) == 4 and gallery[0]["caption"].endswith("seed 0")  # 4 samples, seed 0, official phi
    params = {p["parameter_name"]: p for p in
              client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/inpaint"]["parameters"]}
    assert params["strength"]["parameter_default"] == 4 and params["crossover"]["parameter_default"] == 2


def test_mask_upload_two_exemplars_mixing_and_sweep(server):
    from gradio_client import handle_file

    client, _, work = server
    photo, hole = photo_files(work)
    Image.fromarray(hole.astype(np.uint8) * 255).save(work / "mask.png")
    two = dict(photo=editor_payload(work / "photo.png"), mask_image=handle_file(str(work / "mask.png")),
               exemplar_b=handle_file(str(EX / "exemplar_beard.png")))
    gallery = client.predict(**inpaint_args(work, n_samples=2, more_exemplars=[handle_file(str(EX / "photo.png"))],
                                            **two))[0]
    captions = [g["caption"] for g in gallery]
    assert captions[1:3] == ["exemplar 1 · seed 6", "exemplar 2 · seed 5"]
    assert len(gallery) == 6 and gallery[-1]["caption"] == "exemplar 3 · seed 6"
    mixed = client.predict(**inpaint_args(work, n_samples=3, mode="mix", crossover=1, **two))[0]
    assert len(mixed) == 3 and mixed[0]["caption"].startswith("A+B mixed at 1")
    args = inpaint_args(work, **two)
    for key in ("more_exemplars", "n_samples", "mode", "crossover"):
        args.pop(key)
    gallery, _, _, strip, status, _ = client.predict(**{**args, "api_name": "/mixing_sweep"})
    assert len(gallery) == 5 and Image.open(strip).height == 256 and "sweep" in status
    for g in gallery:
        assert np.array_equal(np.asarray(Image.open(g["image"]).convert("RGB"))[~hole], photo[~hole])


def test_small_endpoints(server):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client, _, work = server
    seed = client.predict(api_name="/random_seed")
    assert isinstance(seed, (int, float)) and 0 <= seed < 2 ** 31
    info, strength, latents, crossover = client.predict(api_name="/model_info")
    assert "tiny-test" in info and "32×32" in info and "licence" in info
    assert str(work) not in info  # no server path reaches a visitor
    faces, preview, msg = client.predict(photo=editor_payload(EX / "two_faces.png"), api_name="/detect_faces")
    if "not available" not in msg:
        assert "2 faces" in msg and [c[1] for c in faces["choices"]] == [0, 1, 2] and faces["value"] == 0
        assert Image.open(preview).size == (480, 300)
        layer = np.zeros((300, 480, 4), np.uint8)
        layer[140:170, 320:380] = (255, 0, 204, 153)  # the eyes of the smaller face (face 2)
        Image.fromarray(layer).save(work / "layer2.png")
        painted = editor_payload(EX / "two_faces.png", work / "layer2.png")
        out = client.predict(**inpaint_args(work, photo=painted, n_samples=1, align=True, face=None))
        assert "filling face 2" in out[3]  # no choice made: the face under the mask
        with pytest.raises(AppError, match=r"does not cover face 1 \(it covers face 2\)"):
            client.predict(**inpaint_args(work, photo=painted, n_samples=1, align=True, face=1))
    info = client.predict(source=str(work / "tiny"), exe_checkpoint="", psp_checkpoint="",
                          api_name="/load_model")[0]
    assert "tiny-test" in info
    # aligned run on a drawn photo with a face: the full photo comes back
    out = client.predict(**inpaint_args(work, photo=editor_payload(EX / "photo_tilted.png"), n_samples=1,
                                        mask_image=handle_file(str(EX / "photo_tilted_mask.png")), align=True,
                                        align_exemplars=True))
    assert Image.open(out[0][0]["image"]).size == (480, 360) and Image.open(out[4]).size == (256, 256)


def test_face_part_endpoint_then_inpaint_fills_only_that_part(server, detector):
    from gradio_client import handle_file
    from exegan import regions

    client, _, work = server
    tilted = EX / "photo_tilted.png"
    value, message, part = client.predict(photo=editor_payload(tilted), region="eyes", face=None,
                                          api_name="/add_region")
    assert message.startswith("Eyes added to the mask") and part is None  # the selector is cleared
    original = np.asarray(Image.open(tilted).convert("RGB"))
    eyes = regions.region_mask("eyes", detector(Image.fromarray(original))[0].landmarks, (480, 360))
    layer = np.asarray(Image.open(value["layers"][0]).convert("RGBA"))[..., 3] > 0
    assert np.array_equal(layer, eyes)
    edited = {"background": handle_file(value["background"]), "layers": [handle_file(value["layers"][0])],
              "composite": None, "id": None}
    out = client.predict(**inpaint_args(work, photo=edited, n_samples=1, align=True, face=None))
    result = np.asarray(Image.open(out[0][0]["image"]).convert("RGB"))
    changed = (result != original).any(-1)
    assert result.shape == original.shape and not (changed & ~eyes).any() and changed[eyes].mean() > 0.5


def test_sixteen_bit_and_cmyk_photos_through_the_editor_payload(server):
    client, _, work = server
    photo, hole = photo_files(work)
    gray = photo[..., 1]
    Image.fromarray(gray.astype(np.uint16) * 257).save(work / "photo16.png")
    Image.fromarray(photo).convert("CMYK").save(work / "photo_cmyk.jpg", quality=95)
    out = client.predict(**inpaint_args(work, photo=editor_payload(work / "photo16.png", work / "layer.png"),
                                        n_samples=1))
    result = np.asarray(Image.open(out[0][0]["image"]).convert("RGB"))
    assert np.array_equal(result[~hole], np.dstack([gray] * 3)[~hole])  # scaled to 8 bit, not clipped to white
    assert (result[..., 0] == result[..., 1]).all() and (result[..., 1] == result[..., 2]).all()  # grey in, grey out
    out = client.predict(**inpaint_args(work, photo=editor_payload(work / "photo_cmyk.jpg", work / "layer.png"),
                                        n_samples=1))
    result = np.asarray(Image.open(out[0][0]["image"]).convert("RGB")).astype(int)
    assert np.abs(result[~hole] - photo[~hole]).mean() < 12  # CMYK JPEG decoded to RGB (lossy file)


def test_errors_are_clear_and_do_not_break_the_next_request(server):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client, _, work = server
    photo_files(work)
    (work / "notes.png").write_text("not an image at all")
    with pytest.raises(AppError, match="^Add at least one exemplar"):  # verbatim: no quotes from double wrapping
        client.predict(**inpaint_args(work, exemplar=None))
    with pytest.raises(AppError, match="^Style mixing needs two exemplars"):
        client.predict(**inpaint_args(work, mode="mix"))
    with pytest.raises(AppError, match="(?i)image"):
        client.predict(**inpaint_args(work, mask_image=handle_file(str(work / "notes.png"))))
    with pytest.raises(AppError, match="minimum"):  # Gradio checks the slider range itself
        client.predict(**inpaint_args(work, n_samples=0))
    with pytest.raises(AppError, match="Give a model"):
        client.predict(source="", exe_checkpoint="", psp_checkpoint="", api_name="/load_model")
    empty = client.predict(**inpaint_args(work, photo=editor_payload(work / "photo.png")))
    assert len(empty[0]) == 1 and "mask is empty" in empty[3]
    assert len(client.predict(**inpaint_args(work))[0]) == 4


def test_unreadable_and_oversized_uploads_are_named_without_server_paths(server):
    """Files Gradio cannot decode reach exegan's readers (not Gradio's "Could not preprocess input component"):
    the message names the input, the file by its own name only, and what to use instead."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    client, _, work = server
    photo_files(work)
    (work / "notes.png").write_text("not an image at all")
    Image.new("L", (9000, 8000)).save(work / "huge.png")  # 72 MP: over the decompression-bomb limit
    cases = [("The photo could not be read: notes.png: not a recognised image", dict(
                 photo=editor_payload(work / "notes.png", work / "layer.png"))),
             ("The photo could not be read: image too large", dict(
                 photo=editor_payload(work / "huge.png", work / "layer.png"))),
             ("The painted mask layer could not be read", dict(
                 photo=editor_payload(work / "photo.png", work / "notes.png"))),
             ("Exemplar A could not be read: notes.png: not a recognised image", dict(
                 exemplar=handle_file(str(work / "notes.png")))),
             ("Exemplar B could not be read: image too large", dict(exemplar_b=handle_file(str(work / "huge.png")))),
             ("The mask image could not be read: notes.png", dict(mask_image=handle_file(str(work / "notes.png"))))]
    for expected, kw in cases:
        with pytest.raises(AppError) as err:
            client.predict(**inpaint_args(work, **kw))
        message = str(err.value)
        assert message.startswith(expected), message
        assert "preprocess" not in message and "/tmp" not in message and "gradio" not in message, message
    assert len(client.predict(**inpaint_args(work))[0]) == 4  # and the next request is served


def test_concurrent_requests_all_succeed(server):
    client, _, work = server
    photo, hole = photo_files(work)
    jobs = [client.submit(**inpaint_args(work, seed=s, n_samples=2)) for s in range(3)]
    results = [j.result(timeout=120) for j in jobs]
    firsts = {np.asarray(Image.open(r[0][0]["image"])).tobytes() for r in results}
    assert len(firsts) == 3
    with ThreadPoolExecutor(2) as pool:  # and from two threads with their own clients
        from gradio_client import Client

        outs = list(pool.map(lambda s: Client(client.src, verbose=False).predict(**inpaint_args(work, seed=s)),
                             [7, 8]))
    assert all(len(o[0]) == 4 for o in outs)


def test_memory_stays_flat_over_twenty_requests(server):
    client, _, work = server
    photo_files(work, size=(160, 128), box=(30, 90, 40, 120))
    for s in range(3):  # warm-up: caches, allocator, thread pools
        client.predict(**inpaint_args(work, seed=s, n_samples=2))
    gc.collect()
    before = rss_mb()
    for s in range(20):
        client.predict(**inpaint_args(work, seed=100 + s, n_samples=2))
    gc.collect()
    growth = rss_mb() - before
    print(f"RSS growth over 20 requests: {growth:.1f} MB (from {before:.0f} MB)")
    assert growth < 150
