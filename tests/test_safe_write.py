import errno
import os

import pytest

from spot_tf import safe_write


def test_write_json_replaces_the_file_whole(tmp_path):
    path = tmp_path / "deep" / "config.json"
    safe_write.write_json(path, {"a": 1})
    safe_write.write_json(path, {"a": 2})
    assert path.read_text() == '{\n  "a": 2\n}\n'
    assert os.listdir(path.parent) == ["config.json"]


def test_a_full_disk_keeps_the_old_file_and_leaves_no_temporary_one(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    path.write_text("old")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as err:
        safe_write.write_text(path, "new")
    assert err.value.errno == errno.ENOSPC
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["results.json"]


def test_os_errors_read_as_one_line_naming_the_path():
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/runs/a/config.json")
    assert safe_write.describe_os_error(full) == \
        "the disk is full: /runs/a/config.json (No space left on device)"
    below_a_file = NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), "/runs/file/a")
    assert safe_write.describe_os_error(below_a_file).startswith("a part of the path is a file, not a folder: "
                                                                 "/runs/file/a")
    tf_message = ("{{function_node __wrapped__SaveV2_device_/job:localhost/replica:0/task:0/device:CPU:0}} "
                  "/runs/a/spot/ckpt-3_temp/part-00000-of-00001.data-00000-of-00001"
                  ".tempstate1; No space left on device [Op:SaveV2]")
    assert safe_write.describe_error_text(tf_message) == (
        "the disk is full: /runs/a/spot/ckpt-3_temp/part-00000-of-00001.data-00000-of-00001.tempstate1 "
        "(No space left on device)")
    assert safe_write.describe_error_text("shapes differ") is None
