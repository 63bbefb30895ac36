"""Few-step training runs on generated images: every loss family, exact resume, the CLI."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tinct.cli import main
from tinct.modelfile import load_model, read_record
from tinct.train import TrainConfig, train


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    """Twelve 72x88 color images with structure (smooth gradients + a colored square)."""
    d = tmp_path_factory.mktemp("train_images")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:72, 0:88] / 88.0
    for i in range(12):
        base = rng.random(3)
        img = np.stack([base[0] * xx, base[1] * yy, base[2] * (1 - xx)], -1)
        y, x = rng.integers(0, 40, 2)
        img[y : y + 24, x : x + 24] = rng.random(3)
        Image.fromarray((img * 255).astype(np.uint8)).save(d / f"img_{i:02d}.png")
    (d / "notes.txt").write_text("not an image, ignored")
    return d


def _cfg(image_dir, tmp_path, **kw):
    base = dict(data=str(image_dir), out=str(tmp_path / "run"), steps=4, batch_size=4, crop=32, epoch_steps=2,
                val_fraction=0.2, val_max=2, workers=0, quiet=True, seed=1)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize(
    "model,kwargs,loss,hints",
    [
        ("unet", {"base": 8, "depth": 3}, "l2", False),
        ("unet", {"base": 8, "depth": 3}, "pix2pix", False),
        ("unet", {"base": 8, "depth": 3}, "wgan-gp", True),
        ("effunet", {"pretrained": False, "width": 8}, "l1+cls", True),
    ],
)
def test_train_each_loss_family_exports_a_loadable_model(image_dir, tmp_path, model, kwargs, loss, hints):
    res = train(_cfg(image_dir, tmp_path, model=model, model_kwargs=kwargs, loss=loss, hints=hints))
    assert len(res.history) == 2
    row = res.history[-1]
    assert all(np.isfinite(row[k]) for k in ("G_loss", "val_MAE", "val_PSNR"))
    assert np.isfinite(row["D_loss"]) == (loss in ("pix2pix", "wgan-gp"))
    m, rec = load_model(res.model_path)
    assert rec["arch"] == model and rec["provenance"]["steps"] == 4 and rec["provenance"]["images"] == 10
    assert rec["provenance"]["hints"] == hints
    assert (res.run_dir / "samples" / "epoch_002.png").exists()
    grid = Image.open(res.run_dir / "samples" / "epoch_002.png")
    assert grid.size == (3 * 32, 2 * 32)  # gray | predicted | original, one row per val image


def test_loss_falls_on_a_learnable_task(image_dir, tmp_path):
    res = train(_cfg(image_dir, tmp_path, model="unet", model_kwargs={"base": 8, "depth": 3}, loss="l1",
                     steps=60, epoch_steps=20, lr=2e-3))
    g = [r["G_loss"] for r in res.history]
    assert g[-1] < g[0]


def test_resume_is_exact(image_dir, tmp_path):
    kw = dict(model="unet", model_kwargs={"base": 8, "depth": 3}, loss="pix2pix", hints=True)
    full = train(_cfg(image_dir, tmp_path / "a", steps=4, **kw))
    train(_cfg(image_dir, tmp_path / "b", steps=2, **kw))
    resumed = train(_cfg(image_dir, tmp_path / "b", steps=4, resume=True, **kw))
    a, _ = load_model(full.model_path)
    b, _ = load_model(resumed.model_path)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    assert [r["G_loss"] for r in full.history] == [r["G_loss"] for r in resumed.history]


def test_learning_rate_schedule():
    from tinct.train.loop import learning_rate

    cfg = TrainConfig(model="unet", data=".", steps=100, lr=1e-3, lr_decay_start=0.6)
    assert learning_rate(cfg, 0) == learning_rate(cfg, 59) == 1e-3
    assert learning_rate(cfg, 80) == pytest.approx(5e-4)
    assert learning_rate(cfg, 100) == 0.0


def test_cli_train_writes_model_and_history(image_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["train", "--model", "cnn4", "--data", str(image_dir), "--out", str(out), "--steps", "2",
                 "--batch-size", "2", "--crop", "32", "--epoch-steps", "1", "--workers", "0", "--quiet"])
    assert code == 0
    assert read_record(out / "model.safetensors")["arch"] == "cnn4"
    assert len(json.loads((out / "history.json").read_text())) == 2


def test_cli_train_errors_are_one_line(tmp_path, capsys):
    assert main(["train", "--model", "nope", "--data", str(tmp_path)]) == 2
    assert main(["train", "--model", "unet", "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'nope'" in err and "not found" in err and "Traceback" not in err


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for opt in ("--model", "--data", "--steps", "--loss", "--disc", "--hints", "--resume", "--seed", "--beta1"):
        assert opt in out


def test_init_starts_from_given_weights(image_dir, tmp_path):
    first = train(_cfg(image_dir, tmp_path / "a", model="cnn4", steps=2))
    # lr 0: the weights stay what --init loaded (from a model file and from a checkpoint);
    # batch-norm statistics still update, so only the parameters are compared
    for src in (first.model_path, tmp_path / "a" / "run" / "checkpoint.pt"):
        again = train(_cfg(image_dir, tmp_path / "b", model="cnn4", steps=1, lr=0.0, init=str(src)))
        a, _ = load_model(first.model_path)
        b, _ = load_model(again.model_path)
        for (k, v), (_, w) in zip(a.named_parameters(), b.named_parameters()):
            assert torch.equal(v, w), k


def test_init_errors_are_one_line(image_dir, tmp_path, capsys):
    first = train(_cfg(image_dir, tmp_path / "a", model="cnn4", steps=1))
    for init, msg in ((tmp_path / "none.safetensors", "file not found"), (first.model_path, "holds a 'cnn4' model")):
        code = main(["train", "--model", "encdec", "--data", str(image_dir), "--out", str(tmp_path / "r"),
                     "--steps", "1", "--crop", "32", "--batch-size", "2", "--init", str(init), "--quiet", "--workers", "0"])
        err = capsys.readouterr().err
        assert code == 2 and msg in err and "Traceback" not in err, err


def test_init_from_a_fused_model_keeps_the_network(image_dir, tmp_path):
    from tinct.modelfile import save_model
    from tinct.registry import create_model

    from tinct.hints.fusion import HintFusion

    torch.manual_seed(0)
    fused = create_model("effunet", pretrained=False, width=8, hints=True)
    src = save_model(fused, tmp_path / "fused.safetensors", fusion=HintFusion())
    run = train(_cfg(image_dir, tmp_path / "r", model="effunet", hints=True, steps=1, lr=0.0, init=str(src),
                     model_kwargs={"pretrained": False, "width": 8}, loss="l1"))
    out, record = load_model(run.model_path)
    assert record["fusion"] is None  # the stage was fitted to the old network's colors: retrain it
    for (k, v), (_, w) in zip(fused.named_parameters(), out.named_parameters()):
        assert torch.equal(v, w), k


def test_hint_only_changes_what_hints_do_and_nothing_else(image_dir, tmp_path, capsys):
    """--hint-only trains the hint stem, the global-hint layer and the last decoder stage's weights
    on the hint channels: the output without hints is bit for bit the same, with hints it changes."""
    from tinct.modelfile import save_model
    from tinct.registry import create_model

    torch.manual_seed(0)
    base = create_model("effunet", pretrained=False, width=8, hints=True)
    src = save_model(base, tmp_path / "base.safetensors")
    run = train(_cfg(image_dir, tmp_path / "r", model="effunet", hints=True, steps=6, lr=1e-2, init=str(src),
                     model_kwargs={"pretrained": False, "width": 8}, loss="l1+cls", hint_only=True))
    out, _ = load_model(run.model_path)
    base, _ = load_model(src)
    changed = {k for (k, v), (_, w) in zip(base.named_parameters(), out.named_parameters()) if not torch.equal(v, w)}
    assert changed == {"hint_stem.weight", "global_fc.weight", "up2.conv.0.0.weight"}
    conv_b, conv_o = base.up2.conv[0][0].weight, out.up2.conv[0][0].weight
    assert torch.equal(conv_b[:, :-3], conv_o[:, :-3]) and not torch.equal(conv_b[:, -3:], conv_o[:, -3:])
    for k, v in base.state_dict().items():  # batch-norm statistics too
        if k not in changed:
            assert torch.equal(v, out.state_dict()[k]), k
    l = torch.rand(2, 1, 64, 64) * 2 - 1
    ab_hint, mask = torch.zeros(2, 2, 64, 64), torch.zeros(2, 1, 64, 64)
    ab_hint[:, 0, 20:26, 20:26], mask[:, :, 20:26, 20:26] = 0.5, 1
    base.eval(), out.eval()
    with torch.no_grad():
        assert torch.equal(base.decode(base(l)), out.decode(out(l)))
        assert not torch.allclose(base.decode(base(l, ab_hint, mask)), out.decode(out(l, ab_hint, mask)))
    code = main(["train", "--model", "effunet", "--data", str(image_dir), "--out", str(tmp_path / "x"),
                 "--steps", "1", "--crop", "32", "--batch-size", "2", "--hint-only", "--quiet", "--workers", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "--hint-only needs" in err and "Traceback" not in err


def test_validation_reports_the_cast_of_the_outputs():
    """A colorizer that returns gray on a warm orange crop has a cast of minus the crop's a and b."""
    from tinct import color
    from tinct.train.loop import evaluate

    from tinct.models.base import ColorNet

    class Gray(ColorNet):
        def _forward(self, l, ab_hint, mask, global_hint):
            return {"ab": torch.zeros(l.shape[0], 2, *l.shape[-2:])}

    rgb = torch.tensor([0.85, 0.55, 0.25]).view(1, 3, 1, 1).expand(2, 3, 16, 16).contiguous()
    lab = color.rgb_to_lab(rgb)
    row = evaluate(Gray(), rgb, hints=False)
    assert row["a_bias"] == pytest.approx(-float(lab[:, 1].mean()), abs=0.5)
    assert row["b_bias"] == pytest.approx(-float(lab[:, 2].mean()), abs=0.5)
    assert row["b_bias"] < -30  # orange is strongly yellow: the gray output's cast is blue
    assert row["val_PSNR"] == pytest.approx(row["gray_PSNR"])


