import numpy as np
import pytest

from conftest import make_config
from nntrain.data import Loader, Split, load_data, prepare_targets
from nntrain.errors import DataError


def test_xor_is_the_lectures_table_in_its_order():
    data = load_data(make_config(), np.random.default_rng(0))
    np.testing.assert_array_equal(data.train.x, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(data.train.y, [[0], [1], [1], [0]])
    assert data.train.x.dtype == np.float32 and data.n_features == 2


def test_targets_follow_the_loss():
    softmax = {"layers": [{"units": 2, "activation": "softmax"}]}
    labels = prepare_targets(np.array([[0, 1], [1, 0]]), make_config(model=softmax, loss="categorical_crossentropy"))
    np.testing.assert_array_equal(labels, [1, 0])
    assert labels.dtype == np.int64
    regression = make_config(model={"layers": [{"units": 1, "activation": "linear"}]}, loss="mse", metrics=[])
    assert prepare_targets(np.array([0.5, 2.0]), regression).shape == (2, 1)


@pytest.mark.parametrize(
    "units,loss,y,message",
    [
        (2, "categorical_crossentropy", [0, 1, 2], "the data has 3 classes but the output layer has 2 units; set its units to 3"),
        (3, "categorical_crossentropy", [0.5, 1, 2], "categorical_crossentropy needs class labels 0, 1, ..., K-1 as targets"),
        (2, "binary_crossentropy", [0, 1], "the data has 1 binary targets per row but the output layer has 2 units; set its units to 1"),
        (1, "binary_crossentropy", [0, 2], "binary_crossentropy needs targets between 0 and 1"),
        (3, "mse", [[1.0, 2.0]], "the data has 2 target columns but the output layer has 3 units; set its units to 2"),
    ],
)
def test_output_units_must_fit_the_targets(units, loss, y, message):
    activation = {"categorical_crossentropy": "softmax", "binary_crossentropy": "sigmoid", "mse": "linear"}[loss]
    config = make_config(model={"layers": [{"units": units, "activation": activation}]}, loss=loss, metrics=[])
    with pytest.raises(DataError) as info:
        prepare_targets(np.array(y), config)
    assert str(info.value) == message


def split(n):
    return Split(np.arange(n, dtype=float)[:, None], np.arange(n))


def test_loader_batches_cover_every_row_once_per_epoch():
    loader = Loader(split(10), 3, shuffle=True, drop_last=False, rng=np.random.default_rng(0))
    assert len(loader) == 4
    epochs = [[y.tolist() for _, y in loader] for _ in range(2)]
    for batches in epochs:
        assert [len(b) for b in batches] == [3, 3, 3, 1]
        assert sorted(sum(batches, [])) == list(range(10))
    assert epochs[0] != epochs[1]  # reshuffled every epoch


def test_loader_rows_stay_paired():
    loader = Loader(split(17), 4, shuffle=True, drop_last=False, rng=np.random.default_rng(1))
    for x, y in loader:
        np.testing.assert_array_equal(x[:, 0], y)


def test_loader_drop_last_and_views_without_shuffling():
    data = split(10)
    loader = Loader(data, 4, shuffle=False, drop_last=True, rng=np.random.default_rng(0))
    assert len(loader) == 2
    batches = list(loader)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert all(np.shares_memory(x, data.x) for x, _ in batches)  # views, not copies


def test_loader_is_reproducible_from_the_seed():
    a = [y.tolist() for _, y in Loader(split(9), 2, True, False, np.random.default_rng(5))]
    b = [y.tolist() for _, y in Loader(split(9), 2, True, False, np.random.default_rng(5))]
    assert a == b
