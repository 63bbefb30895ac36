import numpy as np
import pytest
import torch

from tinct import color

skcolor = pytest.importorskip("skimage.color")


def _rand_rgb(n=2, h=16, w=24, seed=0):
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_rgb_to_lab_matches_scikit_image():
    rgb = _rand_rgb()
    ours = color.rgb_to_lab(rgb).permute(0, 2, 3, 1).numpy()
    for i in range(rgb.shape[0]):
        ref = skcolor.rgb2lab(rgb[i].permute(1, 2, 0).numpy())
        assert np.abs(ours[i] - ref).max() < 1e-3
        # well under 1 Delta-E (CIE76) everywhere
        assert np.sqrt(((ours[i] - ref) ** 2).sum(-1)).max() < 0.01


def test_lab_to_rgb_matches_scikit_image():
    lab = torch.stack([torch.rand(8, 8) * 100, torch.rand(8, 8) * 60 - 30, torch.rand(8, 8) * 60 - 30])[None].double()
    ours = color.lab_to_rgb(lab).permute(0, 2, 3, 1)[0].numpy()
    ref = np.clip(skcolor.lab2rgb(lab[0].permute(1, 2, 0).numpy()), 0, 1)
    assert np.abs(ours - ref).max() < 1e-3


def test_round_trip_rgb_lab_rgb_float32():
    rgb = _rand_rgb().float()
    back = color.lab_to_rgb(color.rgb_to_lab(rgb))
    assert (back - rgb).abs().max() < 1e-4


def test_round_trip_uint8_is_exact():
    img = (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)
    t = color.to_tensor(img)
    assert np.array_equal(color.to_uint8(color.lab_to_rgb(color.rgb_to_lab(t))), img)


def test_gray_has_zero_ab_and_gray_rgb():
    g = torch.rand(1, 1, 8, 8).repeat(1, 3, 1, 1)
    lab = color.rgb_to_lab(g)
    assert lab[:, 1:].abs().max() < 1e-2
    assert (color.gray_rgb(g) - g).abs().max() < 1e-4


def test_differentiable():
    rgb = _rand_rgb(1, 4, 4).requires_grad_(True)
    color.rgb_to_lab(rgb).sum().backward()
    assert rgb.grad is not None and torch.isfinite(rgb.grad).all()


