"""Checks every Keras layer and model of spot_tf must pass (as keras-hub's `run_layer_test`).

`run_serialization_test`: the class is registered with Keras, and its config names every
constructor argument and rebuilds an equivalent layer (same config, same weight shapes, same outputs
from the same weights).
`run_saving_test`: a `.keras` file written by `save` loads back by registered name alone (no
`custom_objects`) and gives the same outputs. Bare layers are saved inside a functional model.
"""
import inspect

import keras
import numpy as np

_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _call(layer, inputs, call_kwargs):
    # A tuple holds the positional inputs; anything else (a tensor, a dict) is the only one.
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    return layer(*args, **(call_kwargs or {}))


def assert_same_outputs(actual, expected, tolerance=1e-6):
    """Same structure, and every tensor within `tolerance` (relative and absolute) of the expected one."""
    # A loaded functional model gives its outputs as a list where the layer gave a tuple.
    actual, expected = keras.tree.lists_to_tuples(actual), keras.tree.lists_to_tuples(expected)
    keras.tree.assert_same_structure(actual, expected)
    for got, want in zip(keras.tree.flatten(actual), keras.tree.flatten(expected)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=tolerance, atol=tolerance)


def assert_config_is_complete(layer):
    """Every named constructor argument of the layer's class is a key of its config."""
    parameters = inspect.signature(type(layer).__init__).parameters
    named = [name for name, p in parameters.items() if name != "self" and p.kind not in _VARIADIC]
    missing = sorted(set(named) - set(layer.get_config()))
    assert not missing, f"{type(layer).__name__}.get_config() lacks constructor arguments {missing}"


def assert_registered(layer):
    """The layer's class is registered, so a saved model finds it by name without custom_objects."""
    cls = type(layer)
    name = keras.saving.get_registered_name(cls)
    assert keras.saving.get_registered_object(name) is cls, f"{cls.__name__} is not registered with Keras"


def run_serialization_test(layer, inputs, call_kwargs=None, tolerance=1e-6):
    """Checks `from_config(get_config())` of a layer: equal config, weight shapes and outputs.

    Args:
        layer: The layer (or model) under test, built or not.
        inputs: Its input: a tensor, a dict, or a tuple of positional inputs.
        call_kwargs: Other arguments of every call (e.g. training=False, a fixed mask).
        tolerance: Allowed relative and absolute difference of the outputs.

    Returns:
        The clone, holding the layer's weights.
    """
    expected = _call(layer, inputs, call_kwargs)
    assert_registered(layer)
    assert_config_is_complete(layer)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    _call(clone, inputs, call_kwargs)  # builds the clone
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in layer.weights]
    clone.set_weights(layer.get_weights())
    assert_same_outputs(_call(clone, inputs, call_kwargs), expected, tolerance)
    return clone


def as_model(layer, inputs, call_kwargs=None):
    """The layer itself if it is a model, else a functional model around it: (model, its input)."""
    if isinstance(layer, keras.Model):
        return layer, inputs
    args = inputs if isinstance(inputs, tuple) else (inputs,)
    symbolic = [keras.Input(shape=tuple(x.shape[1:]), dtype=x.dtype) for x in args]
    outputs = layer(*symbolic, **(call_kwargs or {}))
    if len(symbolic) == 1:
        return keras.Model(symbolic[0], outputs), args[0]
    return keras.Model(symbolic, outputs), list(args)


def run_saving_test(layer, inputs, directory, call_kwargs=None, tolerance=1e-6):
    """Saves the layer (a model, or a bare layer inside one) to `directory` as .keras and reloads it.

    Args:
        layer: The layer or model under test.
        inputs: As in `run_serialization_test`.
        directory: Where the .keras file goes (e.g. pytest's tmp_path).
        call_kwargs: Other arguments of every call; a bare layer's are fixed in its wrapping model.
        tolerance: Allowed relative and absolute difference of the outputs.

    Returns:
        The loaded model.
    """
    model, model_inputs = as_model(layer, inputs, call_kwargs)
    model_kwargs = call_kwargs if model is layer else None
    expected = _call(model, model_inputs, model_kwargs)
    path = f"{directory}/{layer.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert_same_outputs(_call(loaded, model_inputs, model_kwargs), expected, tolerance)
    return loaded


def run_layer_test(layer, inputs, directory=None, call_kwargs=None, tolerance=1e-6):
    """`run_serialization_test`, then `run_saving_test` when a directory is given."""
    run_serialization_test(layer, inputs, call_kwargs, tolerance)
    if directory is not None:
        run_saving_test(layer, inputs, directory, call_kwargs, tolerance)