def test_colorfulness_options_train_and_the_checkpoint_table_is_a_csv(image_dir, tmp_path):
    res = train(_cfg(image_dir, tmp_path, model="effunet", model_kwargs={"pretrained": False, "width": 8},
                     loss="l1+cls", hints=True, cf_weight=0.5, cast_weight=1.0, min_colorfulness=5.0,
                     semantic_weight=0.1))
    lines = (res.run_dir / "history.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,step,") and "val_CF" in lines[0] and "val_dCF" in lines[0]
    assert len(lines) == 3 and lines[2].split(",")[1] == "4"
    assert all(np.isfinite(r["val_CF"]) for r in res.history)


def test_kept_checkpoints_hold_each_steps_network(image_dir, tmp_path):
    res = train(_cfg(image_dir, tmp_path, model="unet", model_kwargs={"base": 8, "depth": 3}, keep_checkpoints=True))
    kept = sorted(res.run_dir.glob("ckpt_*.pt"))
    assert [p.name for p in kept] == ["ckpt_2.pt", "ckpt_4.pt"]
    last = torch.load(kept[-1], map_location="cpu", weights_only=True)
    model, _ = load_model(res.model_path)
    assert last["step"] == 4 and set(last) == {"model", "step"}
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in last["model"].items())
    first = torch.load(kept[0], map_location="cpu", weights_only=True)["model"]
    assert any(not torch.equal(v, last["model"][k]) for k, v in first.items())  # the earlier step's own weights


