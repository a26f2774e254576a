"""Conv1d kernels on short rows (output rows shorter than the register tile's width).

Rows shorter than the tile used to fall to a scalar loop 50-100x slower per column; they
now batch several samples along one row (forward, grad input) or use one-vector tiles
(single-row kernel).  These tests pin the values against the float64 reference of
test_conv1d_kernels for every output length 1..40 and strides 1..4, with and without
padding, on both kernel paths, and check that the batched tasks give bitwise the same
results for any thread count.
"""
import numpy as np
import pytest

from nnlite._kernels import conv1d_cpu as C
from nnlite._threads import get_num_threads, set_num_threads
from test_conv1d_kernels import VARIANTS, DTYPES, check_all, make, ref_forward, ref_grads, tol


@pytest.fixture
def variant_and_threads():
    old_variant, old_threads = C.VARIANT, get_num_threads()
    yield
    C.set_variant(old_variant)
    set_num_threads(old_threads)


def _lp(l_out, k, stride, dilation, extra=0):
    return (l_out - 1) * stride + dilation * (k - 1) + 1 + extra


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stride", [1, 2, 3, 4])
@pytest.mark.parametrize("channels", [(5, 13), (2, 9), (6, 2)], ids=["tile", "row_gi", "row_fwd"])
def test_every_short_length_matches_reference(channels, stride, dtype, variant, variant_and_threads):
    """Output lengths 1..40: forward, grad input, grad weight and grad bias against the
    reference.  (5, 13) runs the register tiles in forward and grad input, (2, 9) the
    single-row grad input, (6, 2) the single-row forward."""
    C.set_variant(variant)
    c_in, c_out = channels
    rng = np.random.default_rng(stride)
    for l_out in range(1, 41):
        k, d = (3, 1) if l_out % 2 else (4, 2)
        x, w, b = make(rng, 3, c_in, c_out, _lp(l_out, k, stride, d, l_out % stride), k, 1, dtype)
        y = check_all(x, w, b, stride, d, 1, rng)[0]
        assert y.shape[2] == l_out


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_short_rows_with_padding(dtype, variant, variant_and_threads):
    """In-kernel padding ('same'-style, and longer than the input) on short rows."""
    C.set_variant(variant)
    rng = np.random.default_rng(3)
    for length in (1, 2, 5, 9, 17, 25, 31):
        for k, s, pl, pr in ((5, 1, 2, 2), (8, 1, 3, 4), (3, 2, 1, 1), (7, 4, 6, 6)):
            x, w, b = make(rng, 4, 6, 10, length, k, 1, dtype)
            xp = np.pad(x, ((0, 0), (0, 0), (pl, pr)))
            if C.output_length(xp.shape[2], k, s, 1) < 1:
                continue
            y = C.forward(x, w, b, s, 1, 1, pad=(pl, pr))
            assert y.tobytes() == C.forward(xp, w, b, s, 1, 1).tobytes()
            np.testing.assert_allclose(y, ref_forward(xp, w, b, s, 1, 1), **tol(dtype, 6 * k))
            gy = rng.standard_normal(y.shape).astype(dtype)
            gxr, gwr, _ = ref_grads(xp, w, gy, s, 1, 1)
            gx = C.grad_input(gy, w, x.shape, s, 1, 1, pad=(pl, pr))
            np.testing.assert_allclose(gx, gxr[:, :, pl:pl + length], **tol(dtype, 10 * k))
            gw = C.grad_weight(x, gy, w.shape, s, 1, 1, pad=(pl, pr))
            np.testing.assert_allclose(gw, gwr, **tol(dtype, gy.shape[0] * gy.shape[2]))


@pytest.mark.parametrize("variant", VARIANTS)
def test_batched_tasks_split_the_batch(variant, variant_and_threads):
    """Many input channels and a large stride: a batched task holds fewer samples than
    the batch, so the batch is cut into several sample groups (the last one short)."""
    C.set_variant(variant)
    rng = np.random.default_rng(9)
    for l_out in (3, 20, 35):
        x, w, b = make(rng, 5, 64, 12, _lp(l_out, 3, 4, 1), 3, 1, np.float32)
        check_all(x, w, b, 4, 1, 1, rng)
        x, w, b = make(rng, 5, 12, 64, _lp(l_out, 3, 4, 1), 3, 1, np.float32)
        check_all(x, w, b, 4, 1, 1, rng)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_short_rows_bitwise_same_for_any_thread_count(dtype, variant, variant_and_threads):
    C.set_variant(variant)
    rng = np.random.default_rng(13)
    for c_in, c_out, l_out, k, s, g in ((32, 64, 4, 5, 1, 1), (32, 64, 25, 5, 2, 1),
                                         (64, 32, 12, 3, 1, 2), (1, 128, 9, 8, 1, 1),
                                         (128, 1, 20, 3, 1, 1), (16, 16, 7, 3, 3, 16)):
        x, w, b = make(rng, 16, c_in, c_out, _lp(l_out, k, s, 1), k, g, dtype)
        gy = rng.standard_normal((16, c_out, l_out)).astype(dtype)
        results = []
        for threads in (1, 2, 3):
            set_num_threads(threads)
            results.append([C.forward(x, w, b, s, 1, g).tobytes(),
                            C.grad_input(gy, w, x.shape, s, 1, g).tobytes(),
                            C.grad_weight(x, gy, w.shape, s, 1, g).tobytes()])
        assert results[1] == results[0] and results[2] == results[0]
