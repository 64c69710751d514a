import numpy as np
import pytest

from conftest import make_config, step_peak_bytes
from nntrain.errors import ConfigError
from nntrain.nn.gradcheck import check_network
from nntrain.nn.losses import make_loss
from nntrain.nn.model import build_model


def layers(*specs):
    return {"layers": list(specs)}


CASES = {
    "sigmoid+bce": (layers({"units": 5, "activation": "tanh", "l2": 0.01}, {"units": 1, "activation": "sigmoid"}), "binary_crossentropy", "binary"),
    "softmax+cce": (layers({"units": 6, "activation": "relu", "l1": 0.01}, {"units": 3, "activation": "softmax"}), "categorical_crossentropy", "labels"),
    "linear+mse": (layers({"units": 4, "activation": "leaky_relu"}, {"units": 2, "activation": "linear"}), "mse", "real"),
    "sigmoid+mse (mismatched)": (layers({"units": 4, "activation": "sigmoid"}, {"units": 1, "activation": "sigmoid"}), "mse", "real1"),
    "softmax+mse (mismatched)": (layers({"units": 4, "activation": "tanh"}, {"units": 3, "activation": "softmax"}), "mse", "real3"),
    "deep, batchnorm, dropout, penalties": (
        layers(
            {"units": 6, "activation": "relu", "batchnorm": True, "keep_prob": 0.7, "l1": 0.01, "l2": 0.02},
            {"units": 5, "activation": "tanh", "batchnorm": True},
            {"units": 3, "activation": "softmax", "l2": 0.1},
        ),
        "categorical_crossentropy",
        "labels",
    ),
    "silu, residual blocks with gelu and relu": (
        layers(
            {"units": 4, "activation": "silu", "l2": 0.01},
            {"type": "residual", "units": 4, "hidden": 5, "activation": "gelu", "keep_prob": 0.8, "l1": 0.01},
            {"type": "residual", "units": 4, "batchnorm": False},
            {"units": 3, "activation": "softmax"},
        ),
        "categorical_crossentropy",
        "labels",
    ),
}


def targets(kind, rng, n):
    return {
        "binary": (rng.random((n, 1)) < 0.5).astype(float),
        "labels": rng.integers(0, 3, n),
        "real": rng.normal(size=(n, 2)),
        "real1": rng.random((n, 1)),
        "real3": rng.random((n, 3)),
    }[kind]


@pytest.mark.parametrize("case", sorted(CASES))
def test_whole_network_gradient_matches_finite_differences(case, rng):
    model_spec, loss_name, kind = CASES[case]
    metrics = [] if loss_name == "mse" else ["accuracy"]
    config = make_config(model=model_spec, loss=loss_name, dtype="float64", metrics=metrics)
    model = build_model(config, 3, rng)
    loss = make_loss(loss_name, model.output_activation)
    x = rng.normal(size=(7, 3))
    errors = check_network(model, loss, x, targets(kind, rng, 7))
    assert len(errors) == len(model.params)
    assert max(errors.values()) < 1e-6, errors


def test_weight_names_follow_the_config_layers(rng):
    config = make_config(model=layers({"units": 3, "batchnorm": True}, {"units": 1, "activation": "sigmoid"}))
    model = build_model(config, 2, rng)
    assert list(model.state_dict()) == [
        "layers.0.W", "layers.0.b", "layers.0.gamma", "layers.0.beta", "layers.0.running_mean", "layers.0.running_var",
        "layers.1.W", "layers.1.b",
    ]
    assert model.state_dict()["layers.0.W"].shape == (3, 2)
    assert model.count_params() == (3 * 2 + 3 + 6 + 1 * 3 + 1, 6)


def test_a_500_to_500_layer_has_250500_parameters(rng):
    config = make_config(model={"inputs": 500, "layers": [{"units": 500, "activation": "linear"}]}, loss="mse", metrics=[])
    assert build_model(config, 500, rng).count_params() == (250_500, 0)


def test_hand_set_weights_are_used_exactly(rng):
    config = make_config(
        dtype="float64",
        model=layers(
            {"units": 2, "activation": "sigmoid", "weights": {"W": [[20, -20], [-20, 20]], "b": [-10, -10]}},
            {"units": 1, "activation": "sigmoid", "weights": {"W": [[20, 20]], "b": [-10]}},
        ),
    )
    model = build_model(config, 2, rng)
    hidden, out = model.trace(np.array([[0, 0], [0, 1], [1, 0], [1, 1]]))
    s = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    np.testing.assert_allclose(hidden[1], [s(-30), s(10)], rtol=1e-12)
    np.testing.assert_allclose(out[:, 0], s(20 * hidden.sum(axis=1) - 10), rtol=1e-12)
    assert out[1, 0] == pytest.approx(0.99995, abs=5e-6) and out[0, 0] == pytest.approx(4.5e-5, rel=0.02)


@pytest.mark.parametrize(
    "weights,message",
    [
        ({"W": [[1, 2, 3], [4, 5, 6]]}, "model.layers.0.weights.W: expected shape (2, 2) (units, inputs), got (2, 3)"),
        ({"W": [[1, 2], [3]]}, "model.layers.0.weights.W: rows of different lengths; expected a 2 x 2 matrix"),
        ({"W": [[1, 2], [3, 4]], "b": [1, 2, 3]}, "model.layers.0.weights.b: expected 2 biases (one per unit), got 3"),
    ],
)
def test_hand_set_weights_of_the_wrong_shape(weights, message, rng):
    config = make_config(model=layers({"units": 2, "weights": weights}, {"units": 1, "activation": "sigmoid"}))
    with pytest.raises(ConfigError) as info:
        build_model(config, 2, rng)
    assert str(info.value) == message


