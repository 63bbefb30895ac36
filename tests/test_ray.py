"""``tinct colorize --ray ADDRESS`` on a real local Ray cluster (a head started by the test on the
loopback address, two worker CPUs): the same outputs, byte for byte, and the same report as the
local run on the same files."""

from __future__ import annotations

import csv
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tinct.cli import main
from tinct.modelfile import save_model
from tinct.registry import create_model

pytestmark = pytest.mark.slow  # script, torchrun and Ray tests: the full run, not the quick lane

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A Ray head on 127.0.0.1 with two CPUs, stopped afterwards."""
    exe = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    if exe is None:
        pytest.skip("no ray command")
    port = free_port()
    tmp = tmp_path_factory.mktemp("ray")
    env_args = ["--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
                "--include-dashboard=false", "--disable-usage-stats", "--object-store-memory=100000000",
                f"--temp-dir={tmp}"]
    subprocess.run([exe, "start", *env_args], check=True, capture_output=True, timeout=180)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([exe, "stop", "--force"], capture_output=True, timeout=120)


def report_rows(path: Path) -> list[dict]:
    with open(path) as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def test_ray_run_matches_the_local_run(tmp_path, cluster, capsys):
    torch.manual_seed(0)
    model = save_model(create_model("effunet", pretrained=False, width=8, hints=True), tmp_path / "tiny.safetensors")
    rng = np.random.default_rng(0)
    src = tmp_path / "scans"
    (src / "box2").mkdir(parents=True)
    for i in range(5):
        gray = rng.integers(0, 255, (40 + 8 * i, 56), dtype=np.uint8)
        Image.fromarray(gray).save(src / ("box2" if i % 2 else "") / f"scan{i}.png")
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    common = ["--model", str(model), "--render-size", "64", "--threads", "1", "--no-provenance", "-q"]
    assert main(["colorize", str(src), "-o", str(tmp_path / "local"), *common,
                 "--report", str(tmp_path / "local.csv")]) == 1  # the broken file fails in both runs
    code = main(["colorize", str(src), "-o", str(tmp_path / "ray"), *common, "--ray", cluster, "--jobs", "2",
                 "--report", str(tmp_path / "ray.csv")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "broken.jpg" in err
    local = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*") if p.is_file())
    remote = sorted(p.relative_to(tmp_path / "ray") for p in (tmp_path / "ray").rglob("*") if p.is_file())
    assert local == remote and len(local) == 5
    for rel in local:
        assert (tmp_path / "local" / rel).read_bytes() == (tmp_path / "ray" / rel).read_bytes(), rel
    lrows = [{**r, "output": r["output"].replace("/local/", "/X/")} for r in report_rows(tmp_path / "local.csv")]
    rrows = [{**r, "output": r["output"].replace("/ray/", "/X/")} for r in report_rows(tmp_path / "ray.csv")]
    key = lambda r: r["file"]  # noqa: E731
    assert sorted(lrows, key=key) == sorted(rrows, key=key) and [r["status"] for r in rrows].count("failed") == 1
    # with the provenance mark (made once by the driver), the outputs say they were colorized
    assert main(["colorize", str(src / "scan0.png"), "-o", str(tmp_path / "marked.png"), "--model", str(model),
                 "--render-size", "64", "--ray", cluster, "-q"]) == 0
    with Image.open(tmp_path / "marked.png") as im:
        assert 'tinct:Colorized="True"' in im.info.get("XML:com.adobe.xmp", "")


def test_ray_without_a_cluster_is_one_line(tmp_path, capsys):
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "a.png")
    code = main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--model", "photo",
                 "--ray", f"127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot join the Ray cluster" in err and "Traceback" not in err
    assert not (tmp_path / "b.png").exists()
