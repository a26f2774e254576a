"""The CPU Conv1d kernels (nnlite._kernels.conv1d_cpu) against a float64 numpy reference.

Every kernel variant the machine can run is checked, in float32 and float64, over random
shapes/stride/dilation/groups (hypothesis) and the special cases: empty batch, K = 1,
C_in = 1, depthwise, non-contiguous inputs.  Results must be bitwise identical for 1 and
2 threads, and correct when two Python threads convolve at the same time.
"""
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from nnlite._kernels import conv1d_cpu as C
from nnlite._threads import get_num_threads, set_num_threads

VARIANTS = C.supported_variants()
DTYPES = (np.float32, np.float64)


# ------------------------------------------------------------------ reference

def ref_forward(x, w, b, stride, dilation, groups):
    x, w = x.astype(np.float64), w.astype(np.float64)
    n, c_in, length = x.shape
    c_out, c_ig, k = w.shape
    l_out = (length - dilation * (k - 1) - 1) // stride + 1
    c_og = c_out // groups
    y = np.zeros((n, c_out, max(l_out, 0)))
    for o in range(c_out):
        g = o // c_og
        for c in range(c_ig):
            for t in range(k):
                s = t * dilation
                y[:, o] += w[o, c, t] * x[:, g * c_ig + c, s:s + stride * (l_out - 1) + 1:stride]
    if b is not None:
        y += b.astype(np.float64)[None, :, None]
    return y


def ref_grads(x, w, gy, stride, dilation, groups):
    """(grad input, grad weight, grad bias) of ref_forward for output gradient gy."""
    x, w, gy = x.astype(np.float64), w.astype(np.float64), gy.astype(np.float64)
    c_out, c_ig, k = w.shape
    l_out = gy.shape[2]
    c_og = c_out // groups
    gx, gw = np.zeros(x.shape), np.zeros(w.shape)
    for o in range(c_out):
        g = o // c_og
        for c in range(c_ig):
            for t in range(k):
                sl = slice(t * dilation, t * dilation + stride * (l_out - 1) + 1, stride)
                gx[:, g * c_ig + c, sl] += w[o, c, t] * gy[:, o]
                gw[o, c, t] = np.sum(gy[:, o] * x[:, g * c_ig + c, sl])
    return gx, gw, gy.sum(axis=(0, 2))


def tol(dtype, terms):
    """Tolerances for a sum of `terms` products of N(0, 1) numbers."""
    scale = np.sqrt(max(terms, 1))
    if dtype == np.float32:
        return dict(rtol=2e-4, atol=2e-5 * scale)
    return dict(rtol=1e-11, atol=1e-12 * scale)


# ------------------------------------------------------------------ helpers

@pytest.fixture
def restore_variant():
    old = C.VARIANT
    yield
    C.set_variant(old)


def make(rng, n, c_in, c_out, lp, k, groups, dtype, bias=True):
    x = rng.standard_normal((n, c_in, lp)).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups, k)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if bias else None
    return x, w, b


def check_all(x, w, b, stride, dilation, groups, gy_rng=None):
    """Run the four kernels and assert them against the reference; return the outputs."""
    dtype = x.dtype
    y = C.forward(x, w, b, stride, dilation, groups)
    yr = ref_forward(x, w, b, stride, dilation, groups)
    assert y.shape == yr.shape and y.dtype == dtype
    r = w.shape[1] * w.shape[2]
    np.testing.assert_allclose(y, yr, **tol(dtype, r))
    rng = gy_rng or np.random.default_rng(1)
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx = C.grad_input(gy, w, x.shape, stride, dilation, groups)
    gw = C.grad_weight(x, gy, w.shape, stride, dilation, groups)
    gb = C.grad_bias(gy)
    gxr, gwr, gbr = ref_grads(x, w, gy, stride, dilation, groups)
    assert gx.shape == x.shape and gx.dtype == dtype
    assert gw.shape == w.shape and gw.dtype == dtype
    assert gb.shape == (w.shape[0],) and gb.dtype == dtype
    c_og = w.shape[0] // groups
    np.testing.assert_allclose(gx, gxr, **tol(dtype, c_og * w.shape[2]))
    np.testing.assert_allclose(gw, gwr, **tol(dtype, gy.shape[0] * gy.shape[2]))
    np.testing.assert_allclose(gb, gbr, **tol(dtype, gy.shape[0] * gy.shape[2]))
    return y, gx, gw, gb


