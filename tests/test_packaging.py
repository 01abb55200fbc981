"""The configs ship inside the wheel: a wheel installed into a fresh venv finds them and composes."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_ships_conf_and_runs_from_a_fresh_venv(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
                    str(ROOT)], check=True, capture_output=True, timeout=180)
    wheel = next(dist.glob("rgp_bench-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "rgp_bench/conf/config.yaml" in names and "rgp_bench/conf/method/rgp.yaml" in names
    assert "rgp_bench/baselines/rgp_imagenet_resnet50.yaml" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # See this project's dependencies (not its editable source: .pth files there are not processed).
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q",
                    str(wheel)], check=True, capture_output=True, timeout=180)

    where = subprocess.run([py, "-c", "import rgp_bench.config as c; print(c.conf_dir())"], check=True,
                           capture_output=True, text=True, cwd=tmp_path).stdout.strip()
    assert where.startswith(str(site)), where
    count = "from rgp_bench.report.published import load_published; print(len(load_published()))"
    found = subprocess.run([py, "-c", count], check=True, capture_output=True, text=True, cwd=tmp_path).stdout.strip()
    assert int(found) >= 3
    for cmd in ([str(py), "-m", "rgp_bench"], [str(venv / "bin" / "rgp-bench")]):
        proc = subprocess.run([*cmd, "--cfg", "job", "method=magnitude", "model=resnet20"], capture_output=True,
                              text=True, cwd=tmp_path, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "name: magnitude" in proc.stdout and "name: resnet20" in proc.stdout
