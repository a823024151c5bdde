from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylo.cli import main
from stylo.config import Settings
from stylo.errors import StyloError
from stylo.experiments import executors, sweep

from .conftest import require

BASE = Settings(size=64, steps=3, coarse_steps=2, scales=1, seed=0, precision="fp32")
TINY_FLAGS = ["--size", "64", "--steps", "3", "--scales", "1", "--precision", "fp32"]


def test_parse_vary_coerces_by_setting_type() -> None:
    vary = sweep.parse_vary(["style_weight=1e1,1e-2", "content_layers=relu1_1,relu2_2+relu4_2", "steps=5",
                             "ratio=1e-3", "model=vgg16", "style_size=none,128"])
    assert vary["style_weight"] == [10.0, 0.01]
    assert vary["content_layers"] == [("relu1_1",), ("relu2_2", "relu4_2")]
    assert vary["steps"] == [5] and vary["ratio"] == [1e-3] and vary["model"] == ["vgg16"]
    assert vary["style_size"] == [None, 128]
    with pytest.raises(StyloError, match="unknown setting 'colour'"):
        sweep.parse_vary(["colour=red"])
    with pytest.raises(StyloError, match="NAME=V1,V2"):
        sweep.parse_vary(["style_weight"])
    with pytest.raises(StyloError, match="bad value 'x' for steps"):
        sweep.parse_vary(["steps=x"])


