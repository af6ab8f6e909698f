"""Import batches are sized by the time they hold the write lock (about 0.25 s), within 1,000..20,000 rows."""
from aime.services.importers.pipeline import Batch, BatchSizer, batches
from aime.services.importers.records import Play


def test_the_size_aims_at_a_quarter_second_grows_at_most_twofold_and_stays_in_bounds():
    sizer = BatchSizer()
    assert sizer() == 2_000
    sizer.observe(2_000, 0.01)  # 50,000 rows would take 0.25 s: at most twice as many as last time
    assert sizer() == 4_000
    sizer.observe(4_000, 0.5)  # 4,000 rows took 0.5 s: half as many
    assert sizer() == 2_000
    sizer.observe(2_000, 5.0)  # far too slow: never below the floor
    assert sizer() == 1_000
    for _ in range(10):
        sizer.observe(sizer(), 0.001)
    assert sizer() == 20_000  # the ceiling
    sizer.observe(0, 0.0)  # an empty batch says nothing
    assert sizer() == 20_000


def test_batches_ask_the_sizer_before_each_batch():
    sizes = iter([2, 3, 1, 5])
    plays = [Play(line=i, artist="A", title=f"T{i}", album=None, played_at=i) for i in range(8)]
    made = list(batches(plays, size=lambda: next(sizes)))
    assert [b.records for b in made] == [2, 3, 1, 2]
    assert all(isinstance(b, Batch) for b in made)
