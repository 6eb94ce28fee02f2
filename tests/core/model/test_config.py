"""The named model sizes: one list, and every figure kept per size covers each of them."""

from mspt_core.model.config import CPU_TRAIN_SECONDS_PER_LINE, LINE_HEIGHT, SIZES, config_for


def test_every_size_has_a_training_cost_and_the_standard_height():
    assert set(CPU_TRAIN_SECONDS_PER_LINE) == set(SIZES)
    assert all(config_for(size).height == LINE_HEIGHT for size in SIZES)
