"""The global color transform fitted to point hints (tinct.hints.fit) and its place in the fusion."""

import numpy as np
import pytest
import torch

from tinct.modelfile import load_fusion, load_model, save_model
from tinct.hints.fusion import HintFusion
from tinct.hints.fit import fit_color_transform, fit_one, hint_patches
from tinct.registry import create_model

TINY = {"pretrained": False, "width": 8, "hints": True}
A_TRUE = torch.tensor([[1.3, -0.2], [0.1, 0.8]], dtype=torch.float64)
B_TRUE = torch.tensor([0.05, -0.08], dtype=torch.float64)


def _net_colors(size=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 2, 8, 8, generator=gen) * 0.6 - 0.3
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


def _hints_from(truth, centers, side=4):
    ab_hint, mask = torch.zeros_like(truth), torch.zeros_like(truth[:, :1])
    for y, x in centers:
        ab_hint[:, :, y : y + side, x : x + side] = truth[:, :, y : y + side, x : x + side]
        mask[:, :, y : y + side, x : x + side] = 1
    return ab_hint, mask


def _transformed(net):
    flat = net[0].double().reshape(2, -1)
    return (A_TRUE @ flat + B_TRUE[:, None]).reshape(net.shape).float()


def test_hint_patches_counts_connected_groups():
    m = np.zeros((20, 20), dtype=bool)
    m[1:4, 1:4] = True
    m[10:12, 10:12] = True
    m[12:14, 12:14] = True  # touches the previous one at a corner: one patch
    labels, n = hint_patches(m)
    assert n == 2 and labels[0, 0] == 0 and labels[2, 2] != labels[11, 11]


def test_many_hints_recover_the_true_transform():
    net = _net_colors()
    truth = _transformed(net)
    centers = [(y, x) for y in range(2, 60, 9) for x in range(2, 60, 9)]
    ab_hint, mask = _hints_from(truth, centers)
    theta = fit_one(net[0], ab_hint[0], mask[0], strength=(0.01, 0.01))
    assert torch.allclose(theta[:, :2], A_TRUE, atol=0.03)
    assert torch.allclose(theta[:, 2], B_TRUE, atol=0.01)
    out = fit_color_transform(net, ab_hint, mask, strength=(0.01, 0.01))
    assert float((out - truth).abs().max()) < 0.01


def test_few_hints_stay_near_the_identity():
    net = _net_colors()
    truth = _transformed(net)
    ab_hint, mask = _hints_from(truth, [(10, 10), (40, 40)])
    weak = fit_one(net[0], ab_hint[0], mask[0], strength=(0.3, 0.3))
    strong = fit_one(net[0], ab_hint[0], mask[0], strength=(100.0, 100.0))
    identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64)
    truth_theta = torch.cat([A_TRUE, B_TRUE[:, None]], 1)
    assert (strong - identity).abs().max() < 0.05
    assert (weak - identity).abs().max() > (strong - identity).abs().max()
    # the weaker prior moves toward the truth
    assert (weak - truth_theta).abs().sum() < (identity - truth_theta).abs().sum()


def test_every_patch_counts_once_whatever_its_size():
    net = torch.full((1, 2, 64, 64), 0.1)
    truth = net + torch.tensor([0.2, -0.1]).view(1, 2, 1, 1)
    small = _hints_from(truth, [(5, 5), (40, 40)], side=2)
    big = _hints_from(truth, [(5, 5), (40, 40)], side=10)
    t_small = fit_one(net[0], small[0][0], small[1][0], strength=(0.3, 0.3))
    t_big = fit_one(net[0], big[0][0], big[1][0], strength=(0.3, 0.3))
    assert torch.allclose(t_small, t_big, atol=1e-6)


def test_a_single_point_carries_no_global_evidence():
    net = _net_colors()
    ab_hint, mask = _hints_from(_transformed(net), [(20, 20)])
    assert fit_one(net[0], ab_hint[0], mask[0]) is None
    assert torch.equal(fit_color_transform(net, ab_hint, mask), net)
    assert fit_one(net[0], ab_hint[0], mask[0], first_local=False) is not None
    assert fit_one(net[0], torch.zeros_like(ab_hint[0]), torch.zeros_like(mask[0])) is None


def test_fusion_with_a_fit_maps_the_network_colors_before_mixing():
    """The colors the stage mixes are the network's mapped by the fitted transform (closer to the
    truth away from the points); a single point maps nothing."""
    l = torch.rand(1, 1, 64, 64) * 2 - 1
    net = _net_colors()
    truth = _transformed(net)
    # enough points that the transform explains them out of sample (the gate keeps it)
    ab_hint, mask = _hints_from(truth, [(y, x) for y in (6, 22, 38, 54) for x in (6, 22, 38, 54)])
    one_hint = _hints_from(truth, [(30, 30)])
    feats = torch.ones(1, 4, 16, 16)
    mixed = {}
    for name, fit in (("plain", None), ("fitted", (0.3, 0.3))):
        f = HintFusion(fit=fit).eval()
        real = f.fuse

        def spy(l_, net_ab, *rest, name=name, real=real):
            mixed.setdefault(name, []).append(net_ab)
            return real(l_, net_ab, *rest)

        f.fuse = spy
        with torch.no_grad():
            f(l, net, ab_hint, mask, feats)
            f(l, net, *one_hint, feats)
    far = mask[0, 0] < 0.5
    (a, a1), (b, b1) = mixed["plain"], mixed["fitted"]
    assert torch.equal(a, net) and torch.equal(a1, b1)  # one point: the same local edit as without a fit
    assert float((b - truth)[0][:, far].abs().mean()) < 0.5 * float((a - truth)[0][:, far].abs().mean())


