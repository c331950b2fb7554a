"""train/data.py: the image-folder dataset (skipping bad files, determinism) and the offline synthetic faces."""

import os
import time
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from exegan.synthetic_faces import SyntheticFaces, dcgan_weights_path, load_dcgan_generator
from train.data import ImageFolderDataset, image_files


def _save(path, array, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path, **kw)
    return path


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    bands = np.zeros((20, 60, 3), np.uint8)  # 60x20: red | green | blue bands, the centre square is all green
    bands[:, :20, 0] = 255
    bands[:, 20:40, 1] = 255
    bands[:, 40:, 2] = 255
    _save(tmp_path / "a" / "b" / "bands.png", bands)
    _save(tmp_path / "a" / "photo.jpg", rng.integers(0, 256, (33, 27, 3)), quality=95)
    _save(tmp_path / "c" / "z_last.png", rng.integers(0, 256, (24, 24, 3)))
    good = (tmp_path / "c" / "z_last.png").read_bytes()
    (tmp_path / "a" / "corrupt.png").write_bytes(good[: len(good) // 2])  # truncated PNG
    (tmp_path / "a" / "text.png").write_text("this is not an image\n")  # a text file named .png
    (tmp_path / "notes.txt").write_text("ignored: not an image extension")
    _save(tmp_path / ".hidden" / "h.png", np.zeros((8, 8, 3)))  # hidden folders are ignored
    return tmp_path


def _collect(ds):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        items = [ds[i] for i in range(len(ds))]
    return items, [w for w in caught if issubclass(w.category, UserWarning)]


def test_folder_listing_is_recursive_sorted_and_filtered(folder):
    names = [p.relative_to(folder).as_posix() for p in image_files(folder)]
    assert names == ["a/b/bands.png", "a/corrupt.png", "a/photo.jpg", "a/text.png", "c/z_last.png"]


def test_bad_files_are_skipped_with_one_warning_each(folder):
    ds = ImageFolderDataset(folder, 16, random_flip=False)
    assert len(ds) == 5 and ds.skipped == 0
    items, warned = _collect(ds)
    assert ds.skipped == 2 and len(warned) == 2
    assert {p.name for p in ds.bad_files} == {"corrupt.png", "text.png"}
    assert any("corrupt.png" in str(w.message) for w in warned) and any("text.png" in str(w.message) for w in warned)
    for x in items:
        assert x.shape == (3, 16, 16) and x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1
    # a bad item is replaced by the next readable file in sorted order
    assert torch.equal(items[1], items[2]) and torch.equal(items[3], items[4])
    # second pass: no new warnings, identical tensors; a fresh dataset gives the same tensors too
    again, warned_again = _collect(ds)
    assert not warned_again and ds.skipped == 2
    assert all(torch.equal(a, b) for a, b in zip(items, again))
    fresh, _ = _collect(ImageFolderDataset(folder, 16, random_flip=False))
    assert all(torch.equal(a, b) for a, b in zip(items, fresh))


def test_shorter_side_resize_and_center_crop(folder):
    ds = ImageFolderDataset(folder, 20, random_flip=False)
    green = ds[0]  # bands.png: 60x20 -> the centre 20x20 square, no resampling at this size
    assert torch.equal(green[1], torch.ones(20, 20)) and torch.equal(green[0], -torch.ones(20, 20))
    small = ImageFolderDataset(folder, 8, random_flip=False)[0]  # LANCZOS-downscaled: still green in the middle
    assert small[1, 2:6, 2:6].min() > 0.9 and small[0, 2:6, 2:6].abs().max() > 0.9 and small[0, 2:6, 2:6].max() < -0.9


def test_random_flip_is_a_pure_function_of_seed_epoch_index(folder):
    plain = ImageFolderDataset(folder, 16, random_flip=False)
    ds = ImageFolderDataset(folder, 16, random_flip=True, seed=3)
    flips = [ds.flipped(i) for i in range(400)]
    assert 0.4 < np.mean(flips) < 0.6
    assert flips == [ImageFolderDataset(folder, 16, seed=3).flipped(i) for i in range(400)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in (0, 2, 4):
            expected = torch.flip(plain[i], dims=[2]) if ds.flipped(i) else plain[i]
            assert torch.equal(ds[i], expected)
    assert torch.equal(ds.get(0, epoch=0), ds[0])
    epoch1 = [ds.flipped(i, epoch=1) for i in range(400)]
    assert epoch1 != flips and 0.4 < np.mean(epoch1) < 0.6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in (0, 2, 4):
            expected = torch.flip(plain[i], dims=[2]) if epoch1[i] else plain[i]
            assert torch.equal(ds.get(i, epoch=1), expected)
    ds.set_epoch(1)
    assert [ds.flipped(i) for i in range(400)] == epoch1
    assert not any(plain.flipped(i) for i in range(50))


def test_empty_missing_and_unreadable_folders(tmp_path):
    with pytest.raises(ValueError, match="no image files"):
        ImageFolderDataset(tmp_path, 16)
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match="no image files"):
        ImageFolderDataset(tmp_path, 16)
    with pytest.raises(FileNotFoundError):
        ImageFolderDataset(tmp_path / "nope", 16)
    (tmp_path / "fake.jpg").write_bytes(b"not a jpeg")
    ds = ImageFolderDataset(tmp_path, 16)
    with pytest.warns(UserWarning, match="fake.jpg"), pytest.raises(RuntimeError, match="could be read"):
        ds[0]
    with pytest.raises(IndexError):
        ds[1]


# --------------------------------------------------------------------------------------------- synthetic faces
@pytest.fixture(scope="module")
def faces():
    return SyntheticFaces(length=40, seed=0, chunk=8)


def test_dcgan_weights_load_strictly():
    net = load_dcgan_generator()
    state = torch.load(dcgan_weights_path(), map_location="cpu", weights_only=True)["netG_state_dict"]
    ours = net.state_dict()
    assert list(ours) == list(state)
    assert all(torch.equal(ours[k], state[k]) for k in state)
    assert not net.training and not any(p.requires_grad for p in net.parameters())


def test_synthetic_faces_are_deterministic_and_in_range(faces):
    assert len(faces) == 40
    rng_state = torch.get_rng_state()
    x5 = faces[5]
    assert x5.shape == (3, 64, 64) and x5.dtype == torch.float32
    other = SyntheticFaces(length=40, seed=0, chunk=5)  # a different chunking reaches the same item
    assert torch.equal(other[5], x5) and torch.equal(faces[5], x5)
    assert torch.equal(torch.get_rng_state(), rng_state)  # the global torch RNG is never used
    assert not torch.equal(faces[6], x5)
    batch = faces.batch(range(16))
    assert batch.min() >= -1 and batch.max() <= 1
    assert torch.equal(batch * 127.5 + 127.5, (batch * 127.5 + 127.5).round())  # 8-bit like real data
    per_image_std = batch.flatten(1).std(dim=1)
    assert per_image_std.min() > 0.1 and 0.2 < batch.std() < 0.8  # images, not blank or saturated noise
    # neighbouring pixels are strongly correlated in generated faces (unlike noise)
    dx = (batch[..., 1:] - batch[..., :-1]).abs().mean()
    assert dx < 0.35 * batch.std()
    with pytest.raises(IndexError):
        faces[40]


def test_synthetic_faces_seeds_and_held_out(faces):
    held = SyntheticFaces(length=40, seed=0, held_out=True, chunk=8)
    seed1 = SyntheticFaces(length=40, seed=1, chunk=8)
    assert not np.array_equal(held.latent(3), faces.latent(3))
    assert not torch.equal(held[3], faces[3]) and not torch.equal(seed1[3], faces[3])
    assert np.array_equal(faces.latent(3), np.random.default_rng([0, 0, 3]).standard_normal(100, dtype=np.float32))


def test_synthetic_faces_other_resolutions(faces):
    for res in (32, 96):
        ds = SyntheticFaces(resolution=res, length=40, chunk=8)
        x = ds[2]
        assert x.shape == (3, res, res) and x.min() >= -1 and x.max() <= 1
        ref = torch.nn.functional.interpolate(faces[2][None], size=(res, res), mode="bilinear",
                                              align_corners=False, antialias=res < 64)[0].clamp(-1, 1)
        assert torch.allclose(x, ref)


def test_synthetic_faces_cache_bound():
    ds = SyntheticFaces(length=40, chunk=4, max_cached_chunks=2)
    first = ds[0].clone()
    for i in range(4, 40, 4):
        ds[i]
    assert len(ds._cache) == 2
    assert torch.equal(ds[0], first)  # regenerated after eviction: identical


def test_synthetic_faces_speed(capsys):
    """Measured, not asserted (shared CPUs): about 2.5-7 ms per face on 2 cores, i.e. 1k faces in 2.5-7 s."""
    ds = SyntheticFaces(length=256)
    t = time.perf_counter()
    ds.batch(range(256))
    with capsys.disabled():
        print(f"\n256 synthetic faces in {time.perf_counter() - t:.2f} s")


def test_image_files_skip_fifos_and_devices(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    os.mkfifo(tmp_path / "pipe.png")  # reading it would hang the data loader
    os.symlink("/dev/zero", tmp_path / "zero.png")  # reading it would never end
    os.symlink(tmp_path / "a.png", tmp_path / "link.png")  # a link to a real image still counts
    assert [p.name for p in image_files(tmp_path)] == ["a.png", "link.png"]
