import os
import signal

import pytest

from spot_tf.run import interruption


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_raises_at_once_outside_training_and_is_recorded_inside(sig):
    before = signal.getsignal(sig)
    with interruption.handle_signals():
        assert interruption.requested() is None
        with pytest.raises(interruption.Interrupted, match=f"stopped by {sig.name}"):
            os.kill(os.getpid(), sig)
        with interruption.deferred():
            os.kill(os.getpid(), sig)
            assert interruption.requested() == sig.name
    assert signal.getsignal(sig) is before and interruption.requested() is None
