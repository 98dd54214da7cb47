"""What the input pipeline skips, counted per file, and the data faults that end a run.

One corrupt image must not stop a week-long run: an image that does not decode is dropped and
counted against its file, and a shard cut short (see tfrecord_reader.py) is named in a warning; with
``strict_decode`` either is fatal. A split of which a whole pass yields no image is always fatal:
training would read it forever and evaluation would get nothing. A fatal fault is a
``SettingError`` naming the dataset, raised inside tf.data, which hands it on as an
InvalidArgumentError carrying its message; ``SkipReport.raise_setting_errors`` turns it back.

Decoded images stay in the graph; only what is skipped goes through Python.
"""

import contextlib
import threading

from absl import logging
import tensorflow as tf

from spot_tf.errors import SettingError


def _plural(count, noun):
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _listed(items, limit):
    more = f", and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


class SkipReport:
    """The images skipped per file and the files cut short, for the datasets that share it.

    Pass one to every ``make_dataset`` of a phase (it is thread-safe); at the end of the phase, log
    ``summary()`` and write ``total`` (and ``len(cut_short)``) to TensorBoard.

    Args:
      log_first: how many skips are logged one by one before only every ``log_every``-th is.
      log_every: see ``log_first``.
    """

    def __init__(self, log_first=10, log_every=100):
        self.cut_short = {}  # File -> why it could not be read to its end.
        self._fatal = {}  # Message -> the SettingError raised inside a pipeline.
        self._skipped = {}  # File -> origins of its images that do not decode.
        self._events = 0
        self._log_first = log_first
        self._log_every = log_every
        self._lock = threading.Lock()

    def per_file(self):
        """{file: how many of its images were skipped because they do not decode}."""
        with self._lock:
            return {file: len(origins) for file, origins in self._skipped.items()}

    @property
    def total(self):
        """How many images were skipped, in all files (an image skipped in every epoch counts once)."""
        return sum(self.per_file().values())

    def summary(self, max_files=5):
        """One line for the log: the images skipped, their files (most first), the shards cut short.

        Args:
          max_files: how many files each list names before it says how many more there are.
        """
        counts = sorted(self.per_file().items(), key=lambda item: (-item[1], item[0]))
        with self._lock:
            cut_short = sorted(self.cut_short.items())
        line = f"{_plural(sum(n for _, n in counts), 'image')} skipped that do not decode"
        if counts:
            line += (f", in {_plural(len(counts), 'file')} "
                     f"({_listed([f'{file}: {n}' for file, n in counts], max_files)})")
        if cut_short:
            line += (f"; {_plural(len(cut_short), 'shard')} truncated or corrupt "
                     f"({_listed([f'{file}: {why}' for file, why in cut_short], max_files)})")
        return line

    def write(self, writer, step, where):
        """Logs `summary()` for `where` (a phase) and writes the skipped images and the shards cut
        short as TensorBoard scalars (`data/skipped_images`, `data/truncated_shards`) at `step`."""
        logging.info("%s: %s", where, self.summary())
        with writer.as_default(step=step):
            tf.summary.scalar("data/skipped_images", self.total)
            tf.summary.scalar("data/truncated_shards", len(self.cut_short))
        writer.flush()

    @contextlib.contextmanager
    def raise_setting_errors(self):
        """Re-raises a fatal data fault, which arrives as a tf.errors.OpError, as its SettingError."""
        try:
            yield
        except tf.errors.OpError as e:
            # Told apart by message: tf.data may have read on and failed again since.
            with self._lock:
                known = [error for message, error in self._fatal.items() if message in e.message]
            if not known:
                raise
            raise known[0] from e

    def _fail(self, spec, reason):
        error = SettingError("dataset", spec, reason)
        with self._lock:
            self._fatal.setdefault(str(error), error)
        raise error

    def _skip(self, spec, split, file, origin):
        with self._lock:
            self._skipped.setdefault(file, set()).add(origin)
            self._events += 1
            events = self._events
        if events <= self._log_first or events % self._log_every == 0:
            logging.warning("%s (%s): skipped an image that does not decode (%d skips so far): %s",
                            spec, split, events, origin)

    def _cut_short(self, spec, split, file, why):
        with self._lock:
            first = file not in self.cut_short
            self.cut_short[file] = why
        if first:
            logging.warning("%s (%s): shard %s is truncated or corrupt (%s); the records before "
                            "the fault are read, the rest skipped.", spec, split, file, why)

    def handle(self, spec, split, strict, file, origin, fault, end, read, barren):
        """Called (through ``tf.py_function``) for each element that is no decoded image.

        Args:
          spec, split: the dataset and split, for messages.
          strict: whether a skip is fatal.
          file, origin, fault: the element's record fields (see records.py).
          end: whether the element marks the end of a pass.
          read: images read so far.
          barren: whether a whole pass has been read without one image that decodes.

        Returns:
          False (the element is dropped), or raises the SettingError of a fatal fault.
        """
        file, origin, fault = (t.numpy().decode("utf-8", "replace") for t in (file, origin, fault))
        end = bool(end)
        # Noted first: this element may be the one that shows the split to be barren.
        if fault:
            self._cut_short(spec, split, file, fault)
        elif not end:
            self._skip(spec, split, file, origin)
        if bool(barren):
            read = int(read)
            self._fail(spec, f"split {split!r} has no image that decodes ({read} records read, "
                             f"{read} skipped)")
        if strict and not end:
            self._fail(spec, f"shard {file} is truncated or corrupt ({fault})" if fault
                       else f"image {origin} does not decode (strict_decode is on)")
        return False


