"""Tests of spot_tf/data/skips.py: skips counted per file, shards cut short, splits with no image."""

import pytest
import tensorflow as tf

from spot_tf.data import skips
from spot_tf.errors import SettingError

END = (False, "", "", "", True)  # A pass's end marker: (decoded, file, origin, fault, end).


def _elements(rows, order=None, repeat=False):
    """The stream ``drop_skipped`` reads: rows of (decoded, file, origin, fault, end), indexed in the
    order given (and repeated), then emitted in ``order`` (as a parallel map may reorder them)."""
    columns = dict(zip(("decoded", "file", "origin", "fault", "end"), map(list, zip(*rows))))
    stream = tf.data.Dataset.from_tensor_slices(columns)
    stream = stream.repeat() if repeat else stream
    stream = stream.enumerate().map(lambda index, element: dict(element, index=index))
    if order:
        stream = tf.data.Dataset.from_tensor_slices(
            tf.nest.map_structure(lambda *x: tf.stack([x[i] for i in order]), *stream))
    return stream


def _kept(rows, report, strict=False, order=None, split="test"):
    kept = skips.drop_skipped(skips.tally(_elements(rows, order)), report, "data", split, strict)
    return [element["origin"].numpy().decode() for element in kept]


def test_skips_are_counted_per_file_once_per_image():
    report = skips.SkipReport()
    rows = [(True, "a", "a:0", "", False), (False, "a", "a:1", "", False),
            (False, "b", "b:0", "", False), (False, "a", "a:2", "", False), END]
    assert _kept(rows + rows, report) == ["a:0", "a:0"]  # Two passes: every skip seen twice.
    assert report.per_file() == {"a": 2, "b": 1} and report.total == 3
    assert report.summary() == "3 images skipped that do not decode, in 2 files (a: 2, b: 1)"
    assert report.summary(max_files=1).endswith("(a: 2, and 1 more)")


def test_strict_skip_is_a_setting_error_naming_the_image():
    report = skips.SkipReport()
    rows = [(True, "a", "a:0", "", False), (False, "a", "a:1", "", False), END]
    with pytest.raises(tf.errors.InvalidArgumentError, match="a:1"):
        _kept(rows, report, strict=True)
    with pytest.raises(SettingError, match="image a:1 does not decode") as error:
        with report.raise_setting_errors():
            _kept(rows, report, strict=True)
    assert error.value.setting == "dataset" and error.value.value == "data"


def test_cut_short_shard_is_noted_or_fatal():
    report = skips.SkipReport()
    rows = [(True, "s", "s:0", "", False), (False, "s", "s:1", "1 records read, 9 of 20 bytes", False),
            END]
    assert _kept(rows, report) == ["s:0"]
    assert report.cut_short == {"s": "1 records read, 9 of 20 bytes"} and report.total == 0
    assert report.summary().endswith(
        "; 1 shard truncated or corrupt (s: 1 records read, 9 of 20 bytes)")
    with pytest.raises(SettingError, match=r"shard s is truncated or corrupt \(1 records read"):
        with report.raise_setting_errors():
            _kept(rows, report, strict=True)


@pytest.mark.parametrize("rows,counts", [
    ([(False, "a", "a:0", "", False), (False, "b", "b:0", "", False), END], 2),
    ([END], 0),
    ([(False, "s", "s:0", "0 records read, 0 of 5 bytes", False), END], 0),
])
def test_split_without_an_image_that_decodes_is_fatal(rows, counts):
    report = skips.SkipReport()
    with pytest.raises(SettingError, match=rf"split 'test' has no image that decodes \({counts} "
                                           rf"records read, {counts} skipped\)"):
        with report.raise_setting_errors():
            _kept(rows, report)


def test_the_image_that_shows_a_split_barren_is_counted():
    report = skips.SkipReport()
    rows = [(False, "a", "a:0", "", False), (False, "a", "a:1", "", False), END]
    # The marker overtakes the last image, which completes the pass and so raises the error.
    with pytest.raises(SettingError, match=r"\(2 records read, 2 skipped\)"):
        with report.raise_setting_errors():
            _kept(rows, report, order=[0, 2, 1])
    assert report.per_file() == {"a": 2}


def test_repeated_barren_split_fails_instead_of_looping():
    report = skips.SkipReport()
    stream = skips.drop_skipped(skips.tally(_elements([(False, "a", "a:0", "", False), END], repeat=True)),
                                report, "data", "unsupervised", False)
    batches = iter(stream)
    for _ in range(3):  # It stays fatal, however far tf.data has read on.
        with pytest.raises(SettingError, match="split 'unsupervised'"):
            with report.raise_setting_errors():
                next(batches)


def test_end_marker_overtaking_an_image_is_no_barren_split():
    rows = [(False, "a", "a:0", "", False), (True, "a", "a:1", "", False), END]
    # The marker (index 2) comes before the image that decodes (index 1), as a parallel map may do.
    assert _kept(rows, skips.SkipReport(), order=[0, 2, 1]) == ["a:1"]


def test_a_joining_worker_calls_a_split_barren_only_after_two_passes_of_its_own():
    def barren(rows, joinable):
        return [bool(element["barren"]) for element in skips.tally(_elements(rows), joinable=joinable)]

    # A tf.data service worker that joins at the end of a pass: the marker, then a few corrupt images.
    rows = [END, (False, "a", "a:0", "", False), END, (True, "a", "a:1", "", False)]
    assert barren(rows, joinable=True) == [False] * 4
    # Alone (not joinable), a pass end before any record is a split with nothing in it.
    assert barren(rows, joinable=False) == [True] * 4
    bad = (False, "a", "a:0", "", False)
    assert barren([bad, END, bad, END, bad], joinable=True) == [False, False, False, True, True]


def test_other_errors_pass_through():
    report = skips.SkipReport()
    with pytest.raises(SettingError):
        with report.raise_setting_errors():
            _kept([END], report)
    with pytest.raises(tf.errors.NotFoundError):  # Not the earlier SettingError.
        with report.raise_setting_errors():
            tf.io.read_file("/no/such/file")


def test_with_pass_ends_marks_the_end():
    records = tf.data.Dataset.from_tensor_slices({"file": ["a", "b"], "label": [1, 2]})
    marked = [(record["file"].numpy(), int(record["label"]), bool(end))
              for record, end in skips.with_pass_ends(records)]
    assert marked == [(b"a", 1, False), (b"b", 2, False), (b"", 0, True)]
