import json
import os
import socket
import subprocess
import sys

import pytest

from spot_tf.errors import SettingError
from spot_tf.run.lock import LOCK_FILE, acquire, release, run_lock


def test_a_second_run_on_the_folder_is_refused_naming_the_first(tmp_path):
    with run_lock(str(tmp_path)) as path:
        owner = json.loads(open(path).read())
        assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
        with pytest.raises(SettingError, match=f"another run is using this folder \\(pid {os.getpid()}") as err:
            acquire(str(tmp_path))
        assert err.value.setting == "model_dir" and "\n" not in str(err.value)
    assert not (tmp_path / LOCK_FILE).exists()


def test_the_lock_of_a_process_that_is_gone_is_taken_over(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": int(gone.stdout), "host": socket.gethostname()}))
    path = acquire(str(tmp_path))
    assert json.loads(open(path).read())["pid"] == os.getpid()
    release(path)


def test_a_live_or_foreign_or_unreadable_lock_is_kept(tmp_path):
    lock = tmp_path / LOCK_FILE
    for content in (json.dumps({"pid": 1, "host": socket.gethostname()}),  # init: alive
                    json.dumps({"pid": 123456789, "host": "another-host"}), "garbage"):
        lock.write_text(content)
        with pytest.raises(SettingError, match="another run is using this folder"):
            acquire(str(tmp_path))
        release(str(lock))  # not ours: left alone
        assert lock.read_text() == content


@pytest.mark.parametrize("content", ["", '{"pid": "12", "host": "h"}', "[1]", '{"host": "h"}',
                                     '{"pid": 99999999999999999999, "host": "h"}'])
def test_an_edited_or_cut_lock_is_refused_in_one_line(tmp_path, content):
    lock = tmp_path / LOCK_FILE
    lock.write_text(content)
    with pytest.raises(SettingError, match="a lock file this tool did not write, or one edited since") as err:
        acquire(str(tmp_path))
    assert "\n" not in str(err.value) and lock.read_text() == content


def test_a_model_dir_that_is_a_file_or_below_one_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(SettingError, match="is a file, not a folder"):
        acquire(str(tmp_path / "file"))
    with pytest.raises(NotADirectoryError):
        acquire(str(tmp_path / "file" / "run"))


def test_taking_the_lock_leaves_no_temporary_file(tmp_path):
    with run_lock(str(tmp_path)):
        assert os.listdir(tmp_path) == [LOCK_FILE]
    assert os.listdir(tmp_path) == []
