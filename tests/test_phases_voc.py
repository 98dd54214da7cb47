"""Tests of spot_tf/phases/voc.py (the phases run end to end in test_e2e_voc.py)."""
import os

import pytest

from conftest import tiny_settings
from spot_tf.errors import SettingError, SettingPathError
from spot_tf.phases import all_phases, voc
from voc_data import write_vocdevkit


def test_voc_dataset_is_needed_and_must_be_voc(tmp_path, demo_cache):
    with pytest.raises(SettingError) as error:
        voc.describe_voc(tiny_settings(tmp_path, demo_cache))
    assert error.value.setting == "voc_dataset" and "VOCdevkit/VOC2007 folder or tfds:voc/2007" in error.value.reason
    with pytest.raises(SettingError, match="single-label tfrecord dataset, not PASCAL VOC") as error:
        voc.describe_voc(tiny_settings(tmp_path, demo_cache, voc_dataset=os.path.join(demo_cache, "demo")))
    assert error.value.setting == "voc_dataset"


def test_the_data_errors_name_voc_dataset(tmp_path, demo_cache):
    missing = str(tmp_path / "nowhere")
    settings = tiny_settings(tmp_path, demo_cache, voc_dataset=missing)
    with pytest.raises(SettingPathError) as error, voc.naming_voc_dataset(settings):
        voc.describe_voc(settings)
    assert (error.value.setting, error.value.value) == ("voc_dataset", missing)
    # Errors of the other dataset keep their setting.
    with pytest.raises(SettingError) as error, voc.naming_voc_dataset(settings):
        raise SettingError("dataset", "demo", "broken")
    assert error.value.setting == "dataset"


def test_all_runs_the_voc_phases_before_the_random_baselines_only_with_voc_dataset(tmp_path, demo_cache):
    write_vocdevkit(str(tmp_path), trainval=4, test=2)
    assert "voc07_finetune" not in all_phases(tiny_settings(tmp_path, demo_cache))
    phases = all_phases(tiny_settings(tmp_path, demo_cache, voc_dataset=str(tmp_path / "VOCdevkit")))
    assert phases[-4:] == ("voc07_finetune", "voc07_svm", "random_baselines", "report")
