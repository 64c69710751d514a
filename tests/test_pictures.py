"""nntrain.runs.pictures and nntrain.runs.redraw, and ``nntrain plot``."""

from pathlib import Path

import numpy as np
import pytest

from conftest import make_config, run_cli
from nntrain.errors import DataError
from nntrain.runs.inference import load_model
from nntrain.runs.pictures import gif_frames, network_columns, plot_neurons, require_2d
from nntrain.runs.redraw import redraw
from nntrain.training.fit import fit
from test_plots import png_size

CONFIGS = Path(__file__).parent.parent / "configs"
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    return fit(make_config(training={"epochs": 200, "snapshots": 20}), run_dir=tmp_path_factory.mktemp("p") / "r").run_dir


def test_plot_redraws_every_picture_and_animates(xor_run):
    result = run_cli("plot", xor_run, "--animate")
    assert result.exit_code == 0, result.output
    names = [Path(line).name for line in result.stdout.split()]
    assert names == ["curves.png", "decision_boundary.png", "neurons.png", "network.png", "histograms.png", "boundary.gif"]
    assert gif_frames(xor_run / "boundary.gif") == 11  # epochs 1, 20, ..., 200 (Pillow merges the held last frame)
    assert png_size(xor_run / "neurons.png")[0] >= 480


def test_an_interrupted_run_is_drawn_from_its_checkpoint(tmp_path):
    def stop(epoch, logs):
        if epoch == 12:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(make_config(training={"epochs": 50, "checkpoint_every": 5}), run_dir=tmp_path / "r", on_epoch=stop)
    written = redraw(tmp_path / "r", animate=True)
    assert (tmp_path / "r" / "boundary.gif") in written and gif_frames(tmp_path / "r" / "boundary.gif") >= 10


def test_the_lectures_net_units_are_its_two_hand_set_logistic_regressions(tmp_path):
    """The lecture's hidden units: sigma(20 x1 - 20 x2 - 10) is 1 only at (1, 0), the other only at (0, 1)."""
    _, model = load_model(CONFIGS / "xor_reference.yaml")
    hidden = model.trace(XOR_X)[0]
    np.testing.assert_array_equal(hidden.round(), [[0, 0], [0, 1], [1, 0], [0, 0]])
    written = redraw(CONFIGS / "xor_reference.yaml", out_dir=tmp_path)
    assert [p.name for p in written] == ["decision_boundary.png", "neurons.png", "network.png", "histograms.png"]


def test_network_columns_of_a_residual_net():
    config = make_config(
        model={"layers": [{"units": 3, "activation": "tanh"}, {"type": "residual", "units": 3, "hidden": 5},
                          {"units": 1, "activation": "sigmoid"}]}  # fmt: skip
    )
    from nntrain.nn.model import build_model

    widths, names, kernels = network_columns(build_model(config, 2, np.random.default_rng(0)))
    assert widths == [2, 3, 5, 3, 1]
    assert [skip for _, skip in kernels] == [False, False, True, False]
    assert names[2] == "layer 1\nhidden, relu"


def test_neuron_maps_need_2d_inputs(tmp_path):
    with pytest.raises(DataError, match="neuron maps need 2-D inputs .* the data has 3 features"):
        plot_neurons(lambda rows: [rows], np.zeros((5, 3)), None, tmp_path / "n.png")
    with pytest.raises(DataError, match="decision regions need 2-D inputs"):
        require_2d(np.zeros((5, 1)), "decision regions")


def test_animate_without_snapshots_says_how_to_get_them(tmp_path):
    config = make_config(
        data={"source": "sine", "n_samples": 40, "batch_size": 10},
        model={"layers": [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "linear"}]},
        loss="mse", metrics=["mae"], training={"epochs": 2},
    )  # fmt: skip
    run = fit(config, run_dir=tmp_path / "r").run_dir
    result = run_cli("plot", run, "--animate")
    assert result.exit_code == 2
    assert "kept no weight snapshots (snapshots.npz); set training.snapshots: K (every K epochs) and fit again" in result.stderr
    result = run_cli("plot", run)  # without --animate: what applies to 1-D inputs
    assert result.exit_code == 0 and "neurons.png" not in result.stdout and "network.png" in result.stdout


def test_animate_on_wider_inputs_is_an_error(tmp_path):
    config = make_config(
        data={"source": "sine", "n_samples": 40, "batch_size": 10},
        model={"layers": [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "linear"}]},
        loss="mse", metrics=["mae"], training={"epochs": 3, "snapshots": 1},
    )  # fmt: skip
    run = fit(config, run_dir=tmp_path / "r").run_dir
    result = run_cli("plot", run, "--animate")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: decision regions need 2-D inputs (a plane to draw on); the data has 1 features"


def test_an_output_folder_that_does_not_exist(xor_run, tmp_path):
    result = run_cli("plot", xor_run, "-o", tmp_path / "nowhere")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: --output {tmp_path / 'nowhere'}: folder does not exist"


def test_a_config_cannot_be_animated(tmp_path):
    result = run_cli("plot", CONFIGS / "xor_reference.yaml", "--animate", "-o", tmp_path)
    assert result.exit_code == 2 and "--animate:" in result.stderr and "is a config" in result.stderr