# ------------------------------------------------------------------ random shapes

@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    c_ig = draw(st.integers(1, 5))
    c_og = draw(st.sampled_from([1, 2, 3, 5, 8, 11]))
    k = draw(st.integers(1, 5))
    stride = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 3))
    l_out = draw(st.sampled_from([1, 2, 7, 16, 31, 33, 64, 70, 130]))
    extra = draw(st.integers(0, stride - 1))
    lp = (l_out - 1) * stride + dilation * (k - 1) + 1 + extra
    n = draw(st.integers(0, 3))
    return dict(n=n, c_in=groups * c_ig, c_out=groups * c_og, lp=lp, k=k, stride=stride,
                dilation=dilation, groups=groups, bias=draw(st.booleans()),
                variant=draw(st.sampled_from(VARIANTS)), dtype=draw(st.sampled_from(DTYPES)),
                seed=draw(st.integers(0, 2 ** 16)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_cases())
def test_random_shapes_match_reference(case):
    old = C.VARIANT
    try:
        C.set_variant(case["variant"])
        rng = np.random.default_rng(case["seed"])
        x, w, b = make(rng, case["n"], case["c_in"], case["c_out"], case["lp"], case["k"],
                       case["groups"], case["dtype"], case["bias"])
        check_all(x, w, b, case["stride"], case["dilation"], case["groups"], rng)
    finally:
        C.set_variant(old)


def ref_grad_weight(x, gy, w_shape, stride, dilation, groups):
    """grad weight of ref_forward, vectorised (for wide channel counts)."""
    x, gy = x.astype(np.float64), gy.astype(np.float64)
    c_out, c_ig, k = w_shape
    l_out = gy.shape[2]
    span = stride * (l_out - 1) + 1
    cols = np.stack([x[:, :, t * dilation:t * dilation + span:stride] for t in range(k)], -1)
    gw = np.empty(w_shape)
    c_og = c_out // groups
    for g in range(groups):
        gw[g * c_og:(g + 1) * c_og] = np.einsum(
            "nol,nclk->ock", gy[:, g * c_og:(g + 1) * c_og], cols[:, g * c_ig:(g + 1) * c_ig])
    return gw


@st.composite
def packed_cases(draw):
    groups = draw(st.integers(1, 2))
    c_og = draw(st.sampled_from([32, 33, 47, 64, 70]))
    k = draw(st.integers(1, 6))
    stride = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 3))
    l_out = draw(st.sampled_from([1, 5, 31, 150, 257, 400]))
    pad = (draw(st.integers(0, 4)), draw(st.integers(0, 4)))
    length = max((l_out - 1) * stride + dilation * (k - 1) + 1 - sum(pad), 1)
    return dict(n=draw(st.integers(1, 4)), c_ig=draw(st.integers(1, 13)), c_og=c_og, k=k,
                stride=stride, dilation=dilation, groups=groups, length=length, pad=pad,
                variant=draw(st.sampled_from(VARIANTS)), dtype=draw(st.sampled_from(DTYPES)),
                seed=draw(st.integers(0, 2 ** 16)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packed_cases())
def test_grad_weight_packed_form_matches_reference(case):
    """32 or more output channels per group: the packed (GEMM) grad weight, with padding,
    stride, dilation, groups, partial row blocks and zero-padded columns."""
    old = C.VARIANT
    try:
        C.set_variant(case["variant"])
        rng = np.random.default_rng(case["seed"])
        g, (pl, pr), dtype = case["groups"], case["pad"], case["dtype"]
        x, w, _ = make(rng, case["n"], g * case["c_ig"], g * case["c_og"], case["length"],
                       case["k"], g, dtype, bias=False)
        s, d = case["stride"], case["dilation"]
        l_out = C.output_length(case["length"] + pl + pr, case["k"], s, d)
        gy = rng.standard_normal((case["n"], w.shape[0], l_out)).astype(dtype)
        gw, gb = C.grad_weight(x, gy, w.shape, s, d, g, with_bias=True, pad=(pl, pr), form=1)
        xp = np.pad(x, ((0, 0), (0, 0), (pl, pr)))
        np.testing.assert_allclose(gw, ref_grad_weight(xp, gy, w.shape, s, d, g),
                                   **tol(dtype, case["n"] * l_out))
        assert gb.tobytes() == C.grad_bias(gy).tobytes()
    finally:
        C.set_variant(old)


@pytest.mark.parametrize("shape, packed", [
    ((5, 128, 256, 154, 5, 1, 1, 1), True),      # the FCN's second layer at batch 5
    ((2, 104, 160, 503, 5, 2, 1, 2), True),      # 80 per group, R = 260
    ((3, 64, 64, 258, 3, 1, 1, 1), False),       # R = 192
    ((2, 48, 48, 300, 7, 1, 1, 1), False),       # 48 output channels
    ((32, 64, 64, 1026, 3, 1, 1, 1), False),     # long rows
    ((2, 8, 8, 100, 3, 1, 1, 8), False),         # depthwise: the lane form on every variant
])
def test_grad_weight_form_rule(shape, packed):
    """By shape the kernel picks the packed form or the lane form (bitwise equal to the
    forced one), and both agree with the reference.  The rule above is AVX-512's; the
    avx2 and base variants take the packed form wherever a group has 2+ output channels."""
    n, c_in, c_out, lp, k, s, d, g = shape
    if C.VARIANT != "avx512":
        packed = c_out // g >= 2
    rng = np.random.default_rng(9)
    x, w, _ = make(rng, n, c_in, c_out, lp, k, g, np.float64, bias=False)
    gy = rng.standard_normal((n, c_out, C.output_length(lp, k, s, d)))
    auto = C.grad_weight(x, gy, w.shape, s, d, g)
    forced = [C.grad_weight(x, gy, w.shape, s, d, g, form=f) for f in (0, 1)]
    assert auto.tobytes() == forced[int(packed)].tobytes()
    assert auto.tobytes() != forced[1 - int(packed)].tobytes()
    ref = ref_grad_weight(x, gy, w.shape, s, d, g)
    for gw in forced:
        np.testing.assert_allclose(gw, ref, **tol(np.float64, gy.shape[0] * gy.shape[2]))


# ------------------------------------------------------------------ special cases

SPECIAL = {
    # name: (N, C_in, C_out, Lp, K, stride, dilation, groups)
    "empty_batch": (0, 4, 6, 50, 3, 1, 1, 1),
    "k1": (2, 5, 9, 70, 1, 1, 1, 1),
    "k1_strided": (2, 5, 9, 71, 1, 2, 1, 1),
    "c_in_1": (2, 1, 16, 300, 7, 1, 1, 1),
    "c_in_1_many_taps": (2, 1, 24, 200, 5, 1, 2, 1),     # grad input: 120 taps, one row
    "depthwise": (2, 12, 12, 260, 7, 1, 1, 12),
    "depthwise_strided": (2, 6, 6, 131, 3, 2, 2, 6),
    "depthwise_mult2": (2, 4, 8, 100, 3, 1, 1, 4),
    "even_kernel_dilated": (2, 8, 8, 150, 4, 1, 3, 1),
    "wide_channels": (2, 24, 20, 200, 3, 1, 1, 1),
    "strided3": (2, 6, 10, 203, 5, 3, 2, 2),
    "short": (3, 3, 10, 5, 3, 1, 2, 1),
    "l_out_1": (2, 4, 4, 9, 3, 4, 4, 1),
    # strided grad input in several GI_CHUNK passes, odd lengths, phases without taps
    "strided_long": (2, 10, 12, 1203, 5, 2, 1, 1),
    "strided3_long": (2, 9, 10, 1501, 4, 3, 2, 1),
    "stride_gt_k": (2, 9, 10, 1000, 1, 4, 1, 1),
    # 32+ output channels per group, R not a multiple of the tile
    "many_out_channels": (3, 24, 64, 150, 5, 1, 1, 1),
    "many_out_channels_grouped": (2, 10, 80, 97, 3, 1, 1, 2),
    "many_out_channels_strided": (2, 7, 33, 301, 4, 2, 3, 1),
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(SPECIAL))
def test_special_shapes(name, dtype, variant, restore_variant):
    C.set_variant(variant)
    n, c_in, c_out, lp, k, s, d, g = SPECIAL[name]
    x, w, b = make(np.random.default_rng(7), n, c_in, c_out, lp, k, g, dtype)
    y, gx, gw, gb = check_all(x, w, b, s, d, g)
    if n == 0:
        assert y.shape == (0, c_out, C.output_length(lp, k, s, d))
        assert not gw.any() and not gb.any()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 8, 12, 301, 3, 1, 1, 1), (2, 4, 8, 500, 5, 2, 1, 2),
                                   (2, 6, 6, 77, 3, 1, 2, 6), (0, 2, 4, 9, 3, 1, 1, 1),
                                   (2, 3, 5, 2, 3, 1, 1, 1)])