def test_expand_is_the_cartesian_product(small_images) -> None:
    content, style = map(str, small_images)
    cells = sweep.expand(BASE, {"ratio": [1e-2, 1e-4], "pooling": ["max", "avg"]}, [(content, [style])])
    assert len(cells) == 4 and len({c.key for c in cells}) == 4
    assert [c.settings["style_weight"] for c in cells] == [100.0, 100.0, 1e4, 1e4]
    assert cells[1].label() == "ratio=0.01, pooling=avg"
    again = sweep.expand(BASE, {"ratio": [1e-2, 1e-4], "pooling": ["max", "avg"]}, [(content, [style])])
    assert [c.key for c in again] == [c.key for c in cells]  # keys are stable
    with pytest.raises(StyloError, match="unknown content layer"):
        sweep.expand(BASE, {"content_layers": [("relu9_9",)]}, [(content, [style])])


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_local_sweep_writes_grid_csv_json_and_records_failures(tmp_path: Path, small_images, capsys,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from stylo import backbones

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no cached VGG16, and no network for it
    monkeypatch.setitem(backbones.TORCHVISION_URLS, "vgg16", "http://127.0.0.1:9/vgg16-397923af.pth")
    content, style = map(str, small_images)
    out = tmp_path / "sweep"
    code = main(["sweep", content, style, "-o", str(out), *TINY_FLAGS, "--vary", "ratio=1e-2,1e-4",
                 "--vary", "model=vgg19,vgg16"])
    err = capsys.readouterr().err
    assert code == 0 and "2 of 4 cells done" in err and "2 failed" in err
    rows = read_csv(out / "results.csv")
    assert len(rows) == 4 and [r["model"] for r in rows] == ["vgg19", "vgg16", "vgg19", "vgg16"]
    assert [r["status"] for r in rows] == ["ok", "error", "ok", "error"]
    assert "vgg16-397923af.pth" in rows[1]["error"]
    assert float(rows[0]["ssim"]) < 1 and float(rows[0]["style_distance_sum"]) > 0 and float(rows[0]["seconds"]) > 0
    assert rows[0]["setting.size"] == "64" and rows[0]["setting.style_weight"] == "100"  # the full settings
    assert float(rows[0]["peak_rss_mib"]) > 0
    records = json.loads((out / "results.json").read_text())
    assert records[0]["metrics"]["color_distance"] > 0 and records[0]["peak_rss_mib"] > 0
    sheet = np.asarray(Image.open(out / "sheet.png").convert("L"))
    assert sheet.shape[1] == 10 + 2 * (256 + 10)  # two columns: the second varied setting has two values
    caption = sheet[-60:-10, 10:256]
    assert (caption < 100).sum() > 50  # dark caption text under the last row


def test_ray_executor_gives_the_same_images(tmp_path: Path, small_images) -> None:
    require("ray")
    content, style = map(str, small_images)
    cells = sweep.expand(BASE, {"ratio": [1e-2, 1e-4], "init": ["content", "noise"]}, [(content, [style])])
    local = sweep.run_sweep(cells, tmp_path / "local", executors.sequential, threads=1)
    remote = sweep.run_sweep(cells, tmp_path / "ray", executors.ray_executor(num_cpus=2), threads=1)
    assert [r["status"] for r in remote] == ["ok"] * 4
    for a, b in zip(local, remote):
        assert a["key"] == b["key"]
        pa, pb = Image.open(tmp_path / "local" / a["image"]), Image.open(tmp_path / "ray" / b["image"])
        assert pa.tobytes() == pb.tobytes()


def test_process_pool_executor(tmp_path: Path, small_images) -> None:
    content, style = map(str, small_images)
    cells = sweep.expand(BASE, {"ratio": [1e-2, 1e-4]}, [(content, [style])])
    local = sweep.run_sweep(cells, tmp_path / "a", executors.sequential, threads=1)
    pooled = sweep.run_sweep(cells, tmp_path / "b", executors.process_pool(2), threads=1)
    assert [Image.open(tmp_path / "a" / r["image"]).tobytes() for r in local] == \
        [Image.open(tmp_path / "b" / r["image"]).tobytes() for r in pooled]


def test_killed_sweep_resumes_with_only_the_missing_cells(tmp_path: Path, small_images) -> None:
    content, style = map(str, small_images)
    out = tmp_path / "resume"
    cmd = [sys.executable, "-m", "stylo", "sweep", content, style, "-o", str(out), "--size", "64", "--steps", "40",
           "--scales", "1", "--vary", "ratio=1e-1,1e-2,1e-3,1e-4", "--quiet"]
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 120
    while not list((out / "cells").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = {p.stem for p in (out / "cells").glob("*.json")}
    assert 1 <= len(done_before) < 4
    cells = sweep.expand(Settings(size=64, steps=40, scales=1), {"ratio": [1e-1, 1e-2, 1e-3, 1e-4]},
                         [(content, [style])])
    seen: list[tuple[str, bool]] = []
    records = sweep.run_sweep(cells, out, executors.sequential, on_event=lambda e: seen.append(
        (e.record["key"], e.reused)))
    assert {k for k, reused in seen if reused} == done_before
    assert len([k for k, reused in seen if not reused]) == 4 - len(done_before)
    assert [r["status"] for r in records] == ["ok"] * 4 and len(read_csv(out / "results.csv")) == 4


def test_sweep_file_and_eval_command(tmp_path: Path, small_images, capsys) -> None:
    content, style = map(str, small_images)
    spec = tmp_path / "sweep.toml"
    spec.write_text('[base]\nsize = 64\nsteps = 2\nscales = 1\n[vary]\ncontent_layers = [["relu2_2"], ["relu4_2"]]\n')
    out = tmp_path / "s"
    assert main(["sweep", content, style, "-o", str(out), "--sweep", str(spec), "--quiet"]) == 0
    rows = read_csv(out / "results.csv")
    assert [r["content_layers"] for r in rows] == ["relu2_2", "relu4_2"]
    images = [str(out / "cells" / f"{r['key']}.png") for r in rows]
    capsys.readouterr()
    assert main(["eval", content, style, *images, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == set(images) and all(0 < v["ssim"] < 1 for v in data.values())
    assert main(["eval", content, style, content]) == 0
    table = capsys.readouterr().out
    assert "ssim" in table and "1" in table.splitlines()[1]


def test_batch_run_over_a_folder(tmp_path: Path, small_images, capsys) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a", "b"):
        Image.open(small_images[0]).save(folder / f"{name}.png")
    (folder / "notes.txt").write_text("skip me")
    out = tmp_path / "styled"
    assert main(["run", str(folder), str(small_images[1]), "-o", str(out), *TINY_FLAGS, "--quiet"]) == 0
    assert Image.open(out / "a.png").size == (64, 48) and (out / "b.png").is_file()
    assert len(list((out / "cells").glob("*.png"))) == 1  # the same photo twice is computed once
    assert main(["run", str(folder), str(small_images[1]), "-o", str(tmp_path / "x.png"), "--quiet"]) == 2
    assert "must name a folder" in capsys.readouterr().err


def test_auto_pool_size_never_oversubscribes() -> None:
    assert executors.pool_size(2, 0) == (1, 2)
    assert executors.pool_size(16, 0) == (4, 4)
    assert executors.pool_size(16, 2) == (2, 8)
    for cores in (1, 2, 3, 8, 64):
        for gpus in (0, 1, 4):
            workers, threads = executors.pool_size(cores, gpus)
            assert workers >= 1 and threads >= 1 and (workers * threads <= cores or cores < workers)


def test_workers_flag(tmp_path: Path, small_images, capsys) -> None:
    content, style = map(str, small_images)
    assert main(["sweep", content, style, "-o", str(tmp_path / "w"), *TINY_FLAGS, "--vary", "ratio=1e-2",
                 "--workers", "auto", "--quiet"]) == 0
    assert len(read_csv(tmp_path / "w" / "results.csv")) == 1
    with pytest.raises(SystemExit):
        main(["sweep", content, style, "-o", str(tmp_path / "x"), "--workers", "0"])
    assert "must be >= 1" in capsys.readouterr().err