def test_too_many_parameters_is_an_error_before_allocating(rng):
    config = make_config(model=layers({"units": 1_000_000}, {"units": 1_000_000}, {"units": 1, "activation": "sigmoid"}))
    with pytest.raises(ConfigError, match=r"model.layers: the network would have 1,000,005,000,001 parameters; the limit is 500,000,000"):
        build_model(config, 2, rng)


def test_state_dict_round_trip(rng):
    config = make_config(model=layers({"units": 3, "batchnorm": True}, {"units": 1, "activation": "sigmoid"}))
    a, b = build_model(config, 2, rng), build_model(config, 2, rng)
    assert b.load_state_dict(a.state_dict()) is None
    for key, value in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[key], value)
    broken = dict(a.state_dict())
    del broken["layers.1.b"]
    assert b.load_state_dict(broken) == "missing layers.1.b"
    broken = dict(a.state_dict(), **{"layers.1.W": np.zeros((1, 4))})
    assert b.load_state_dict(broken) == "layers.1.W has shape (1, 4), the config needs (1, 3)"


def test_parameters_and_gradients_live_in_one_buffer_each(rng):
    config = make_config(model=layers({"units": 3, "batchnorm": True}, {"units": 1, "activation": "sigmoid"}))
    model = build_model(config, 2, rng)
    assert model.flat_params.size == model.flat_grads.size == model.count_params()[0]
    assert model.flat_params.dtype == model.flat_grads.dtype == np.float32
    for p, g, name in zip(model.params, model.grads, model.param_names):
        assert np.shares_memory(p, model.flat_params) and np.shares_memory(g, model.flat_grads), name
    # The ops use those views: a change through the flat buffer changes the network ...
    before = model.predict(np.ones((1, 2)))
    model.flat_params *= 2
    assert not np.allclose(model.predict(np.ones((1, 2))), before)
    np.testing.assert_array_equal(model.state_dict()["layers.1.W"], model.params[-2])
    # ... and backward fills the flat gradient buffer.
    loss = make_loss("binary_crossentropy", model.output_activation)
    loss.forward(model.forward(np.ones((4, 2), np.float32), training=True, logits=True), np.ones((4, 1), np.float32))
    model.backward(loss.backward(), logits=True)
    np.testing.assert_array_equal(model.flat_grads, np.concatenate([g.ravel() for g in model.grads]))
    assert np.abs(model.flat_grads).sum() > 0


def test_hand_set_weights_arrive_in_the_flat_buffer(rng):
    config = make_config(model=layers({"units": 1, "activation": "sigmoid", "weights": {"W": [[2, -3]], "b": [0.5]}}))
    model = build_model(config, 2, rng)
    np.testing.assert_array_equal(model.flat_params, [2, -3, 0.5])


def test_one_optimizer_step_on_the_flat_buffer_equals_steps_per_array(rng):
    from nntrain.nn.optimizers import Adam

    config = make_config(model=layers({"units": 4, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}))
    a, b = build_model(config, 2, rng), build_model(config, 2, rng)
    b.flat_params[:] = a.flat_params
    grads = rng.normal(size=(3, a.flat_grads.size)).astype(np.float32)
    per_array, flat = Adam(lr=0.1), Adam(lr=0.1)
    for g in grads:
        a.flat_grads[:] = g
        b.flat_grads[:] = g
        per_array.step(a.params, a.grads)
        flat.step([b.flat_params], [b.flat_grads])
    np.testing.assert_array_equal(a.flat_params, b.flat_params)  # elementwise updates: bit for bit


def test_a_training_step_allocates_no_array_the_size_of_an_activation(rng):
    """The hot path writes into buffers kept from the previous step: after one warm-up step, nothing
    as large as an activation (256 x 256 float32 = 256 KiB) is allocated. What remains is small: a
    ReLU's boolean mask (64 KiB) and NumPy's fixed ufunc buffer (8192 elements)."""
    model_spec = layers(
        {"units": 256, "activation": "relu", "batchnorm": True, "keep_prob": 0.8, "l1": 0.01, "l2": 0.01},
        {"units": 256, "activation": "relu"},
        {"units": 3, "activation": "softmax", "l2": 0.1},
    )
    config = make_config(model=model_spec, loss="categorical_crossentropy", dtype="float32")
    model = build_model(config, 32, rng)
    loss = make_loss("categorical_crossentropy", model.output_activation)
    x, y = rng.normal(size=(256, 32)).astype(np.float32), rng.integers(0, 3, 256)

    peak = step_peak_bytes(model, loss, x, y)
    activation_bytes = 256 * 256 * 4
    assert peak < activation_bytes / 2, f"a step allocated up to {peak} bytes"


def test_predict_in_batches_gives_the_rows_of_predict_at_once(rng):
    config = make_config(model={"layers": [{"units": 5, "activation": "relu", "batchnorm": True}, {"units": 3, "activation": "softmax"}]})
    model = build_model(config, 4, rng)
    x = rng.normal(size=(10, 4))
    whole = model.predict(x)
    for batch_size in (1, 3, 10, 64):  # the same rows; BLAS may round a product of fewer rows otherwise
        assert model.predict(x, batch_size).shape == whole.shape
        np.testing.assert_allclose(model.predict(x, batch_size), whole, rtol=1e-6, atol=1e-7)
