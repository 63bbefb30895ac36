"""What a training run shows a person: the per-epoch table, the per-checkpoint CSV and gray | predicted | original
grids."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tinct import color
from tinct.imageio import atomic_path

COLUMNS = ["epoch", "step", "D_loss", "D_acc", "G_loss", "val_MAE", "val_PSNR", "gray_PSNR", "a_bias", "b_bias", "val_CF", "val_dCF", "seconds"]


def table_row(row: dict, header: bool = False) -> str:
    def fmt(v):
        if isinstance(v, float):
            return "-" if math.isnan(v) else f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"
        return str(v)

    line = " | ".join(f"{fmt(row.get(c, '')):>9}" for c in COLUMNS)
    if header:
        head = " | ".join(f"{c:>9}" for c in COLUMNS)
        return head + "\n" + "-" * len(head) + "\n" + line
    return line


@torch.no_grad()
def save_grid(model, rgb: torch.Tensor, path: Path) -> None:
    """Rows of gray | predicted | original for a few validation crops, written atomically. A
    line-art batch (4 channels: sRGB + drawing) shows drawing | predicted | original."""
    was_training = model.training
    model.eval()
    if rgb.shape[1] == 4:
        lines, rgb = rgb[:, 3:4].expand(-1, 3, -1, -1), rgb[:, :3]
        out = model(color.normalize_l(color.rgb_to_l(lines)))
        l_pred = color.denormalize_l(model.decode_l(out))
        pred = color.lab_to_rgb(torch.cat([l_pred, color.denormalize_ab(model.decode(out))], 1))
        gray = lines
    else:
        lab = color.rgb_to_lab(rgb)
        l = lab[:, :1]
        out = model(color.normalize_l(l))
        ab = color.resize_ab(color.denormalize_ab(model.decode(out)), l.shape[-2:])
        pred = color.lab_to_rgb(torch.cat([l, ab], 1))
        gray = color.lab_to_rgb(torch.cat([l, torch.zeros_like(ab)], 1))
    model.train(was_training)
    rows = [torch.cat([g, p, o], dim=2) for g, p, o in zip(gray, pred, rgb)]
    grid = torch.cat(rows, dim=1)
    img = (grid.permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(img).save(tmp)


def append_csv(path: Path, row: dict) -> None:
    """One line per checkpoint, appended (the header when the file is new): the run's own record."""
    new = not path.exists()
    with open(path, "a", encoding="utf-8") as f:
        if new:
            f.write(",".join(row) + "\n")
        f.write(",".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row.values()) + "\n")
