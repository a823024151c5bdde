"""stylo.files: only regular files are opened, settings files are read within a bound, paths are shown on one
line, and no output is an input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stylo.errors import StyloError
from stylo.files import open_regular, read_bounded, regular_file, shown, spare_inputs


@pytest.fixture
def odd_files(tmp_path: Path) -> dict[str, Path]:
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    return {"fifo": fifo, "device": Path("/dev/zero"), "directory": tmp_path, "loop": loop,
            "missing": tmp_path / "missing.png"}


@pytest.mark.parametrize(("kind", "message"), [
    ("fifo", "is not a regular file"), ("device", "is not a regular file"), ("directory", "is a directory"),
    ("loop", "is a symlink loop"), ("missing", "not found"),
])
def test_anything_but_a_regular_file_is_refused_without_opening_it(odd_files, kind: str, message: str) -> None:
    for check in (regular_file, open_regular, read_bounded):
        with pytest.raises(StyloError, match=f"^style image {message}"):
            check(odd_files[kind], "style image")  # a FIFO opened for reading would block here


def test_regular_files_are_read(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(b"steps = 3\n")
    assert regular_file(path) == path
    with open_regular(path) as fh:
        assert fh.read() == b"steps = 3\n"
    link = tmp_path / "link.toml"
    link.symlink_to(path)
    assert read_bounded(link, "config file") == b"steps = 3\n"  # a symlink to a file is that file


def test_read_bounded_refuses_what_is_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_bytes(b"#" * 101)
    assert read_bounded(path, limit=101) == b"#" * 101
    with pytest.raises(StyloError, match="config file is too large: 101 bytes \\(limit 100\\)"):
        read_bounded(path, "config file", limit=100)


def test_shown_escapes_control_characters_only() -> None:
    assert shown("a\nb\r\x1b[31m.png") == "a\\nb\\r\\x1b[31m.png"
    assert shown(Path("Tübingen α/β.png")) == "Tübingen α/β.png"
    assert "\n" not in shown("x\n" * 3)


def test_spare_inputs_sees_links_and_other_spellings(tmp_path: Path) -> None:
    photo = tmp_path / "in" / "a.png"
    photo.parent.mkdir()
    photo.write_bytes(b"photo")
    out = tmp_path / "out"
    out.mkdir()
    spare_inputs([out / "a.png", out / "b.png"], [photo])  # outputs that do not exist yet are no inputs
    (out / "a.png").symlink_to(photo)
    with pytest.raises(StyloError, match="is the input .*a.png: it would be replaced"):
        spare_inputs([out / "a.png"], [photo])
    (out / "a.png").unlink()
    os.link(photo, out / "hard.png")
    with pytest.raises(StyloError, match="hard.png is the input"):
        spare_inputs([out / "x.png", out / "hard.png"], [tmp_path / "missing.png", photo])
    with pytest.raises(StyloError, match="is the input"):
        spare_inputs([tmp_path / "in" / ".." / "in" / "a.png"], [photo])
