"""Dataset, TensorDataset, DataLoader and default_collate: batches, order, lengths, collate rules."""
import collections

import numpy
import pytest

import nnlite
from nnlite.utils.data import (ConcatDataset, DataLoader, Dataset, RandomSampler, SequentialSampler, TensorDataset,
                               default_collate)

X = numpy.arange(10 * 2 * 3, dtype=numpy.float32).reshape(10, 2, 3)
Y = numpy.arange(10, dtype=numpy.int64) * 10


class ListDataset(Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_tensor_dataset_items_and_size_mismatch():
    ds = TensorDataset(X, nnlite.from_numpy(Y))
    assert len(ds) == 10
    x, y = ds[3]
    assert isinstance(x, nnlite.Tensor) and x.tolist() == X[3].tolist() and y.item() == 30
    assert numpy.shares_memory(ds.tensors[0].numpy(), X)     # wrapped, not copied
    with pytest.raises(ValueError, match="Size mismatch between tensors"):
        TensorDataset(X, Y[:9])


@pytest.mark.parametrize("batch_size, drop_last, sizes", [
    (4, False, [4, 4, 2]), (4, True, [4, 4]), (5, True, [5, 5]), (1, False, [1] * 10), (20, False, [10]),
    (20, True, []),
])
def test_batch_shapes_drop_last_and_len(batch_size, drop_last, sizes):
    loader = DataLoader(TensorDataset(X, Y), batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(sizes) == len(batches)
    assert [xb.shape[0] for xb, _ in batches] == sizes
    for xb, yb in batches:
        assert isinstance(xb, nnlite.Tensor) and xb.dtype == numpy.float32 and yb.dtype == numpy.int64
        assert tuple(xb.shape[1:]) == (2, 3)
    if batches:
        numpy.testing.assert_array_equal(numpy.concatenate([yb.numpy() for _, yb in batches]), Y[:sum(sizes)])


def test_fast_path_gathers_whole_rows_into_fresh_arrays():
    loader = DataLoader(TensorDataset(X, Y), batch_size=3, shuffle=True, generator=numpy.random.default_rng(5))
    xb, yb = next(iter(loader))
    idx = yb.numpy() // 10
    numpy.testing.assert_array_equal(xb.numpy(), X[idx])
    assert not numpy.shares_memory(xb.numpy(), X)   # a gathered copy: writing to it leaves the data alone


def test_shuffle_reproducible_under_manual_seed_and_new_each_epoch():
    loader = DataLoader(TensorDataset(X, Y), batch_size=4, shuffle=True)

    def epoch():
        return numpy.concatenate([yb.numpy() for _, yb in loader]).tolist()

    nnlite.manual_seed(123)
    first, second = epoch(), epoch()
    nnlite.manual_seed(123)
    assert epoch() == first and epoch() == second
    assert first != second and sorted(first) == sorted(second) == Y.tolist()
    assert first != Y.tolist()


def test_explicit_generator_and_sampler():
    a = [yb.tolist() for _, yb in DataLoader(TensorDataset(X, Y), 5, True, generator=numpy.random.default_rng(0))]
    b = [yb.tolist() for _, yb in DataLoader(TensorDataset(X, Y), 5, True, generator=numpy.random.default_rng(0))]
    assert a == b and sorted(sum(a, [])) == Y.tolist()
    loader = DataLoader(TensorDataset(X, Y), batch_size=2, sampler=[9, 0, 3])
    assert [yb.tolist() for _, yb in loader] == [[90, 0], [30]] and len(loader) == 2
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(X, shuffle=True, sampler=[0])
    with pytest.raises(ValueError, match="positive integer"):
        DataLoader(X, batch_size=0)
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(X, batch_size=None, drop_last=True)
    assert list(SequentialSampler(range(3))) == [0, 1, 2]
    assert sorted(RandomSampler(range(6))) == list(range(6))


def test_fast_path_matches_generic_collate():
    ds = TensorDataset(X, Y)
    fast = list(DataLoader(ds, batch_size=4, sampler=[5, 1, 7, 2, 8]))
    slow = list(DataLoader(ds, batch_size=4, sampler=[5, 1, 7, 2, 8], collate_fn=default_collate))
    for (fx, fy), (sx, sy) in zip(fast, slow):
        assert fx.shape == sx.shape and fx.dtype == sx.dtype and fy.dtype == sy.dtype
        numpy.testing.assert_array_equal(fx.numpy(), sx.numpy())
        numpy.testing.assert_array_equal(fy.numpy(), sy.numpy())


def test_collate_tuples_dicts_numbers_strings():
    samples = [(numpy.full(3, k, numpy.float32), k, float(k) / 2, f"s{k}", {"a": nnlite.tensor([k, k]), "b": True})
               for k in range(4)]
    (x, i, f, s, d), = list(DataLoader(ListDataset(samples), batch_size=4))
    assert isinstance(x, nnlite.Tensor) and x.shape == (4, 3) and x.dtype == numpy.float32
    assert x.numpy()[:, 0].tolist() == [0, 1, 2, 3]
    assert i.dtype == numpy.int64 and i.tolist() == [0, 1, 2, 3]
    assert f.dtype == numpy.float64 and f.tolist() == [0, 0.5, 1, 1.5]
    assert s == ["s0", "s1", "s2", "s3"]
    assert list(d) == ["a", "b"] and d["a"].tolist() == [[0, 0], [1, 1], [2, 2], [3, 3]]
    assert d["b"].dtype == numpy.bool_ and d["b"].tolist() == [True] * 4
    od = default_collate([collections.OrderedDict(z=numpy.float32(1), y=[1, 2])] * 2)
    assert type(od) is collections.OrderedDict and list(od) == ["z", "y"]
    assert od["z"].dtype == numpy.float32 and [t.tolist() for t in od["y"]] == [[1, 1], [2, 2]]
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([numpy.zeros(2), numpy.zeros(3)])
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object(), object()])


def test_batch_size_none_and_custom_collate():
    items = list(DataLoader(TensorDataset(X, Y), batch_size=None))
    assert len(items) == 10 and items[2][0].shape == (2, 3) and items[2][1].item() == 20
    loader = DataLoader(ListDataset([{"x": numpy.ones(2)}, {"x": numpy.zeros(2)}]), batch_size=None)
    assert len(loader) == 2 and [d["x"].tolist() for d in loader] == [[1, 1], [0, 0]]
    sums = list(DataLoader(ListDataset(list(range(7))), batch_size=3, collate_fn=sum))
    assert sums == [3, 12, 6]


def test_concat_dataset_and_empty_loader():
    ds = ListDataset([1, 2]) + ListDataset([3])
    assert isinstance(ds, ConcatDataset) and len(ds) == 3 and [ds[i] for i in range(-3, 3)] == [1, 2, 3, 1, 2, 3]
    with pytest.raises(IndexError):
        ds[3]
    empty = DataLoader(TensorDataset(X[:0], Y[:0]), batch_size=4, shuffle=True)
    assert len(empty) == 0 and list(empty) == []


def test_tensor_dataset_keeps_gradients_of_leaves():
    w = nnlite.tensor(X, requires_grad=True)
    (xb,) = next(iter(DataLoader(TensorDataset(w), batch_size=2, sampler=[1, 4])))
    xb.sum().backward()
    expected = numpy.zeros_like(X)
    expected[[1, 4]] = 1
    numpy.testing.assert_array_equal(w.grad.numpy(), expected)