def test_channels_last_is_the_same_arithmetic(image_dir, tmp_path):
    """The memory order changes how fast a step is, not what it computes (within float rounding)."""
    kw = dict(model="effunet", model_kwargs={"pretrained": False, "width": 8}, loss="l1+cls", hints=True, steps=2)
    a = train(_cfg(image_dir, tmp_path / "nhwc", channels_last=True, **kw))
    b = train(_cfg(image_dir, tmp_path / "nchw", channels_last=False, **kw))
    assert a.history[-1]["G_loss"] == pytest.approx(b.history[-1]["G_loss"], rel=1e-3)
    ma, mb = load_model(a.model_path)[0], load_model(b.model_path)[0]
    for (k, va), vb in zip(ma.named_parameters(), mb.parameters()):  # 2 Adam steps of 2e-4 at most apart
        assert torch.allclose(va.float(), vb.float(), atol=1e-3), k


def test_too_gray_training_images_are_skipped(image_dir, tmp_path):
    from tinct.metrics import colorfulness
    from tinct.train.data import ColorImages, list_images

    gray_dir = tmp_path / "mixed"
    gray_dir.mkdir()
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(gray_dir / "a_gray.png")
    Image.open(sorted(image_dir.glob("*.png"))[0]).save(gray_dir / "b_color.png")
    ds = ColorImages(list_images(gray_dir), 32, min_colorfulness=15.0)
    x = ds[(0, 3)]  # the gray image is skipped: its neighbour comes instead
    assert colorfulness((x.permute(1, 2, 0).numpy() * 255).astype(np.uint8)) >= 15.0


