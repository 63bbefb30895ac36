import pytest
import torch

from tinct import color, losses


def test_rebalance_weights_expectation_is_one():
    prior = torch.softmax(torch.randn(313), 0)
    w = losses.rebalance_weights(prior, 0.5)
    assert torch.allclose((prior * w).sum(), torch.tensor(1.0), atol=1e-5)
    # rarer colors weigh more
    assert w[prior.argmin()] > w[prior.argmax()]


def test_rebalanced_ce_is_lowest_for_the_right_bins():
    bins = color.ab_bins()
    ab = color.normalize_ab(torch.tensor([30.0, -20.0]).view(1, 2, 1, 1).expand(1, 2, 4, 4))
    target = color.encode_ab_soft(color.denormalize_ab(ab), bins)
    good = torch.log(target.clamp(min=1e-6))
    bad = torch.zeros_like(good)
    assert losses.rebalanced_ce(good, ab, bins, None) < losses.rebalanced_ce(bad, ab, bins, None)


def test_reconstruction_resizes_target():
    pred = torch.zeros(2, 2, 8, 8)
    target = torch.ones(2, 2, 32, 32)
    assert torch.isclose(losses.reconstruction(pred, target, "l1"), torch.tensor(1.0))
    assert torch.isclose(losses.reconstruction(pred, target, "l2"), torch.tensor(1.0))


def test_gan_losses_signs():
    hi, lo = torch.full((4, 1), 5.0), torch.full((4, 1), -5.0)
    assert losses.d_loss_vanilla(hi, lo) < losses.d_loss_vanilla(lo, hi)
    assert losses.g_loss_vanilla(hi) < losses.g_loss_vanilla(lo)
    assert losses.d_loss_wgan(hi, lo) < 0 < losses.d_loss_wgan(lo, hi)


def test_gradient_penalty_zero_for_unit_slope_critic():
    class Lin(torch.nn.Module):
        def forward(self, l, ab):  # gradient wrt ab has norm 1 per sample
            return ab.flatten(1).sum(1) / (ab[0].numel() ** 0.5)

    l = torch.zeros(3, 1, 4, 4)
    gp = losses.gradient_penalty(Lin(), l, torch.rand(3, 2, 4, 4), torch.rand(3, 2, 4, 4))
    assert gp.item() < 1e-8


def test_colorfulness_matches_the_metric_and_the_hinge_only_pushes_faint_outputs():
    import numpy as np

    from tinct import losses, metrics

    g = torch.Generator().manual_seed(0)
    rgb = (torch.rand(2, 3, 16, 16, generator=g) * 255).round() / 255
    for i in range(2):
        ref = metrics.colorfulness((rgb[i].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
        assert abs(float(losses.colorfulness(rgb[i : i + 1])) - ref) < 1e-2 * ref
    gray = rgb.mean(1, keepdim=True).expand(-1, 3, -1, -1)
    faint = (gray + 0.3 * (rgb - gray)).requires_grad_(True)
    loss = losses.colorfulness_hinge(faint, rgb, gray, 1.2)
    loss.backward()
    assert float(loss.detach()) > 0 and float(faint.grad.abs().sum()) > 0
    vivid = (gray + 1.5 * (rgb - gray)).clamp(0, 1)
    assert float(losses.colorfulness_hinge(vivid, rgb, gray, 1.0)) == 0.0  # already as colorful: no push


def test_semantic_term_is_zero_for_the_original_and_pulls_wrong_colors_back():
    """A frozen ImageNet classifier's view: the original costs nothing; the same picture with its
    colors swapped around costs, and the gradient reaches the colors; the classifier stays frozen."""
    g = torch.Generator().manual_seed(3)
    low = torch.rand(2, 3, 6, 6, generator=g)
    rgb = torch.nn.functional.interpolate(low, size=(64, 64), mode="bilinear", align_corners=False)
    term = losses.SemanticConsistency()
    term.train()
    assert not term.net.training and not any(p.requires_grad for p in term.parameters())
    assert float(term(rgb, rgb)) == pytest.approx(0.0, abs=1e-5)
    wrong = rgb[:, [2, 0, 1]].clone().requires_grad_(True)  # blue where red was, and so on
    loss = term(wrong, rgb)
    loss.backward()
    assert float(loss.detach()) > 1e-3 and float(wrong.grad.abs().sum()) > 0
    assert float(term(wrong, rgb, torch.tensor([0.0, 0.0]))) == 0.0  # weights: none chosen, no cost


def test_cast_sees_a_tint_over_the_whole_picture_not_local_errors():
    g = torch.Generator().manual_seed(1)
    ab = torch.rand(2, 2, 8, 8, generator=g) - 0.5
    swapped = ab.flip(-1)  # every pixel wrong, the picture's mean the same
    assert float(losses.cast(swapped, ab)) < 1e-6
    assert float(losses.cast(ab + torch.tensor([0.0, 0.1]).view(1, 2, 1, 1), ab)) == pytest.approx(0.1, abs=1e-6)


def test_vividness_terms_weigh_only_the_images_chosen():
    """The training gives the hinge and the cast term to the images without hints only: an image
    with a weight of 0 neither counts nor gets a gradient."""
    from tinct.train.loop import _hint_free

    g = torch.Generator().manual_seed(2)
    ab = torch.rand(2, 2, 8, 8, generator=g) - 0.5
    pred = (ab + torch.tensor([0.0, 0.1]).view(1, 2, 1, 1) * torch.tensor([1.0, 3.0]).view(2, 1, 1, 1)).requires_grad_(True)
    w = torch.tensor([0.0, 1.0])
    loss = losses.cast(pred, ab, w)
    assert float(loss.detach()) == pytest.approx(0.3, abs=1e-6)  # the second image's tint alone
    loss.backward()
    assert float(pred.grad[0].abs().sum()) == 0 and float(pred.grad[1].abs().sum()) > 0
    assert float(losses.cast(pred.detach(), ab, torch.zeros(2))) == 0.0  # no image chosen: nothing
    mask = torch.zeros(3, 1, 4, 4)
    mask[1, 0, 2, 2] = 1
    glob = torch.zeros(3, 5)
    glob[2, 0] = 0.5
    assert _hint_free({"mask": mask, "global_hint": glob}).tolist() == [1.0, 0.0, 0.0]
    assert _hint_free({}) is None
