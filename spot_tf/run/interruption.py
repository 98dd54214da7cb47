"""SIGTERM and SIGINT: what a preemptible VM, a cluster scheduler and Ctrl-C send.

While a phase trains, a signal is only recorded: the training loop saves a checkpoint at the current
step, stops, and raises `Interrupted` naming it. Anywhere else the signal raises `Interrupted` at
once. The handlers are installed by the entry point for the duration of a command (main thread).
"""
import contextlib
import signal

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_state = {"signal": None, "deferring": 0}


class Interrupted(RuntimeError):
    """The run was stopped by a signal (the message says where it saved, if it did)."""


def _handler(signum, frame):
    _state["signal"] = signal.Signals(signum).name
    if not _state["deferring"]:
        raise Interrupted(f"stopped by {_state['signal']}")


def requested():
    """The name of the signal received ("SIGTERM", "SIGINT"), or None."""
    return _state["signal"]


@contextlib.contextmanager
def handle_signals():
    """Installs the handlers for the block and puts the previous ones back after."""
    previous = {sig: signal.signal(sig, _handler) for sig in SIGNALS}
    _state["signal"] = None
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _state["signal"] = None


@contextlib.contextmanager
def deferred():
    """Within the block a signal is only recorded, for the training loop to stop at a step boundary."""
    _state["deferring"] += 1
    try:
        yield
    finally:
        _state["deferring"] -= 1