def test_colorfulness_options_are_checked(image_dir, tmp_path, capsys):
    for flag, value in (("--cf-weight", "-1"), ("--cf-enhance", "0.5"), ("--min-colorfulness", "nan"),
                        ("--cast-weight", "1e9")):
        assert main(["train", "--model", "cnn4", "--data", str(image_dir), "--out", str(tmp_path / "x"),
                     "--steps", "1", flag, value]) == 2
    err = capsys.readouterr().err
    assert "--cf-weight must be" in err and "--cf-enhance must be" in err and "--min-colorfulness must be" in err
    assert "--cast-weight must be" in err
    assert "Traceback" not in err



def test_critic_steps_train_the_critic_alone_then_both(image_dir, tmp_path, capsys):
    """NoGAN: during --critic-steps the generator is frozen (weights and batch-norm statistics) and
    only the critic learns; a resumed run then trains both."""
    kw = dict(model="effunet", model_kwargs={"pretrained": False, "width": 8}, loss="l1+cls", hints=True,
              gan_weight=0.1, critic_steps=2, epoch_steps=2)
    start = train(_cfg(image_dir, tmp_path / "init", steps=1, **{**kw, "gan_weight": 0.0, "critic_steps": 0}))
    g0 = load_model(start.model_path)[0].state_dict()
    critic = train(_cfg(image_dir, tmp_path / "run", steps=2, init=str(start.model_path), **kw))
    row = critic.history[0]
    assert np.isfinite(row["D_loss"]) and 0.0 <= row["D_acc"] <= 1.0 and row["G_loss"] == 0.0
    g1 = load_model(critic.model_path)[0].state_dict()
    assert all(torch.equal(g0[k], g1[k]) for k in g0)  # the generator did not move, nor its statistics
    d1 = torch.load(critic.run_dir / "checkpoint.pt", weights_only=True)["disc"]
    joint = train(_cfg(image_dir, tmp_path / "run", steps=4, resume=True, **kw))
    assert joint.history[-1]["G_loss"] > 0
    g2 = load_model(joint.model_path)[0].state_dict()
    d2 = torch.load(joint.run_dir / "checkpoint.pt", weights_only=True)["disc"]
    assert any(not torch.equal(g1[k], g2[k]) for k in g1) and any(not torch.equal(d1[k], d2[k]) for k in d1)
    assert main(["train", "--model", "cnn4", "--data", str(image_dir), "--out", str(tmp_path / "x"),
                 "--steps", "4", "--critic-steps", "2"]) == 2
    assert main(["train", "--model", "cnn4", "--data", str(image_dir), "--out", str(tmp_path / "x"),
                 "--steps", "4", "--critic-steps", "5", "--loss", "pix2pix"]) == 2
    err = capsys.readouterr().err
    assert "--critic-steps trains a critic" in err and "--critic-steps must be" in err