def test_grad_weight_with_bias(shape, dtype, variant, restore_variant):
    """grad_weight(..., with_bias=True) returns grad_bias's result, bitwise."""
    C.set_variant(variant)
    n, c_in, c_out, lp, k, s, d, g = shape
    rng = np.random.default_rng(2)
    x, w, _ = make(rng, n, c_in, c_out, lp, k, g, dtype)
    gy = rng.standard_normal((n, c_out, max(C.output_length(lp, k, s, d), 0))).astype(dtype)
    gw, gb = C.grad_weight(x, gy, w.shape, s, d, g, with_bias=True)
    assert gw.tobytes() == C.grad_weight(x, gy, w.shape, s, d, g).tobytes()
    assert gb.tobytes() == C.grad_bias(gy).tobytes()
    _, gwr, gbr = ref_grads(x, w, gy, s, d, g)
    np.testing.assert_allclose(gw, gwr, **tol(dtype, gy.shape[0] * gy.shape[2]))
    np.testing.assert_allclose(gb, gbr, **tol(dtype, gy.shape[0] * gy.shape[2]))


PAD_SHAPES = [
    # (N, C_in, C_out, L, K, stride, dilation, groups, pad_left, pad_right)
    (2, 5, 12, 300, 3, 1, 1, 1, 1, 1),       # tile path: edge and interior tasks
    (2, 16, 16, 2000, 9, 1, 1, 1, 4, 4),     # several superblocks
    (2, 8, 16, 1001, 5, 2, 1, 1, 2, 3),      # strided tile path
    (3, 6, 6, 257, 7, 1, 2, 6, 6, 6),        # depthwise (single-row kernel)
    (2, 1, 16, 100, 7, 1, 1, 1, 3, 0),       # C_in == 1
    (2, 4, 2, 90, 3, 3, 2, 1, 0, 5),         # single-row kernel, strided
    (1, 3, 9, 2, 3, 1, 3, 1, 4, 4),          # padding longer than the input
    (2, 3, 9, 0, 3, 1, 1, 1, 2, 1),          # empty input, padding only
    (2, 32, 64, 150, 8, 1, 1, 1, 3, 4),      # packed grad weight ('same', even kernel)
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", PAD_SHAPES)
def test_forward_padding_in_kernel(shape, dtype, variant, restore_variant):
    """forward(..., pad=(l, r)) is bitwise forward() of the zero-padded input, and
    grad_input(..., pad=) and grad_weight(..., pad=) match the padded input's (up to
    rounding: a column may take a tile in one and the scalar loop in the other)."""
    C.set_variant(variant)
    n, c_in, c_out, length, k, s, d, g, pl, pr = shape
    x, w, b = make(np.random.default_rng(4), n, c_in, c_out, length, k, g, dtype)
    xp = np.pad(x, ((0, 0), (0, 0), (pl, pr)))
    y = C.forward(x, w, b, s, d, g, pad=(pl, pr))
    yp = C.forward(xp, w, b, s, d, g)
    assert y.shape == yp.shape and y.tobytes() == yp.tobytes()
    np.testing.assert_allclose(y, ref_forward(xp, w, b, s, d, g), **tol(dtype, w.shape[1] * k))
    gy = np.random.default_rng(5).standard_normal(y.shape).astype(dtype)
    gx = C.grad_input(gy, w, x.shape, s, d, g, pad=(pl, pr))
    gxp = C.grad_input(gy, w, xp.shape, s, d, g)
    assert gx.shape == x.shape
    # columns near the ends may take the scalar loop in one call and a tile in the other
    np.testing.assert_allclose(gx, gxp[:, :, pl:pl + length], **tol(dtype, c_out // g * k))
    gw, gb = C.grad_weight(x, gy, w.shape, s, d, g, with_bias=True, pad=(pl, pr))
    gwp = C.grad_weight(xp, gy, w.shape, s, d, g)
    _, gwr, _ = ref_grads(xp, w, gy, s, d, g)
    np.testing.assert_allclose(gw, gwr, **tol(dtype, gy.shape[0] * gy.shape[2]))
    np.testing.assert_allclose(gw, gwp, **tol(dtype, gy.shape[0] * gy.shape[2]))
    assert gb.tobytes() == C.grad_bias(gy).tobytes()
    old = get_num_threads()
    try:
        set_num_threads(1)
        assert C.forward(x, w, b, s, d, g, pad=(pl, pr)).tobytes() == y.tobytes()
        assert C.grad_input(gy, w, x.shape, s, d, g, pad=(pl, pr)).tobytes() == gx.tobytes()
        assert C.grad_weight(x, gy, w.shape, s, d, g, pad=(pl, pr)).tobytes() == gw.tobytes()
    finally:
        set_num_threads(old)


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_inputs(dtype):
    rng = np.random.default_rng(3)
    big = rng.standard_normal((3, 10, 2 * 90)).astype(dtype)
    x = big[:, ::2, ::2]                                    # (3, 5, 90), strided
    w = rng.standard_normal((4, 5, 3)).astype(dtype).transpose(0, 1, 2)[:, :, ::-1]
    b = rng.standard_normal(8).astype(dtype)[::2]
    assert not x.flags.c_contiguous and not w.flags.c_contiguous and not b.flags.c_contiguous
    y = C.forward(x, w, b, 1, 2, 1)
    np.testing.assert_allclose(y, ref_forward(x, w, b, 1, 2, 1), **tol(dtype, 15))
    gy = rng.standard_normal((3, 8, 2 * y.shape[2])).astype(dtype)[:, ::2, ::2]
    gxr, gwr, gbr = ref_grads(x, w, gy, 1, 2, 1)
    np.testing.assert_allclose(C.grad_input(gy, w, x.shape, 1, 2, 1), gxr, **tol(dtype, 12))
    np.testing.assert_allclose(C.grad_weight(x, gy, w.shape, 1, 2, 1), gwr, **tol(dtype, 300))
    np.testing.assert_allclose(C.grad_bias(gy), gbr, **tol(dtype, 300))


def test_dtype_errors():
    x = np.zeros((1, 2, 10), np.float32)
    with pytest.raises(TypeError, match="dtype"):
        C.forward(x, np.zeros((2, 2, 3), np.float64), None, 1, 1, 1)
    with pytest.raises(TypeError, match="float32 or float64"):
        C.forward(x.astype(np.int64), np.zeros((2, 2, 3), np.int64), None, 1, 1, 1)


def test_forward_docstring_example():
    x = np.arange(10, dtype=np.float32).reshape(1, 1, 10)
    y = C.forward(x, np.ones((2, 1, 3), np.float32), None, 1, 1, 1)
    np.testing.assert_array_equal(y[0, 0], [3, 6, 9, 12, 15, 18, 21, 24])
    np.testing.assert_array_equal(y[0, 1], y[0, 0])


# ------------------------------------------------------------------ variant selection

def test_variant_choice_from_features():
    assert C._best_variant({"AVX512F", "AVX512BW", "AVX512VL", "AVX512DQ", "AVX2", "FMA3"}) == "avx512"
    assert C._best_variant({"AVX512F", "AVX2", "FMA3"}) == "avx2"      # AVX512BW missing
    assert C._best_variant({"AVX2"}) == "base"                         # no FMA
    assert C._best_variant(set()) == "base"
    assert C.VARIANT in C.VARIANTS
    with pytest.raises(ValueError, match="NNLITE_KERNEL_VARIANT"):
        C.set_variant("sse9")


def test_variant_env_override():
    import subprocess
    import sys
    code = "from nnlite._kernels import conv1d_cpu as C; print(C.VARIANT)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "NNLITE_KERNEL_VARIANT": "base"})
    assert out.stdout.strip() == "base", out.stderr


# ------------------------------------------------------------------ determinism, threads

# large enough that the kernels really use 2 threads (they drop to 1 for tiny work)
DET_SHAPES = [
    (3, 16, 24, 333, 3, 1, 1, 1),       # tile path, superblocks, shifted last tile
    (4, 32, 32, 1000, 5, 1, 2, 32),     # depthwise
    (4, 1, 16, 1001, 7, 1, 1, 1),       # C_in == 1
    (4, 8, 16, 1001, 5, 2, 1, 2),       # strided, grouped
    (3, 64, 64, 301, 5, 1, 1, 1),       # packed grad weight, several chunks and tasks
    (2, 104, 160, 503, 5, 2, 1, 2),     # packed, strided, grouped, zero columns
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_same_for_1_and_2_threads(dtype, variant, restore_variant):
    C.set_variant(variant)
    old = get_num_threads()
    rng = np.random.default_rng(11)
    try:
        for n, c_in, c_out, lp, k, s, d, g in DET_SHAPES:
            x, w, b = make(rng, n, c_in, c_out, lp, k, g, dtype)
            gy = rng.standard_normal((n, c_out, C.output_length(lp, k, s, d))).astype(dtype)
            results = []
            for threads in (1, 2, 1, 3):
                set_num_threads(threads)
                results.append((C.forward(x, w, b, s, d, g),
                                C.grad_input(gy, w, x.shape, s, d, g),
                                C.grad_weight(x, gy, w.shape, s, d, g),
                                C.grad_bias(gy)))
            for other in results[1:]:
                for a, bb in zip(results[0], other):
                    assert a.tobytes() == bb.tobytes()
    finally:
        set_num_threads(old)


def test_two_python_threads_concurrently():
    rng = np.random.default_rng(5)
    jobs = []
    for n, c_in, c_out, lp, k, s, d, g in DET_SHAPES:
        x, w, b = make(rng, n, c_in, c_out, lp, k, g, np.float32)
        gy = rng.standard_normal((n, c_out, C.output_length(lp, k, s, d))).astype(np.float32)
        expect = (C.forward(x, w, b, s, d, g), C.grad_input(gy, w, x.shape, s, d, g),
                  C.grad_weight(x, gy, w.shape, s, d, g))
        np.testing.assert_allclose(expect[0], ref_forward(x, w, b, s, d, g),
                                   **tol(np.float32, w.shape[1] * k))
        jobs.append((x, w, b, gy, s, d, g, expect))
    errors = []

    def worker(order):
        try:
            for _ in range(15):
                for i in order:
                    x, w, b, gy, s, d, g, expect = jobs[i]
                    got = (C.forward(x, w, b, s, d, g), C.grad_input(gy, w, x.shape, s, d, g),
                           C.grad_weight(x, gy, w.shape, s, d, g))
                    for a, e in zip(got, expect):
                        if a.tobytes() != e.tobytes():
                            errors.append(i)
        except Exception as exc:        # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(order,))
               for order in (range(len(jobs)), reversed(range(len(jobs))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_forward_entry_checks_shapes_before_touching_memory():
    """The forward kernel's entry checks every array against the others (a direct call with
    inconsistent shapes raises, it never reads or writes outside the arrays)."""
    k = C._k.forward
    x = np.zeros((2, 4, 10), np.float32)
    w = np.zeros((6, 2, 3), np.float32)
    y = np.zeros((2, 6, 8), np.float32)
    k(x, w, None, y, 1, 1, 2, 1)                                     # consistent: fine
    bad = [
        ((x, w, None, np.zeros((2, 6, 9), np.float32), 1, 1, 2, 1), "longer"),     # L_out too long
        ((x, w, None, np.zeros((3, 6, 8), np.float32), 1, 1, 2, 1), "shape"),      # wrong N
        ((x, w, None, y, 1, 1, 1, 1), "groups"),                                    # C_in != C_ig * groups
        ((x, w, np.zeros(5, np.float32), y, 1, 1, 2, 1), "bias"),
        ((x, w, None, y[:, :, ::2], 1, 1, 2, 1), "contiguous"),
        ((x, w, None, np.zeros((2, 6, 8)), 1, 1, 2, 1), "dtype"),
        ((x[0], w, None, y, 1, 1, 2, 1), "dimensions"),
        ((x, w, None, y, 0, 1, 2, 1), "positive"),
        ((x, w, None, y, 1, 1, 2, 1, -1, 0), "negative"),
        ((x.tolist(), w, None, y, 1, 1, 2, 1), "numpy array"),
    ]
    ro = np.zeros((2, 6, 8), np.float32)
    ro.flags.writeable = False
    bad.append(((x, w, None, ro, 1, 1, 2, 1), "writeable"))
    for args, msg in bad:
        with pytest.raises((ValueError, TypeError), match=msg):
            k(*args)