def with_pass_ends(records):
    """``(record, False)`` for each record, then ``(empty record, True)``; apply before ``repeat``.

    The end marker lets ``drop_skipped`` tell a split that yields nothing from one still being read.
    """
    empty = tf.nest.map_structure(lambda spec: tf.zeros(spec.shape, spec.dtype),
                                  records.element_spec)
    return records.map(lambda record: (record, False)).concatenate(
        tf.data.Dataset.from_tensors((empty, True)))


def tally(elements, joinable=False):
    """``elements``, each with ``keep``, ``read`` and ``barren`` added (what ``drop_skipped`` needs).

    Graph ops only, so that it runs where the images are decoded: on a tf.data service worker, it
    tallies that worker's stream (its positions are its own), and the trainer's ``drop_skipped`` reads
    the verdicts as data.

    Args:
      elements: dicts with at least ``decoded`` (bool), ``file``, ``origin``, ``fault`` (the
        record's fields), ``end`` (from ``with_pass_ends``) and ``index`` (the element's position
        in the stream before the map that decoded it, which may reorder them).
      joinable: the stream is one worker's share of each pass (tf.data service), so a pass end
        says little: a worker that joins late may see one before any record, or after a few
        records of a corrupt file. It calls the split barren only after two pass ends that follow
        records it read, none of which decoded (a worker that got only undecodable files in two
        passes, while others decoded theirs, would call it so too: with many files, no worker does).
    """
    # The pass ends a split must go through without one image that decodes to be barren.
    needed_ends = 2 if joinable else 1

    def count(state, element):
        seen, last, kept, read, passes, barren = state
        is_image = ~element["end"] & (element["fault"] == "")
        keep = is_image & element["decoded"]
        seen += 1
        last = tf.maximum(last, element["index"])
        read += tf.cast(is_image, tf.int64)
        kept += tf.cast(keep, tf.int64)
        counted_end = element["end"] & (read > 0) if joinable else element["end"]
        passes += tf.cast(counted_end, tf.int64)
        # Every element up to the last index has come (none is still in the map), a whole pass among
        # them, and not one image decoded. It stays so: tf.data reads on after an error (a prefetch
        # fills its buffer), and a filter that drops everything would never return.
        barren |= (kept == 0) & (passes >= needed_ends) & (seen == last + 1)
        state = (seen, last, kept, read, passes, barren)
        return state, dict(element, keep=keep, read=read, barren=barren)

    zero = tf.constant(0, tf.int64)
    start = (zero, tf.constant(-1, tf.int64), zero, zero, zero, tf.constant(False))
    return elements.scan(start, count)


def drop_skipped(tallied, report, spec, split, strict):
    """Keeps the decoded images of ``tallied`` (see ``tally``); reports the rest to ``report``.

    Args:
      tallied: the elements of ``tally``.
      report: the ``SkipReport``.
      spec, split: the dataset and split, for messages.
      strict: whether an image that does not decode, or a shard cut short, is fatal.
    """
    def handle(file, origin, fault, end, read, barren):
        return report.handle(spec, split, strict, file, origin, fault, end, read, barren)

    def keep(element):
        args = [element[key] for key in ("file", "origin", "fault", "end", "read", "barren")]
        return tf.cond(element["keep"], lambda: tf.constant(True),
                       lambda: tf.reshape(tf.py_function(handle, args, tf.bool), []))

    return tallied.filter(keep)
