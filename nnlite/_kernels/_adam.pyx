# cython: language_level=3
"""One Adam / AdamW update of a parameter in a single pass (``nnlite.optim.Adam``'s CPU path).

Element by element, in the parameter's dtype, the same operations as the optimizer's
array-module path (PyTorch's single-tensor algorithm)::

    p *= 1 - lr * weight_decay                          (decoupled weight decay)
    d = g (or -g when maximize) [+ weight_decay * p]    (L2 weight decay)
    m += (d - m) * (1 - beta1)
    v = v * beta2 + d * (1 - beta2) * d
    vmax = max(vmax, v)                                 (amsgrad: vmax replaces v below)
    p += -step_size * (m / (sqrt(v) / bc2_sqrt + eps))

Elementwise, so the result does not depend on the thread count; the compiler may fuse
a multiply and an add (one rounding instead of two, as PyTorch's kernels do).
"""
from cython.parallel cimport prange, parallel
from libc.math cimport sqrt
cimport cython
from cython cimport floating  # Cython's own fused type: float or double


DEF BLOCK = 4096   # elements per task


cdef void _update(floating* p, const floating* g, floating* m, floating* v, floating* vm,
                  Py_ssize_t n, floating decay, floating sgn, bint l2, floating wd, floating c1,
                  floating b2, floating c2, floating bc, floating ep, floating ss) noexcept nogil:
    """The update of n <= BLOCK elements, in passes over the block (each a branch-free loop
    gcc vectorises; the block stays in L1)."""
    cdef floating d[BLOCK]
    cdef const floating* vv = vm if vm != NULL else v
    cdef Py_ssize_t i
    cdef floating w, x
    for i in range(n):
        p[i] = p[i] * decay
        d[i] = g[i] * sgn
    if l2:
        for i in range(n):
            d[i] = d[i] + p[i] * wd
    for i in range(n):
        m[i] = m[i] + (d[i] - m[i]) * c1
        v[i] = v[i] * b2 + d[i] * c2 * d[i]
    if vm != NULL:  # vmax = max(vmax, v), NaN propagating as numpy.maximum
        for i in range(n):
            w = vm[i]
            x = v[i]
            vm[i] = x if ((x != x) | (x > w)) else w   # `|`: no short circuit, no branch
    for i in range(n):
        p[i] = p[i] + ss * (m[i] / (<floating>sqrt(vv[i]) / bc + ep))


@cython.boundscheck(False)
@cython.wraparound(False)
def adam_step(floating[::1] p,         # IN/OUT parameter
              const floating[::1] g,   # IN     gradient
              floating[::1] m,         # IN/OUT first moment
              floating[::1] v,         # IN/OUT second moment
              floating[::1] vmax,      # IN/OUT amsgrad's running maximum, or None
              double lr, double beta1, double beta2, double eps, double weight_decay,
              bint decoupled, bint maximize, double step_size, double bc2_sqrt,
              int num_threads):
    """One Adam step on 1-D arrays of one dtype, in place (the module docstring's formulas);
    ``step_size = lr / (1 - beta1**t)``, ``bc2_sqrt = sqrt(1 - beta2**t)``."""
    cdef Py_ssize_t n = p.shape[0], b, nb = (n + BLOCK - 1) // BLOCK
    cdef bint ams = vmax is not None
    if g.shape[0] != n or m.shape[0] != n or v.shape[0] != n or (ams and vmax.shape[0] != n):
        raise ValueError("adam_step: the arrays must have the parameter's size")
    if n == 0:
        return
    cdef floating* pp = &p[0]
    cdef const floating* gp = &g[0]
    cdef floating* mp = &m[0]
    cdef floating* vp = &v[0]
    cdef floating* vm = &vmax[0] if ams else NULL
    # decay and sgn are exact no-ops when off (x * 1, g * 1): no per-element branch for them
    cdef floating decay = <floating>(1 - lr * weight_decay) if decoupled else 1
    cdef floating sgn = -1 if maximize else 1
    cdef bint l2 = weight_decay != 0 and not decoupled
    cdef floating wd = <floating>weight_decay, c1 = <floating>(1 - beta1), b2 = <floating>beta2
    cdef floating c2 = <floating>(1 - beta2), bc = <floating>bc2_sqrt, ep = <floating>eps
    cdef floating ss = <floating>(-step_size)
    num_threads = max(1, min(num_threads, (n + 16383) // 16384))
    with nogil, parallel(num_threads=num_threads):
        for b in prange(nb, schedule="static"):
            _update(pp + b * BLOCK, gp + b * BLOCK, mp + b * BLOCK, vp + b * BLOCK,
                    vm + b * BLOCK if vm != NULL else NULL, min(BLOCK, n - b * BLOCK), decay,
                    sgn, l2, wd, c1, b2, c2, bc, ep, ss)
