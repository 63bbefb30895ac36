"""Scaling out uses PyTorch's own engine: two torchrun processes (gloo, CPU) train one model."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tinct.modelfile import load_model

pytestmark = pytest.mark.slow  # script, torchrun and Ray tests: the full run, not the quick lane


def test_torchrun_two_processes(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(data / f"{i}.png")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "tinct", "train", "--model", "cnn4", "--data", str(data), "--out", str(out), "--steps", "3",
           "--batch-size", "2", "--crop", "32", "--epoch-steps", "3", "--workers", "0", "--threads", "1", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    _, rec = load_model(out / "model.safetensors")
    assert rec["provenance"]["world_size"] == 2
    assert rec["provenance"]["batch_size"] == 4  # global batch: 2 per process
