import keras
import numpy as np

from spot_tf.optim.regularization import l2_term


def test_the_sum_of_the_networks_penalties_and_zero_without_any(two_replicas):
    dense = keras.layers.Dense(3, kernel_regularizer=keras.regularizers.L2(2.5e-5))
    dense.build((None, 4))
    expected = 2.5e-5 * np.sum(dense.kernel.numpy().astype(np.float64) ** 2)
    np.testing.assert_allclose(float(l2_term(dense)), expected, rtol=1e-6)
    assert float(l2_term(keras.layers.Dense(3))) == 0.0
    # Under two replicas each holds half, so the summed gradients are the penalty's.
    halves = two_replicas.run(lambda: l2_term(dense))
    np.testing.assert_allclose([float(h) for h in two_replicas.experimental_local_results(halves)],
                               [expected / 2] * 2, rtol=1e-6)