def test_fit_is_checked_and_travels_in_the_model_file(tmp_path):
    with pytest.raises(ValueError, match="fit"):
        HintFusion(fit=(0.3,))
    with pytest.raises(ValueError, match="fit"):
        HintFusion(fit=(0.0, 0.3))
    assert HintFusion(fit=(0.1, 0.1, 0.3)).fit == (0.1, 0.1, 0.3)
    path = save_model(create_model("effunet", **TINY), tmp_path / "m.safetensors", fusion=HintFusion(fit=(0.3, 0.5)))
    assert load_model(path)[1]["fusion"]["kwargs"]["fit"] == [0.3, 0.5]
    assert load_fusion(path).fit == (0.3, 0.5)


def test_count_points_counts_patches_per_image():
    from tinct.hints.fit import count_points

    mask = torch.zeros(3, 1, 32, 32)
    mask[1, :, 2:5, 2:5] = 1
    mask[2, :, 2:5, 2:5] = 1
    mask[2, :, 20:23, 20:23] = 1
    assert count_points(mask).flatten().tolist() == [1.0, 1.0, 2.0]  # no hint counts as one


def test_the_obeyed_zone_of_a_lone_point_is_its_reach_and_shrinks_for_many():
    from tinct.hints.fusion import match_hints

    l = torch.rand(1, 1, 64, 64) * 2 - 1
    net = torch.full((1, 2, 64, 64), -0.2)
    truth = torch.full((1, 2, 64, 64), 0.3)
    feats = torch.ones(1, 4, 16, 16)
    f = HintFusion().eval()
    torch.nn.init.normal_(f.out.weight, std=0.1)  # a mix that is not the propagation
    for hints, n in ((_hints_from(truth, [(30, 30)]), 1),
                     (_hints_from(truth, [(8, 8), (8, 50), (50, 8), (50, 50), (30, 30)]), 5)):
        with torch.no_grad():
            out = f(l, net, *hints, feats)
            prop, reach, plain = f.propagations(l, net, *hints)
            mix = f.fuse(l, net, prop, *hints, plain, match_hints(feats, *hints, (64, 64)))
        assert torch.allclose(out, reach**n * prop + (1 - reach**n) * mix, atol=1e-5)
        hinted = hints[1][0, 0] > 0.5
        assert torch.equal(out[0][:, hinted], hints[0][0][:, hinted])  # the points themselves are kept exactly


def test_the_lightness_term_recovers_a_cast_that_differs_between_shadows_and_highlights():
    net = _net_colors()
    l = torch.linspace(-1, 1, 64).view(1, 1, 64, 1).expand(1, 1, 64, 64).contiguous()
    cast = torch.tensor([0.1, -0.15]).view(1, 2, 1, 1)
    truth = net + cast * (l - l.mean())  # warm highlights, cool shadows, say
    centers = [(y, x) for y in range(2, 60, 9) for x in range(2, 60, 9)]
    ab_hint, mask = _hints_from(truth, centers)
    theta = fit_one(net[0], ab_hint[0], mask[0], strength=(0.01, 0.01, 0.01), l=l[0])
    assert theta.shape == (2, 4)
    assert torch.allclose(theta[:, 3].float(), cast.flatten(), atol=0.01)
    with_l = fit_color_transform(net, ab_hint, mask, (0.01, 0.01, 0.01), l=l)
    without = fit_color_transform(net, ab_hint, mask, (0.01, 0.01))
    assert float((with_l - truth).abs().mean()) < 0.2 * float((without - truth).abs().mean())
    with pytest.raises(ValueError, match="needs L"):
        fit_one(net[0], ab_hint[0], mask[0], strength=(0.1, 0.1, 0.1))


def test_the_gate_keeps_a_consistent_cast_and_drops_unrelated_corrections():
    net = _net_colors()
    centers = [(y, x) for y in range(2, 60, 12) for x in range(2, 60, 12)]
    identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64)
    # true colors of one scene under one transform: the transform explains them out of sample
    ab_hint, mask = _hints_from(_transformed(net), centers)
    free = fit_one(net[0], ab_hint[0], mask[0], strength=(0.1, 0.1))
    gated = fit_one(net[0], ab_hint[0], mask[0], strength=(0.1, 0.1), gate=True)
    assert torch.allclose(gated, free, atol=0.05 * float((free - identity).abs().max()))
    # colors with nothing to do with the network's (a user's unrelated corrections): little is global
    gen = torch.Generator().manual_seed(1)
    random_colors = torch.rand(1, 2, 64, 64, generator=gen) * 0.8 - 0.4
    ab_hint, mask = _hints_from(random_colors, centers)
    free = fit_one(net[0], ab_hint[0], mask[0], strength=(0.1, 0.1))
    gated = fit_one(net[0], ab_hint[0], mask[0], strength=(0.1, 0.1), gate=True)
    assert float((gated - identity).abs().max()) < 0.3 * float((free - identity).abs().max())
    # hints that agree with the network already: nothing to correct
    ab_hint, mask = _hints_from(net, centers)
    assert torch.allclose(fit_one(net[0], ab_hint[0], mask[0], strength=(0.1, 0.1), gate=True), identity, atol=1e-6)


