"""stylo learn: the training loop (tiny backbone), the .stylo.pt file, resume and stop, `stylo run --network`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylo.cli import main
from stylo.config import Settings
from stylo.errors import StyloError
from stylo.learn import LearnSettings, Network, Photo, learn
from stylo.learn.file import read
from stylo.learn.scoring import Scorer, crop_loss
from stylo.learn.train import checkpoint_path, style_tensors

FAST = LearnSettings(steps=4, crop=32, lr=1e-2, train="norms")
S = Settings(size=64)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Photo], Path]:
    """Three small training photos (scikit-image's, not the panel's), also as a folder."""
    skimage_data = pytest.importorskip("skimage.data")
    folder = tmp_path_factory.mktemp("photos")
    out = []
    for name in ("camera", "brick", "hubble_deep_field"):
        img = Image.fromarray(getattr(skimage_data, name)()).convert("RGB")
        img.thumbnail((80, 80))
        img.save(folder / f"{name}.png")
        out.append(Photo(name, img))
    return out, folder


def _learn(style: Path, output: Path, photos: list[Photo], tiny, ls: LearnSettings = FAST, **kw):
    return learn([style], output, photos, S, ls, net=tiny, device="cpu", **kw)


def test_training_lowers_the_objective_on_held_out_crops(small_images, photos, tiny, tmp_path):
    content, style = small_images
    # the held-out score has no colour term
    ls = LearnSettings(steps=25, crop=32, lr=1e-2, train="norms", color_weight=0.0)
    result = _learn(style, tmp_path / "n.stylo.pt", photos[0], tiny, ls)
    network = Network.load(tmp_path / "n.stylo.pt")
    from stylo.image import to_tensor
    from stylo.networks import load_file

    scorer = Scorer(tiny, S, style_tensors([Image.open(style).convert("RGB")], S, torch.device("cpu")), [1.0])
    held_out = to_tensor(Image.open(content).convert("RGB"))  # Tübingen: a panel photo, never trained on
    crops = [held_out[..., :48, :48], held_out[..., -48:, -48:], held_out]
    before = sum(crop_loss(load_file(None).transform, network.code, c, scorer) for c in crops)
    after = sum(crop_loss(network.transform, network.code, c, scorer) for c in crops)
    assert result.steps == 25 and not result.interrupted
    assert after < 0.8 * before


def test_the_file_round_trips_and_records_what_it_was(small_images, photos, tiny, tmp_path):
    content, style = small_images
    path = _learn(style, tmp_path / "n.stylo.pt", photos[0], tiny).output
    contents = read(path)
    assert contents.settings == S.to_dict() and contents.learn == FAST.to_dict() and contents.trained == "norms"
    assert contents.styles[0]["sha256"] == hashlib.sha256(style.read_bytes()).hexdigest()
    assert contents.styles[0]["name"] == style.name and contents.steps_done == 4
    assert contents.photos == ["camera", "brick", "hubble_deep_field"]
    import stylo

    assert contents.stylo_version == stylo.__version__
    network = stylo.Network.load(path)
    photo = Image.open(content).convert("RGB")
    painted = network(photo)
    assert painted.size == photo.size and painted.mode == "RGB"
    from stylo.image import to_tensor

    expected = network.transform(to_tensor(photo), contents.code).clamp(0, 1)
    assert torch.allclose(network(to_tensor(photo)), expected, atol=1e-6)
    assert network.styles()[0].size == Image.open(style).size  # the style image travels in the file


def test_only_norms_change_when_training_norms(small_images, photos, tiny, tmp_path):
    _, style = small_images
    from stylo.networks import load_file

    original = load_file(None).transform.state_dict()
    trained = read(_learn(style, tmp_path / "n.stylo.pt", photos[0], tiny).output).transform
    changed = {k for k in original if not torch.equal(original[k], trained[k])}
    assert changed and all(".scale." in k or ".shift." in k for k in changed)


def _foreign_files(tmp_path: Path, good: Path) -> dict[str, Path]:
    files = {}
    files["random"] = tmp_path / "random.stylo.pt"
    files["random"].write_bytes(b"\x00not a network" * 50)
    files["other_torch"] = tmp_path / "other.stylo.pt"
    torch.save({"weights": torch.zeros(3)}, files["other_torch"])
    files["truncated"] = tmp_path / "truncated.stylo.pt"
    files["truncated"].write_bytes(good.read_bytes()[:2000])
    data = torch.load(good, weights_only=True)
    del data["transform"]
    files["damaged"] = tmp_path / "damaged.stylo.pt"
    torch.save(data, files["damaged"])
    data = torch.load(good, weights_only=True)
    data["transform"] = {"conv1.weight": torch.zeros(1)}
    files["wrong_weights"] = tmp_path / "wrong.stylo.pt"
    torch.save(data, files["wrong_weights"])
    files["code"] = tmp_path / "code.stylo.pt"  # a pickle that would run code: weights_only refuses it
    files["code"].write_bytes(f"cos\nsystem\n(S'touch {tmp_path / 'ran'}'\ntR.".encode())
    return files


def test_a_file_stylo_did_not_write_is_refused_in_one_line(small_images, photos, tiny, tmp_path, capsys):
    content, style = small_images
    good = _learn(style, tmp_path / "n.stylo.pt", photos[0], tiny).output
    for kind, path in _foreign_files(tmp_path, good).items():
        with pytest.raises(StyloError) as err:
            Network.load(path)
        expected = "damaged" if kind in ("damaged", "wrong_weights") else "is not a stylo network file"
        assert expected in str(err.value), kind
        out = tmp_path / f"{kind}.png"
        assert main(["run", str(content), "--network", str(path), "-o", str(out)]) == 2
        err_text = capsys.readouterr().err
        assert err_text.count("\n") == 1 and err_text.startswith("stylo: ") and "Traceback" not in err_text, kind
        assert not out.exists()
    assert not (tmp_path / "ran").exists()  # no code ran while reading


def test_stop_saves_and_resume_continues(small_images, photos, tiny, tmp_path):
    _, style = small_images
    ls = LearnSettings(steps=6, crop=32, lr=1e-2, train="norms")
    _learn(style, tmp_path / "a.stylo.pt", photos[0], tiny, ls)
    calls = []
    out = tmp_path / "b.stylo.pt"
    stopped = _learn(style, out, photos[0], tiny, ls, should_stop=lambda: len(calls) >= 3,
                     on_step=calls.append)
    assert stopped.interrupted and stopped.steps == 3
    assert read(out).steps_done == 3 and checkpoint_path(out).exists()  # Ctrl-C saves both
    steps_seen = []
    resumed = _learn(style, out, photos[0], tiny, ls, resume=True, on_step=lambda st: steps_seen.append(st.step))
    assert steps_seen == [4, 5, 6] and resumed.steps == 6 and not resumed.interrupted
    assert not checkpoint_path(out).exists()
    a, b = read(tmp_path / "a.stylo.pt").transform, read(out).transform
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)  # the parameters continued, not restarted


def test_resume_refuses_another_training(small_images, photos, tiny, tmp_path):
    _, style = small_images
    out = tmp_path / "b.stylo.pt"
    _learn(style, out, photos[0], tiny, should_stop=lambda: True)
    assert checkpoint_path(out).exists()
    with pytest.raises(StyloError, match="another training"):
        _learn(style, out, photos[0], tiny, LearnSettings(steps=4, crop=32, lr=2e-2), resume=True)
    with pytest.raises(StyloError, match="no checkpoint"):
        _learn(style, tmp_path / "none.stylo.pt", photos[0], tiny, resume=True)


def test_a_checkpoint_is_written_while_training(small_images, photos, tiny, tmp_path):
    _, style = small_images
    out = tmp_path / "c.stylo.pt"
    seen = []
    _learn(style, out, photos[0], tiny, checkpoint_every=0.0,
           on_step=lambda st: seen.append(checkpoint_path(out).exists() and read(checkpoint_path(out)).steps_done))
    assert seen[1:3] == [1, 2]  # step n sees the checkpoint of step n-1


def test_cli_learn_then_run_network(small_images, photos, tmp_path, tiny_everywhere, capsys):
    content, style = small_images
    _, folder = photos
    net = tmp_path / "n.stylo.pt"
    assert main(["learn", str(style), "-o", str(net), "--photos", str(folder), "--only-photos", "--steps", "2",
                 "--size", "64", "--crop", "32", "--quiet"]) == 0
    assert read(net).photos == ["brick.png", "camera.png", "hubble_deep_field.png"]
    out = tmp_path / "out.png"
    assert main(["run", str(content), "--network", str(net), "-o", str(out), "--quiet"]) == 0
    from stylo.image import read_manifest

    manifest = read_manifest(out)
    assert manifest["network"] == "n.stylo.pt" and manifest["refine_steps"] == 0
    assert manifest["network_sha256"] == hashlib.sha256(net.read_bytes()).hexdigest()
    assert Image.open(out).size == (64, 48)
    refined = tmp_path / "refined.png"
    assert main(["run", str(content), "--network", str(net), "--refine", "2", "-o", str(refined), "--quiet"]) == 0
    assert read_manifest(refined)["refine_steps"] == 2
    assert _pixels(refined) != _pixels(out)


def _pixels(path: Path) -> bytes:
    return Image.open(path).convert("RGB").tobytes()


def test_run_network_never_overwrites_its_inputs(small_images, photos, tiny, tmp_path, capsys):
    content, style = small_images
    net = _learn(style, tmp_path / "n.stylo.pt", photos[0], tiny).output
    copy = tmp_path / "content.png"
    copy.write_bytes(content.read_bytes())
    before, net_before = copy.read_bytes(), net.read_bytes()
    assert main(["run", str(copy), "--network", str(net), "-o", str(copy)]) == 2
    assert "one of the inputs" in capsys.readouterr().err
    assert copy.read_bytes() == before and net.read_bytes() == net_before
    assert main(["run", str(copy), str(style), "--network", str(net), "-o", str(tmp_path / "o.png")]) == 2
    assert not (tmp_path / "o.png").exists()


def test_cli_learn_refuses_overwriting_a_style(small_images, tmp_path, tiny_everywhere, capsys):
    _, style = small_images
    fake = tmp_path / "style.pt"
    fake.write_bytes(style.read_bytes())
    assert main(["learn", str(fake), "-o", str(fake), "--steps", "1", "--quiet"]) == 2
    assert "one of the inputs" in capsys.readouterr().err
    assert fake.read_bytes() == style.read_bytes()


def test_color_term_is_zero_at_its_target_and_pulls_toward_it():
    from stylo.learn.scoring import ColorTerm

    image = torch.rand(1, 3, 16, 16)
    term = ColorTerm.of(image)
    assert term.loss(image).item() == pytest.approx(0, abs=1e-10)
    assert term.loss(image * 0.5).item() > 0.01


def test_stylo_learn_is_callable(small_images, photos, tiny, tmp_path):
    import stylo

    _, style = small_images
    result = stylo.learn([style], tmp_path / "n.stylo.pt", photos[0], S, FAST, net=tiny, device="cpu")
    assert result.steps == 4 and isinstance(stylo.Network.load(result.output), stylo.Network)


def test_the_colour_term_holds_the_untuned_palette(small_images, photos, tiny, tmp_path):
    from stylo.image import to_tensor
    from stylo.learn.scoring import ColorTerm
    from stylo.networks import load_file

    content, style = small_images
    held_out = to_tensor(Image.open(content).convert("RGB"))
    drift = {}
    for weight in (0.0, 1e9):
        ls = LearnSettings(steps=10, crop=32, lr=1e-2, train="norms", color_weight=weight)
        network = Network.load(_learn(style, tmp_path / f"{weight:g}.stylo.pt", photos[0], tiny, ls).output)
        untuned = load_file(None).transform(held_out, network.code)
        drift[weight] = ColorTerm.of(untuned).loss(network(held_out)).item()
    assert drift[1e9] < 0.5 * drift[0.0]


def test_learn_and_paint_are_jobs_with_events(small_images, photos, tmp_path, tiny_everywhere):
    """Both go through stylo.jobs.run_job like a still: a LearnEvent per training step, then the network's
    picture as a Preview, a StepEvent per refine step, Done with the outcome."""
    from stylo.events import Done, LearnEvent, Painted, Preview, StepEvent
    from stylo.image import read_manifest, resize
    from stylo.jobs import LearnJob, PaintJob, run_job
    from stylo.learn.jobs import network_settings

    content, style = small_images
    _, folder = photos
    events: list[object] = []
    out = tmp_path / "n.stylo.pt"
    done = run_job(LearnJob((style,), out, S, FAST, (folder,), only_photos=True), events.append)
    assert isinstance(done, Done) and done.outcome.steps == FAST.steps and not done.interrupted
    assert [e.step.step for e in events if isinstance(e, LearnEvent)] == [1, 2, 3, 4] and events[-1] is done
    network = Network.load(out)
    settings = network_settings(network, {"size": 48})
    assert settings.size == 48 and settings.tv_weight == S.tv_weight  # the network's objective, the size given
    events.clear()
    picture = tmp_path / "p.png"
    done = run_job(PaintJob(content, out, picture, settings, refine=2), events.append)
    assert isinstance(done, Done) and isinstance(done.outcome, Painted)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Preview", "StepEvent", "StepEvent", "Done"]
    preview = next(e for e in events if isinstance(e, Preview)).image
    photo = resize(Image.open(content).convert("RGB"), preview.size, settings.resample)
    assert max(preview.size) == 48 and preview.tobytes() == network(photo).tobytes()
    assert read_manifest(picture)["refine_steps"] == 2 and Image.open(picture).size == preview.size
    assert [e.step.step for e in events if isinstance(e, StepEvent)] == [1, 2]


def test_a_learn_job_stopped_is_interrupted_and_a_bad_job_fails(small_images, photos, tmp_path, tiny_everywhere):
    from stylo.events import Failed
    from stylo.jobs import LearnJob, PaintJob, run_job

    _, style = small_images
    _, folder = photos
    out = tmp_path / "n.stylo.pt"
    done = run_job(LearnJob((style,), out, S, FAST, (folder,), only_photos=True), should_stop=lambda: True)
    assert done.interrupted and checkpoint_path(out).exists()
    failed = run_job(LearnJob((style,), tmp_path / "n.png", S, FAST, (folder,), only_photos=True))
    assert isinstance(failed, Failed) and "ends in .stylo.pt" in str(failed.error)
    failed = run_job(PaintJob(style, out, tmp_path / "p.png", S, refine=-1))
    assert isinstance(failed, Failed) and "--refine" in str(failed.error)


def test_strength_moves_the_painting_toward_the_photo(small_images, photos, tiny, tmp_path):
    from stylo.image import to_tensor
    from stylo.networks.magenta import style_code

    content, style = small_images
    network = Network.load(_learn(style, tmp_path / "n.stylo.pt", photos[0], tiny).output)
    photo = to_tensor(Image.open(content).convert("RGB"))
    assert torch.equal(network.code_at(photo, 1.0), network.code)
    assert torch.allclose(network.code_at(photo, 0.0), style_code(photo))
    assert torch.allclose(network.code_at(photo, 0.25), 0.25 * network.code + 0.75 * style_code(photo))
    distance = [float((network(photo, s) - photo).abs().mean()) for s in (0.0, 0.5, 1.0)]
    assert distance[0] < distance[1] < distance[2]  # less strength, closer to the photo
    with pytest.raises(StyloError, match="strength"):
        network(photo, 1.5)


def test_run_network_strength_paints_toward_the_photo(small_images, photos, tiny, tmp_path, capsys):
    from stylo.image import read_manifest

    content, style = small_images
    net = _learn(style, tmp_path / "n.stylo.pt", photos[0], tiny).output
    pixels = {}
    for strength in ("0", "1"):
        out = tmp_path / f"s{strength}.png"
        assert main(["run", str(content), "--network", str(net), "--strength", strength, "-o", str(out),
                     "--quiet"]) == 0
        assert read_manifest(out)["strength"] == float(strength)
        pixels[strength] = np.asarray(Image.open(out).convert("RGB"), dtype=np.float32)
    photo = np.asarray(Image.open(content).convert("RGB").resize(pixels["0"].shape[1::-1], Image.Resampling.LANCZOS),
                       dtype=np.float32)
    assert np.abs(pixels["0"] - photo).mean() < np.abs(pixels["1"] - photo).mean()
    assert main(["run", str(content), "--network", str(net), "--strength", "2", "-o", str(tmp_path / "x.png")]) == 2
    assert "--strength must be from 0 to 1" in capsys.readouterr().err and not (tmp_path / "x.png").exists()
    assert main(["run", str(content), str(style), "--strength", "0.5", "-o", str(tmp_path / "y.png")]) == 2
    assert "go with --network" in capsys.readouterr().err


def test_the_default_photos_are_bundled_colour_scenes_each_credited_none_from_the_panel() -> None:
    from stylo.learn.photos import BUNDLED, PANEL, training_photos

    photos = training_photos()
    names = [p.label.removeprefix("stylo:") for p in photos]
    assert len(photos) == len(list(BUNDLED.glob("*.jpg"))) >= 12 and all(p.label.startswith("stylo:") for p in photos)
    assert not set(names) & set(PANEL)
    provenance = (BUNDLED / "PROVENANCE.md").read_text()
    for name, photo in zip(names, photos):
        row = next(line for line in provenance.splitlines() if line.startswith(f"| `{name}.jpg` |"))
        assert "CC" in row.split("|")[-2]  # a Creative Commons licence (CC0, CC-BY, CC-BY-SA)
        pixels = np.asarray(photo.image, dtype=np.float32)
        assert max(photo.image.size) >= 512  # big enough for --size 512
        assert pixels.std(axis=2).mean() > 1  # colour (a grey photo: 0)


def test_photos_keep_the_runs_scale_and_the_crop_fits_the_smallest() -> None:
    from stylo.learn.train import crop_side, photo_tensors

    wide, tall = Photo("w", Image.new("RGB", (1600, 900))), Photo("t", Image.new("RGB", (600, 1200)))
    tensors = photo_tensors([wide, tall], Settings(size=256), torch.device("cpu"))
    assert [tuple(t.shape[-2:]) for t in tensors] == [(144, 256), (256, 128)]  # long side = size, never enlarged
    assert crop_side(tensors, 256) == 128 and crop_side(tensors, 100) == 100
    with pytest.raises(StyloError, match="too small"):
        crop_side(photo_tensors([wide], Settings(size=16), torch.device("cpu")), 256)


def test_the_content_and_tv_factors_weigh_the_training_objective(small_images, photos, tiny, tmp_path):
    from dataclasses import replace

    style = small_images[1]
    one = LearnSettings(steps=1, crop=32, lr=1e-2, color_weight=0.0, content_factor=1.0, tv_factor=1.0)
    first, content = {}, {}
    variants = {"base": one, "content": replace(one, content_factor=1e3), "tv": replace(one, tv_factor=1e3)}
    for name, ls in variants.items():
        steps: list = []
        result = _learn(style, tmp_path / f"{name}.stylo.pt", photos[0], tiny, ls, on_step=steps.append)
        first[name], content[name] = result.history[0], steps[0].content_loss  # the same first crop each time
        assert read(result.output).learn["content_factor"] == ls.content_factor
    assert content["content"] == pytest.approx(content["base"]) and content["base"] > 0
    assert first["content"] - first["base"] == pytest.approx(999 * S.content_weight * content["base"], rel=1e-3)
    assert first["tv"] > first["base"]
    with pytest.raises(StyloError):
        LearnSettings(content_factor=0).check()


def test_run_network_paints_a_folder_and_counts_what_failed(small_images, photos, tiny, tmp_path, capsys):
    from stylo.image import read_manifest

    content, style = small_images
    net = _learn(style, tmp_path / "n.stylo.pt", photos[0], tiny).output
    folder, out = tmp_path / "photos", tmp_path / "painted"
    folder.mkdir()
    (folder / "a.png").write_bytes(content.read_bytes())
    Image.open(content).convert("RGB").rotate(90, expand=True).save(folder / "b.jpg")
    assert main(["run", str(folder), "--network", str(net), "-o", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    assert Image.open(out / "a.png").size == (64, 48) and Image.open(out / "b.png").size == (48, 64)
    assert read_manifest(out / "b.png")["network"] == "n.stylo.pt"
    single = tmp_path / "single.png"
    assert main(["run", str(folder / "a.png"), "--network", str(net), "-o", str(single), "--quiet"]) == 0
    assert _pixels(single) == _pixels(out / "a.png")  # each image as `stylo run PHOTO --network` paints it
    (folder / "c.png").write_bytes(b"not a picture")
    capsys.readouterr()
    assert main(["run", str(folder), "--network", str(net), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "c.png" in err and "2 of 3 images written" in err and "Traceback" not in err
    assert not (out / "c.png").exists()
    assert main(["run", str(folder), "--network", str(net), "-o", str(folder)]) == 2  # never over the photos
    assert (folder / "a.png").read_bytes() == content.read_bytes()
