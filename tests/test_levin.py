"""Levin et al. 2004 hint propagation: the solver and its zoo entry ``levin``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinct.models.levin_model  # noqa: F401  (registers "levin")
from tinct import color
from tinct.hints import levin
from tinct.errors import HintError
from tinct.hints import Hints, Point, rgb_to_ab
from tinct.hints.levin import affinity_matrix, affinity_weights, dissection_order, levin_colorize
from tinct.modelfile import load_model, read_record, save_model
from tinct.pipeline import Colorizer
from tinct.registry import create_model

H, W, EDGE = 48, 64, 32
LEFT_AB, RIGHT_AB = (40.0, 25.0), (-30.0, -45.0)


def two_regions(noise: float = 0.5) -> np.ndarray:
    """L (H, W): a dark left and a bright right region split by a sharp vertical edge, with a
    little seeded texture so the weights inside a region are not all equal."""
    rng = np.random.default_rng(0)
    l = np.where(np.arange(W)[None, :] < EDGE, 30.0, 70.0) + rng.normal(0, noise, (H, W))
    return np.clip(l, 0, 100)


def two_hints() -> tuple[np.ndarray, np.ndarray]:
    ab = np.zeros((2, H, W))
    mask = np.zeros((H, W))
    for (y, x), c in (((10, 8), LEFT_AB), ((36, 52), RIGHT_AB)):
        ab[:, y : y + 3, x : x + 3] = np.array(c)[:, None, None]
        mask[y : y + 3, x : x + 3] = 1
    return ab, mask


def test_each_hint_fills_its_region_and_stops_at_the_edge():
    out = levin_colorize(two_regions(), *two_hints())
    left, right = out[:, :, :EDGE].mean(axis=(1, 2)), out[:, :, EDGE:].mean(axis=(1, 2))
    np.testing.assert_allclose(left, LEFT_AB, atol=2.0)
    np.testing.assert_allclose(right, RIGHT_AB, atol=2.0)
    # not just on average: the pixels right next to the edge keep their own side's color
    np.testing.assert_allclose(out[:, :, EDGE - 1].mean(axis=1), LEFT_AB, atol=6.0)
    np.testing.assert_allclose(out[:, :, EDGE].mean(axis=1), RIGHT_AB, atol=6.0)


def test_without_an_edge_colors_blend():
    """Control for the test above: on a flat image the two hints mix across the middle."""
    out = levin_colorize(np.full((H, W), 50.0), *two_hints())
    mid = out[:, :, EDGE - 2 : EDGE + 2].mean(axis=(1, 2))
    assert np.all(np.abs(mid - np.array(LEFT_AB)) > 10) and np.all(np.abs(mid - np.array(RIGHT_AB)) > 10)


def test_no_hints_gives_gray():
    out = levin_colorize(two_regions(), np.ones((2, H, W)) * 30, np.zeros((H, W)))
    assert out.shape == (2, H, W) and not out.any()


def test_hint_pixels_keep_their_colors():
    ab, mask = two_hints()
    out = levin_colorize(two_regions(), ab, mask)
    fixed = mask > 0.5
    np.testing.assert_array_equal(out[:, fixed], ab[:, fixed])
    np.testing.assert_array_equal(levin_colorize(two_regions(), ab, np.ones((H, W))), ab)


def test_one_hint_colors_everything_and_linearity():
    ab, mask = two_hints()
    mask[:, EDGE:] = 0  # only the left hint
    out = levin_colorize(two_regions(), ab, mask)
    np.testing.assert_allclose(out, np.broadcast_to(np.array(LEFT_AB)[:, None, None], out.shape), atol=1e-6)
    np.testing.assert_allclose(levin_colorize(two_regions(), ab / 110, mask), out / 110, atol=1e-9)


def test_bad_shapes_are_refused():
    with pytest.raises(HintError):
        levin_colorize(np.zeros((H, W)), np.zeros((2, H, W + 1)), np.zeros((H, W)))
    with pytest.raises(HintError):
        levin_colorize(np.zeros((1, H, W)), np.zeros((2, H, W)), np.zeros((H, W)))


def test_affinity_rows():
    y = two_regions() / 100
    wts, valid = affinity_weights(y)
    np.testing.assert_allclose(wts.sum(axis=0), 1.0)
    assert not wts[~valid].any() and valid.sum(axis=0).min() == 3  # corners have 3 neighbors
    # weights across the edge are small next to the ones along it (pixel just left of the edge)
    assert wts[4, 20, EDGE - 1] < 1e-2 and wts[3, 20, EDGE - 1] > 0.1  # offsets (0, 1) and (0, -1)
    fixed = np.zeros((H, W), dtype=bool)
    fixed[5, 5] = True
    a = affinity_matrix(y, fixed)
    rows = np.asarray(a.sum(axis=1)).ravel()
    assert abs(rows[5 * W + 5] - 1) < 1e-12 and a[5 * W + 5, 5 * W + 5] == 1 and a.getrow(5 * W + 5).nnz == 1
    np.testing.assert_allclose(np.delete(rows, 5 * W + 5), 0, atol=1e-12)
    order = dissection_order(H, W)
    assert sorted(order) == list(range(H * W))
    ap = affinity_matrix(y, fixed, order)
    assert abs(ap - a[order][:, order]).max() < 1e-15


def test_fallback_solver_agrees(monkeypatch):
    ab, mask = two_hints()
    fast = levin_colorize(two_regions(), ab, mask)
    real = levin.splu

    def no_natural(a, **kw):
        if kw.get("permc_spec") == "NATURAL":
            raise RuntimeError("Factor is exactly singular")
        return real(a, **kw)

    monkeypatch.setattr(levin, "splu", no_natural)
    np.testing.assert_allclose(levin_colorize(two_regions(), ab, mask), fast, atol=1e-8)


# ---------------------------------------------------------------- the zoo entry
def gray_image() -> np.ndarray:
    l = torch.from_numpy(two_regions(noise=0.0)).float()[None, None]
    rgb = color.lab_to_rgb(torch.cat([l, torch.zeros(1, 2, H, W)], dim=1))
    return color.to_uint8(rgb)


def test_zoo_entry_has_no_weights_and_is_not_trainable():
    model = create_model("levin")
    assert model.hints and model.trainable is False
    assert not list(model.parameters()) and not model.state_dict()
    l = torch.zeros(2, 1, 16, 16)
    assert not model(l)["ab"].any()
    ab_hint, mask = torch.zeros(2, 2, 16, 16), torch.zeros(2, 1, 16, 16)
    ab_hint[0, :, 2, 2], mask[0, :, 2, 2] = torch.tensor([0.3, -0.2]), 1
    out = model.decode(model(l, ab_hint, mask))
    assert out.shape == (2, 2, 16, 16)
    torch.testing.assert_close(out[0], torch.tensor([0.3, -0.2]).view(2, 1, 1).expand(2, 16, 16), atol=1e-5, rtol=0)
    assert not out[1].any()
    with pytest.raises(HintError):
        model(l, ab_hint, mask, global_hint=torch.zeros(2, 513))


def check_pipeline(colorizer: Colorizer) -> None:
    img = gray_image()
    red, blue = (190, 80, 70), (70, 110, 190)
    hints = Hints(points=[Point(8, 10, red, size=3), Point(52, 36, blue, size=3)])
    out = colorizer(img, hints=hints)
    assert out.shape == img.shape and out.dtype == np.uint8
    lab = color.rgb_to_lab(color.to_tensor(out))[0]
    np.testing.assert_allclose(lab[0].numpy(), two_regions(noise=0.0), atol=1.0)  # lightness kept
    left, right = lab[1:, :, :EDGE].mean(dim=(1, 2)), lab[1:, :, EDGE:].mean(dim=(1, 2))
    torch.testing.assert_close(left, rgb_to_ab(red) * color.AB_SCALE, atol=4.0, rtol=0)
    torch.testing.assert_close(right, rgb_to_ab(blue) * color.AB_SCALE, atol=4.0, rtol=0)
    gray = colorizer(img)
    assert np.abs(gray.astype(int) - img).max() <= 1
    with pytest.raises(HintError):
        colorizer(img, hints=Hints(palette=[((255, 0, 0), 1.0)]))


def test_pipeline_round_trip():
    check_pipeline(Colorizer(create_model("levin")))


def test_model_file_round_trip(tmp_path):
    path = save_model(create_model("levin"), tmp_path / "levin.safetensors", provenance={"training": "none"})
    assert read_record(path)["arch"] == "levin"
    model, record = load_model(path, role="colorizer")
    assert record["kwargs"] == {} and model.trainable is False
    check_pipeline(Colorizer(path))


def test_propagation_with_a_prior_stays_in_the_hinted_region():
    l = two_regions()
    prior = np.zeros((2, H, W))
    prior[0], prior[1] = 5.0, -5.0
    ab, mask = two_hints()
    ab[:, 36:39, 52:55], mask[36:39, 52:55] = 0, 0  # only the left hint
    out = levin.propagate_with_prior(l, prior, ab, mask, 1e-4)
    left, right = out[:, :, : EDGE - 2], out[:, :, EDGE + 2 :]
    # the left region moves most of the way to its hint, the right one keeps the prior
    moved = (left.mean(axis=(1, 2)) - prior[:, 0, 0]) / (np.array(LEFT_AB) - prior[:, 0, 0])
    assert (moved > 0.6).all()
    assert np.abs(right.mean(axis=(1, 2)) - prior[:, 0, 0]).max() < 2
    assert np.allclose(out[:, mask > 0.5], ab[:, mask > 0.5])
    # weight 0 is plain Levin (a lone hint colors everything); no hint keeps the prior
    assert np.allclose(levin.propagate_with_prior(l, prior, ab, mask, 0.0), levin_colorize(l, ab, mask))
    assert np.array_equal(levin.propagate_with_prior(l, prior, ab, 0 * mask, 1e-4), prior)
    # a larger weight keeps more of the prior away from the hint
    far = lambda o: np.abs(o[:, :, EDGE - 8 : EDGE - 2] - prior[:, :1, :1]).mean()  # noqa: E731
    assert far(levin.propagate_with_prior(l, prior, ab, mask, 1e-1)) < far(out)
    with pytest.raises(HintError):
        levin.propagate_with_prior(l, prior[:, :5], ab, mask, 1e-3)
    with pytest.raises(HintError):
        levin.propagate_with_prior(l, prior, ab, mask, -1.0)


def test_a_guide_adds_an_edge_that_lightness_does_not_have():
    """On a flat L, two hints blend across the middle; a guide with an edge there (as a network's
    colors would have) keeps each side its own hint's color."""
    flat = np.full((H, W), 50.0)
    guide = np.where(np.arange(W)[None, None, :] < EDGE, 0.0, 1.0) * np.ones((1, H, W))
    out = levin_colorize(flat, *two_hints(), guide=guide * 10)
    np.testing.assert_allclose(out[:, :, :EDGE].mean(axis=(1, 2)), LEFT_AB, atol=2.0)
    np.testing.assert_allclose(out[:, :, EDGE:].mean(axis=(1, 2)), RIGHT_AB, atol=2.0)
    # a guide without edges changes nothing; a zero-weight guide is no guide
    np.testing.assert_allclose(levin_colorize(flat, *two_hints(), guide=np.full((2, H, W), 3.0)),
                               levin_colorize(flat, *two_hints()), atol=1e-9)
    w0, _ = affinity_weights(flat / 100)
    w1, _ = affinity_weights(flat / 100, guide * 10)
    assert np.allclose(w0.sum(axis=0), 1) and np.allclose(w1.sum(axis=0), 1)
    assert float(w1[3, 5, EDGE]) < 1e-6 < float(w0[3, 5, EDGE])  # offset (0, -1) across the guide's edge


