"""What `pip install .` (not -e) installs: the library, its flagfiles, the `spot-tf` command, its requirements."""
import glob
import shutil
import subprocess
import sys
import zipfile

from e2e import ROOT


def test_the_wheel_holds_the_flagfiles_the_console_script_and_pillow(tmp_path):
    # A copy, so that the build leaves nothing in the checkout.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "build", "runs", "*.egg-info", "__pycache__", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(source)], check=True, capture_output=True)
    wheel, = glob.glob(str(tmp_path / "spot_tf-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert {"spot_tf/configs/demo.flags", "spot_tf/configs/stl10.flags", "spot_tf/configs/imagenet.flags",
                "spot_tf/cli.py"} <= set(names)
        info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        entry_points = archive.read(info).decode()
        assert "spot-tf = spot_tf.cli:run" in entry_points
        assert "spot-tf-data-service = spot_tf.data_service_cli:run" in entry_points
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode().lower()
        assert "requires-dist: pillow" in metadata
