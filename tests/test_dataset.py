"""``tinct data build`` on a tiny git repository made by the test (no fetched snapshot needed)."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import random_rgb
from tinct.cli import main
from tinct.dataset.build import build, is_near_gray
from tinct.dataset.phash import HashIndex, hamming, phash
from tinct.dataset.sources import Source, by_folder, by_hash


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def snapshot(tmp_path) -> tuple[Path, str]:
    """A bare-repo mirror ``mirror/owner+coll/repo`` whose commit holds pics/{train,val}: 8 color
    images, one exact copy of another, one slightly recompressed copy, one gray, one sepia, and a
    text file."""
    work = tmp_path / "work"
    for split in ("train", "val"):
        (work / "pics" / split).mkdir(parents=True)
    for i in range(6):
        Image.fromarray(random_rgb(96, 96, seed=i)).save(work / "pics" / "train" / f"c{i}.png")
    for i in (6, 7):
        Image.fromarray(random_rgb(96, 96, seed=i)).save(work / "pics" / "val" / f"v{i}.png")
    Image.open(work / "pics/train/c0.png").save(work / "pics/train/c0_copy.png")
    Image.open(work / "pics/val/v6.png").convert("RGB").save(work / "pics/train/v6_recompressed.jpg", quality=70)
    gray = random_rgb(96, 96, seed=20).mean(2, keepdims=True).repeat(3, 2).astype(np.uint8)
    Image.fromarray(gray).save(work / "pics/train/gray.png")
    sepia = (gray[..., :1].astype(float) * np.array([1.0, 0.85, 0.65])).astype(np.uint8)
    Image.fromarray(sepia).save(work / "pics/train/sepia.png")
    (work / "pics/train/readme.txt").write_text("not an image")
    _git(work, "init", "-q")
    _git(work, "add", ".")
    _git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    commit = _git(work, "rev-parse", "HEAD")
    mirror = tmp_path / "mirror"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(mirror / "owner+coll" / "repo")], check=True)
    return mirror, commit


def _source(commit: str, val_count: int = 5) -> Source:
    return Source("coll", "owner/coll", commit, "pics", by_folder(("train",), ("val",)), val_count, "CC0", "test")


def test_phash_index_finds_near_duplicates_only():
    a = phash(Image.fromarray(random_rgb(64, 64, seed=1)))
    b = phash(Image.fromarray(random_rgb(64, 64, seed=2)))
    assert hamming(a, b) > 10
    index = HashIndex(4)
    index.add(a)
    assert index.near(a) and index.near(a ^ 0b1011) and not index.near(a ^ 0b11111) and not index.near(b)


def test_near_gray_detects_gray_and_one_tone_images():
    rgb = random_rgb(64, 64, seed=3)
    gray = rgb.mean(2, keepdims=True).repeat(3, 2).astype(np.uint8)
    sepia = (gray.astype(float) * np.array([1.0, 0.85, 0.65])).astype(np.uint8)
    assert not is_near_gray(rgb) and is_near_gray(gray) and is_near_gray(sepia)


def test_build_filters_dedupes_and_writes_a_manifest(snapshot, tmp_path):
    mirror, commit = snapshot
    excluded = tmp_path / "bench"
    excluded.mkdir()
    Image.fromarray(random_rgb(96, 96, seed=5)).save(excluded / "b.png")  # c5 is in a benchmark set
    out = tmp_path / "out"
    summary = build(mirror, out, [_source(commit)], exclude=[excluded], max_side=64, progress=False)
    got = {p.relative_to(out).as_posix() for p in out.rglob("*.jpg")}
    assert got == {"val/coll/pics_val_v6.jpg", "val/coll/pics_val_v7.jpg"} | {
        f"train/coll/pics_train_c{i}.jpg" for i in range(5)}
    counts = summary["sources"]["coll"]
    assert counts == {"train: gray": 2, "train: kept": 5, "train: near-duplicate": 3, "val: kept": 2}
    with open(out / "manifest.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 7 and {r["terms"] for r in rows} == {"CC0"} and all(r["commit"] == commit for r in rows)
    assert all(max(Image.open(out / r["file"]).size) == 64 for r in rows)
    assert json.loads((out / "summary.json").read_text())["sources"]["coll"] == counts


def test_val_cap_and_hash_split_are_fixed(snapshot, tmp_path):
    mirror, commit = snapshot
    s = _source(commit, val_count=1)
    a = build(mirror, tmp_path / "a", [s], progress=False)
    b = build(mirror, tmp_path / "b", [s], progress=False)
    assert a == b and a["sources"]["coll"]["val: kept"] == 1 and a["sources"]["coll"]["val: over the cap"] == 1
    split = by_hash(0.3)
    assert [split(f"x/{i}.jpg") for i in range(50)] == [split(f"x/{i}.jpg") for i in range(50)]
    assert 5 < sum(split(f"x/{i}.jpg") == "val" for i in range(100)) < 30


def test_cli_refuses_a_missing_snapshot_and_a_built_folder(snapshot, tmp_path, capsys):
    mirror, _ = snapshot
    assert main(["data", "build", "-o", str(tmp_path / "o"), "--mirror", str(mirror), "--sources", "faces"]) == 2
    assert "no snapshot" in capsys.readouterr().err
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "manifest.csv").write_text("file\n")
    assert main(["data", "build", "-o", str(tmp_path / "o"), "--mirror", str(tmp_path / "o")]) == 2
    assert main(["data", "build", "-o", str(tmp_path / "o2"), "--sources", "nope"]) == 2
    with pytest.raises(SystemExit):
        main(["data", "build", "-o", str(tmp_path / "o3"), "--max-train", "places=0"])