def test_a_guide_of_the_wrong_shape_is_refused():
    with pytest.raises(HintError, match="guide"):
        levin_colorize(two_regions(), *two_hints(), guide=np.zeros((1, H, W + 1)))
    with pytest.raises(HintError, match="guide"):
        levin.propagate_with_prior(two_regions(), np.zeros((2, H, W)), *two_hints(), 1e-3, guide=np.zeros((H, W)))


def test_a_region_walled_in_by_the_guide_still_gets_a_color():
    """Guide edges weaken links but never cut them: an island with no hint inside takes the
    colors around it instead of an undetermined (singular) value."""
    flat = np.full((H, W), 50.0)
    guide = np.zeros((1, H, W))
    guide[0, 20:28, 40:48] = 100.0  # an island whose every link out is a huge guide edge
    ab, mask = two_hints()
    out = levin_colorize(flat, ab, mask, guide=guide)
    assert np.isfinite(out).all()
    island = out[:, 22:26, 42:46]
    low, high = np.minimum(LEFT_AB, RIGHT_AB), np.maximum(LEFT_AB, RIGHT_AB)
    assert ((island >= low[:, None, None] - 1e-6) & (island <= high[:, None, None] + 1e-6)).all()  # a blend of the hints
    assert np.linalg.norm(island.mean(axis=(1, 2))) > 5  # not left gray


