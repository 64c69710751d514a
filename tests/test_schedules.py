import math

import pytest

from nntrain.config import CosineSchedule, ExponentialSchedule, StepSchedule
from nntrain.nn.schedules import learning_rate


def rates(schedule, epochs=10, lr=0.1):
    return [learning_rate(schedule, lr, e, epochs) for e in range(epochs)]


def test_constant_without_a_schedule():
    assert rates(None) == [0.1] * 10


def test_step():
    assert rates(StepSchedule(name="step", step_size=3, gamma=0.5)) == pytest.approx(
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125]
    )


def test_exponential():
    assert rates(ExponentialSchedule(name="exponential", gamma=0.9), epochs=4) == pytest.approx(
        [0.1, 0.09, 0.081, 0.0729]
    )


def test_cosine_goes_from_lr_to_min_lr():
    r = rates(CosineSchedule(name="cosine", min_lr=0.01), epochs=5)
    assert r == pytest.approx([0.01 + 0.09 * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(5)])
    assert r[0] == pytest.approx(0.1)


def test_warmup_ramps_linearly_then_schedules_the_rest():
    r = rates(CosineSchedule(name="cosine", warmup_epochs=4), epochs=8)
    assert r[:4] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    assert r[4:] == pytest.approx([0.1 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)])
