"""Checkpoint tracking of layers kept in lists."""


def track_by_name(owner, layers):
    """Attaches each layer to `owner` under its name and returns the list.

    Keras 3 tracks a list of layers for its own weights, but tf.train.Checkpoint does not see list
    elements as children: without this their variables are silently left out of checkpoints.
    """
    for layer in layers:
        setattr(owner, layer.name, layer)
    return layers