def test_shared_weights_give_the_same_solves():
    """One affinity build serves the prior-weighted and the plain solve (the fusion stage's pair)."""
    rng = np.random.default_rng(3)
    l = two_regions()
    guide = rng.normal(size=(3, H, W))
    ab, mask = two_hints()
    prior = rng.normal(size=(2, H, W)) * 10
    weights = affinity_weights(l / 100.0, guide)
    for pw in (0.0, 1e-3):
        np.testing.assert_array_equal(levin.propagate_with_prior(l, prior, ab, mask, pw, guide=guide),
                                      levin.propagate_with_prior(l, prior, ab, mask, pw, weights=weights))
    with pytest.raises(HintError, match="affinity weights"):
        levin_colorize(l, ab, mask, weights=(weights[0][:, :5], weights[1]))


def test_guide_differences_match_the_direct_sum():
    rng = np.random.default_rng(4)
    g = rng.normal(size=(5, 7, 9))
    gp = np.pad(g, ((0, 0), (1, 1), (1, 1)))
    direct = np.stack([((gp[:, 1 + dy : 8 + dy, 1 + dx : 10 + dx] - g) ** 2).sum(axis=0) for dy, dx in levin._OFFSETS])
    _, valid = levin._neighbors(np.zeros((7, 9)))
    np.testing.assert_allclose(np.where(valid, levin.guide_differences(g), 0), np.where(valid, direct, 0), atol=1e-12)


def test_guide_differences_in_row_blocks_are_the_same_numbers_and_stop_when_cancelled(monkeypatch):
    import threading

    from tinct import cancel

    g = np.random.default_rng(0).normal(size=(5, 23, 17))
    whole = levin.guide_differences(g)
    d = g[:, 1:, 1:] - g[:, :-1, :-1]  # offset (1, 1) by hand
    assert np.allclose(whole[7, :-1, :-1], (d**2).sum(0))
    monkeypatch.setattr(levin, "GUIDE_BLOCK", 5 * 17 * 2)  # two rows at a time
    assert np.array_equal(levin.guide_differences(g), whole)
    calls = []
    monkeypatch.setattr(cancel, "check", lambda: calls.append(1))
    levin.guide_differences(g)
    assert len(calls) >= 4 * 12  # a check before every block of every offset
    monkeypatch.undo()
    stop = threading.Event()
    stop.set()
    with cancel.watching(stop), pytest.raises(cancel.Cancelled):
        levin.guide_differences(g)
