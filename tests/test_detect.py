"""A line drawing given to a photo model is recognised and pointed to the line-art model (CLI note,
API header); a video given as an image gets a message that names ``tinct video``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from tinct.cli import main
from tinct.errors import ImageError
from tinct.imageio import load_image
from tinct.lineart.detect import looks_like_drawing
from tinct.modelfile import save_model
from tinct.registry import create_model

from clips import frames, write_clip

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def drawing(size: int = 200, seed: int = 0, ink: int = 0, paper: int = 255) -> np.ndarray:
    """Closed outlines of boxes and ellipses on paper, HxW uint8."""
    rng = np.random.default_rng(seed)
    img = np.full((size, size), paper, np.uint8)
    for _ in range(8):
        x, y = (int(v) for v in rng.integers(10, size - 60, 2))
        w, h = (int(v) for v in rng.integers(20, 50, 2))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + w, y + h), ink, 2)
        else:
            cv2.ellipse(img, (x + w // 2, y + h // 2), (w // 2, h // 2), 0, 0, 360, ink, 2)
    return img


def photo(size: int = 200, seed: int = 0) -> np.ndarray:
    """A gray 'photo': smooth light, filled shapes of many tones, grain."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    img = 60 + 120 * (x / size) * (0.5 + 0.5 * y / size)
    for _ in range(10):
        cx, cy, r = (int(v) for v in rng.integers(20, size - 20, 3) // (1, 1, 4))
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(30, 220)
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


def test_drawings_are_recognised_and_photos_are_not():
    assert looks_like_drawing(drawing())
    assert looks_like_drawing(np.repeat(drawing(seed=1)[..., None], 3, 2))  # as RGB
    pencil = drawing(seed=2, ink=110, paper=225).astype(np.float32)  # gray pencil on grainy, uneven paper
    pencil += np.random.default_rng(0).normal(0, 4, pencil.shape) + np.linspace(-15, 10, 200)[None]
    assert looks_like_drawing(np.clip(pencil, 0, 255).astype(np.uint8))
    assert looks_like_drawing((drawing(seed=3).astype(np.uint16) * 257))  # 16-bit scans
    for seed in range(3):
        assert not looks_like_drawing(photo(seed=seed))
    assert not looks_like_drawing(np.full((200, 200), 255, np.uint8))  # blank paper: no lines
    colored = np.repeat(drawing()[..., None], 3, 2)
    colored[40:160, 40:160] = (200, 60, 40)  # a drawing already in color
    assert not looks_like_drawing(colored)
    assert not looks_like_drawing(drawing()[:8, :8])
    with pytest.raises(ValueError):
        looks_like_drawing(drawing().astype(np.float32))


@pytest.fixture(scope="module")
def photo_model(tmp_path_factory):
    torch.manual_seed(0)
    return save_model(create_model("effunet", pretrained=False, width=8),
                      tmp_path_factory.mktemp("m") / "plain.safetensors")


def test_cli_points_a_drawing_to_lineart(tmp_path, photo_model, capsys):
    Image.fromarray(drawing()).save(tmp_path / "sketch.png")
    Image.fromarray(photo()).save(tmp_path / "photo.png")
    assert main(["colorize", str(tmp_path / "sketch.png"), "-o", str(tmp_path / "a.png"), "--model",
                 str(photo_model), "--render-size", "64"]) == 0
    err = capsys.readouterr().err
    assert "sketch.png looks like a line drawing" in err and "--model lineart" in err
    assert main(["colorize", str(tmp_path / "photo.png"), "-o", str(tmp_path / "b.png"), "--model",
                 str(photo_model), "--render-size", "64"]) == 0
    assert "line drawing" not in capsys.readouterr().err
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(drawing(seed=i)).save(folder / f"d{i}.png")
    Image.fromarray(photo()).save(folder / "p.png")
    assert main(["colorize", str(folder), "-o", str(tmp_path / "out"), "--model", str(photo_model),
                 "--render-size", "64"]) == 0
    assert "3 of the first 4 inputs" in capsys.readouterr().err


def test_a_line_art_model_notes_colors_not_drawings(tmp_path):
    """A line-art model gets no drawing note, but a note when its input has colors of its own (it
    repaints them), in the CLI and in the API's X-Tinct-Note."""
    from tinct.commands.colorize import drawing_note
    from tinct.lineart.detect import has_color
    from tinct.pipeline import Colorizer
    from tinct.serve.routes_api import drawing_note as api_note

    Image.fromarray(drawing()).save(tmp_path / "sketch.png")
    colored = np.repeat(drawing()[..., None], 3, 2)
    colored[30:170, 30:170] = (40, 90, 200)
    Image.fromarray(colored).save(tmp_path / "colored.png")
    assert has_color(colored) and not has_color(np.repeat(drawing()[..., None], 3, 2))
    art = save_model(create_model("lineart_unet", pretrained=False, width=8), tmp_path / "la.safetensors")
    assert drawing_note(str(art), [tmp_path / "sketch.png"]) is None
    note = drawing_note(str(art), [tmp_path / "colored.png"])
    assert "colored.png has colors of its own" in note and "replaced" in note
    assert "looks like a line drawing" in drawing_note("arch:cic", [tmp_path / "sketch.png"])
    line_art = Colorizer(str(art))
    assert "colors of its own" in api_note(line_art, colored) and api_note(line_art, np.repeat(drawing()[..., None], 3, 2)) is None


def test_a_video_given_as_an_image_names_tinct_video(tmp_path, photo_model, capsys):
    clip = write_clip(tmp_path / "film.mp4", frames(4))
    with pytest.raises(ImageError, match="a video .*tinct video"):
        load_image(clip)
    assert main(["colorize", str(clip), "-o", str(tmp_path / "x.png"), "--model", str(photo_model)]) == 1
    err = capsys.readouterr().err
    assert "a video" in err and "`tinct video`" in err and "Traceback" not in err