def test_normalization_round_trip_and_range():
    l = torch.tensor([0.0, 50.0, 100.0])
    assert torch.allclose(color.normalize_l(l), torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.allclose(color.denormalize_l(color.normalize_l(l)), l)
    ab = torch.tensor([-110.0, 0.0, 110.0])
    assert torch.allclose(color.denormalize_ab(color.normalize_ab(ab)), ab)


def test_recombine_keeps_full_resolution_luminance():
    rgb = _rand_rgb(1, 64, 48).float()
    lab = color.rgb_to_lab(rgb)
    low_ab = torch.nn.functional.interpolate(lab[:, 1:], size=(16, 12), mode="area")
    out = color.recombine(lab[:, :1], low_ab)
    assert out.shape == rgb.shape
    # L of the result equals the input L wherever the color stays in gamut
    l_out = color.rgb_to_lab(out)[:, :1]
    assert (l_out - lab[:, :1]).abs().median() < 0.5


def test_313_bins_and_soft_encoding():
    bins = color.ab_bins()
    assert bins.shape == (313, 2)
    assert np.array_equal(bins.numpy(), color.derive_ab_bins())
    ab = torch.tensor([[[[20.0]], [[-35.0]]]])
    z = color.encode_ab_soft(ab, bins)
    assert torch.allclose(z.sum(1), torch.ones(1, 1, 1))
    assert (z > 0).sum() == 5
    # the annealed mean of a sharp distribution at a bin is that bin
    logits = torch.full((1, 313, 1, 1), -50.0)
    logits[0, 7] = 50.0
    assert torch.allclose(color.annealed_mean(logits, bins)[0, :, 0, 0], bins[7], atol=1e-3)


def test_rgb_histogram_sums_to_one():
    h = color.rgb_histogram(_rand_rgb().float())
    assert h.shape == (2, 512)
    assert torch.allclose(h.sum(1), torch.ones(2))


def test_fast_uint8_paths_match_the_exact_ones():
    rng = np.random.default_rng(1)
    img = (rng.random((40, 50, 3)) * 255).astype(np.uint8)
    exact_l = color.rgb_to_l(color.to_tensor(img))[0, 0].numpy()
    assert np.abs(color.l_from_uint8(img) - exact_l).max() < 1e-3
    gray = np.repeat(img[:, :, :1], 3, axis=2)
    assert np.abs(color.l_from_uint8(gray) - color.rgb_to_l(color.to_tensor(gray))[0, 0].numpy()).max() < 1e-3
    lab = torch.cat([torch.rand(1, 1, 40, 50) * 100, torch.rand(1, 2, 40, 50) * 160 - 80], dim=1)
    exact = color.to_uint8(color.lab_to_rgb(lab)).astype(int)
    l, a, b = (lab[0, i].numpy() for i in range(3))
    fast = color.lab_to_uint8(l, a, b).astype(int)
    assert np.abs(fast - exact).max() <= 1 and (fast != exact).mean() < 0.01
    exact16 = (color.lab_to_rgb(lab)[0].permute(1, 2, 0) * 65535.0 + 0.5).to(torch.int32).numpy()
    assert np.array_equal(color.lab_to_uint16(l, a, b).astype(int), exact16)


def test_histogram_ab_prior_follows_the_colors():
    bins = color.ab_bins()
    red = torch.zeros(1, 512)
    red[0, (7 * 8 + 0) * 8 + 0] = 1.0  # the (high R, low G, low B) bin
    prior = color.histogram_ab_prior(red, bins)
    assert prior.shape == (1, bins.shape[0])
    assert torch.allclose(prior.sum(1), torch.ones(1))
    assert float(prior.min()) > 0  # the floor keeps every color possible
    peak = bins[prior[0].argmax()]
    assert peak[0] > 40  # red: large positive a*
    flat = color.histogram_ab_prior(torch.full((1, 512), 1 / 512), bins)
    assert float(flat.max()) < float(prior.max())


def test_annealed_mean_log_prior_pulls_toward_the_prior():
    bins = color.ab_bins()
    logits = torch.zeros(1, bins.shape[0], 4, 4)
    plain = color.annealed_mean(logits, bins, 1.0)
    red = torch.zeros(1, 512)
    red[0, (7 * 8 + 0) * 8 + 0] = 1.0
    shifted = color.annealed_mean(logits, bins, 1.0, color.histogram_ab_prior(red, bins).log())
    assert float(shifted[0, 0].mean()) > float(plain[0, 0].mean()) + 20


def test_match_histogram_moves_tones_toward_the_wanted_colors():
    from tinct import color

    torch.manual_seed(0)
    lab = torch.cat([torch.rand(2, 1, 16, 16) * 100, (torch.rand(2, 2, 16, 16) - 0.5) * 40], 1)
    red = color.rgb_histogram(torch.tensor([0.8, 0.1, 0.1]).view(1, 3, 1, 1))
    hist = torch.cat([red, torch.zeros_like(red)])  # image 0 toward red, image 1 has no histogram
    out = color.match_histogram(lab, hist, 1.0)
    target = color.rgb_to_lab(torch.tensor([0.8, 0.1, 0.1]).view(1, 3, 1, 1)).flatten()
    assert (out[0].flatten(1).mean(1) - target).abs().max() < 8  # within the bin's spread
    assert torch.equal(out[1], lab[1])
    assert torch.equal(color.match_histogram(lab, hist, 0.0), lab)
    # order is kept within a channel: the darkest pixel stays the darkest
    darkest = lab[0, 0].flatten().argmin()
    assert out[0, 0].flatten()[darkest] == out[0, 0].min()
    half = color.match_histogram(lab, hist, 0.5)
    assert torch.allclose(half[0], 0.5 * (out[0] + lab[0]), atol=1e-4)


def test_chroma_target_is_sure_of_one_hue_and_unsure_of_opposite_hues():
    from tinct import color

    bins = color.ab_bins()
    red = int(((bins - torch.tensor([40.0, 20.0])) ** 2).sum(1).argmin())
    green = int(((bins - torch.tensor([-40.0, -20.0])) ** 2).sum(1).argmin())
    logits = torch.full((1, bins.shape[0], 1, 2), -30.0)
    logits[0, red, 0, 0] = 10.0  # pixel 0: one red
    logits[0, red, 0, 1] = logits[0, green, 0, 1] = 10.0  # pixel 1: red or green, evenly
    chroma, sure = color.chroma_target(logits, bins, 0.5)
    assert float(sure[0, 0, 0, 0]) > 0.99 and float(sure[0, 0, 0, 1]) < 0.05
    assert abs(float(chroma[0, 0, 0, 0]) - float(bins[red].norm())) < 1e-3
    ab = torch.tensor([[[[10.0, 1.0]], [[5.0, 0.5]]]])  # (1, 2, 1, 2) faint versions of the hue
    out = color.raise_chroma(ab, chroma, sure)
    assert float(out[0, :, 0, 0].norm()) > 20.0  # raised where sure, its hue kept
    assert torch.allclose(out[0, :, 0, 0] / out[0, :, 0, 0].norm(), ab[0, :, 0, 0] / ab[0, :, 0, 0].norm(), atol=1e-5)
    assert float(out[0, :, 0, 1].norm()) < 1.2 * float(ab[0, :, 0, 1].norm())  # left nearly alone where unsure
    assert torch.equal(color.raise_chroma(ab, torch.zeros_like(chroma), sure), ab)  # chroma never falls
