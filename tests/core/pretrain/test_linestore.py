"""The unlabeled line store: round trip, shuffled epochs that cover every line once, disjoint
shards per rank, random access for mid-epoch resume, and memory that does not grow with the
number of lines."""

import tracemalloc

import numpy as np
import pytest

from mspt_core.data.linestore import LineStore, LineStoreWriter, build_line_store
from mspt_core.errors import DataError
from tests.core.pretrain.conftest import fake_line, write_store


def _key(image):
    return image.tobytes()


def test_round_trip_keeps_every_line(tmp_path):
    rng = np.random.default_rng(3)
    lines = [fake_line(rng) for _ in range(21)]
    writer = LineStoreWriter(tmp_path / "s", 40, lines_per_shard=8)
    for line in lines:
        writer.add(line)
    store = writer.close()
    assert (len(store), store.num_shards) == (21, 3)
    assert [_key(x) for x in store.iter_lines()] == [_key(x) for x in lines]
    assert LineStore.is_store(tmp_path / "s")
    with pytest.raises(DataError):
        LineStoreWriter(tmp_path / "s", 40)  # never overwrite a store


def test_lines_of_another_height_are_scaled(tmp_path):
    writer = LineStoreWriter(tmp_path / "s", 40)
    writer.add(np.full((80, 300), 200, np.uint8))
    (line,) = list(writer.close().iter_lines())
    assert line.shape == (40, 150)


def test_an_epoch_shuffles_across_shards_and_covers_every_line_once(store):
    plan = store.plan(batch_size=5, seed=11, shards_per_window=2)
    seen = [_key(img) for i in range(len(plan)) for img in plan[i]]
    assert sorted(seen) == sorted(_key(x) for x in store.iter_lines())
    first_batches = [_key(plan[0][0]), _key(plan[1][0])]
    other = store.plan(batch_size=5, seed=12, shards_per_window=2)
    assert [_key(other[0][0]), _key(other[1][0])] != first_batches  # another epoch, another order
    in_order = [_key(x) for x in store.iter_lines()]
    assert seen != in_order


def test_plan_is_random_access_so_resume_mid_epoch_reads_the_same_batches(store):
    plan = store.plan(batch_size=4, seed=5)
    again = store.plan(batch_size=4, seed=5)
    for i in (len(plan) - 1, 3, 0, 7):  # any order, fresh object: same batch
        assert [_key(x) for x in plan[i]] == [_key(x) for x in again[i]]


def test_ranks_read_disjoint_shards_and_take_equal_steps(store):
    plans = [store.plan(batch_size=4, seed=2, rank=r, world=2) for r in range(2)]
    assert len(plans[0]) == len(plans[1]) > 0
    seen = [{_key(img) for i in range(len(p)) for img in p[i]} for p in plans]
    assert not seen[0] & seen[1]


def test_streaming_memory_does_not_grow_with_the_number_of_lines(tmp_path):
    def peak(lines: int) -> int:
        store = write_store(tmp_path / f"s{lines}", lines, lines_per_shard=32)
        tracemalloc.start()
        plan = store.plan(batch_size=8, seed=0, shards_per_window=2)
        for i in range(len(plan)):
            plan[i]
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(128), peak(1280)
    assert large < small * 1.5  # ten times the lines, about the same peak


def test_build_from_alto_ignores_text(tmp_path, fondue):
    xml = fondue / "data/Dracula/05dracula.pdf_page_51.xml"
    store, skipped = build_line_store([xml], tmp_path / "s", 40, lines_per_shard=10)
    assert len(store) == 28 and not skipped
    assert all(line.shape[0] == 40 for line in store.iter_lines())


def stop_on_call(n):
    """A should_stop that says stop on its n-th call (it is asked before each file and after
    each shard written)."""
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) >= n

    return should_stop


@pytest.mark.parametrize("per_shard, stop_at", [(10, 3), (10, 5), (8, 2), (1000, 3)])
def test_an_interrupted_build_resumes_where_it_stopped(tmp_path, fondue, per_shard, stop_at):
    """Stopped after some shards, between files or inside one (a kill leaves the same state on
    disk), the build goes on from the last shard written and ends with exactly the lines of an
    uninterrupted build, reading no stored line twice."""
    xmls = sorted((fondue / "data/Dracula").glob("*.xml"))[:3]
    whole, _ = build_line_store(xmls, tmp_path / "whole", 40, lines_per_shard=per_shard)

    stopped, _ = build_line_store(
        xmls, tmp_path / "part", 40, lines_per_shard=per_shard, should_stop=stop_on_call(stop_at)
    )
    assert stopped is None and not LineStore.is_store(tmp_path / "part")
    stored = sum(len(np.load(p)["widths"]) for p in (tmp_path / "part").glob("shard-*.npz"))
    added: list[int] = []
    store, skipped = build_line_store(xmls, tmp_path / "part", 40, lines_per_shard=per_shard, on_line=added.append)
    assert not skipped
    assert [_key(x) for x in store.iter_lines()] == [_key(x) for x in whole.iter_lines()]
    assert len(added) == len(whole) - stored  # only the lines not yet in a shard were added
    assert store.num_shards == whole.num_shards  # and shards keep their size inside big files
