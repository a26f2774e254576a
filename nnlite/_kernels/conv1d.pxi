# Conv1d CPU kernels: forward, grad input, grad weight (array level, no autograd).
#
# Included by _conv1d_base.pyx, _conv1d_avx2.pyx and _conv1d_avx512.pyx, which are
# compiled with different -march flags; the register-tile sizes below follow the
# instruction set the compiler targets (__AVX512F__ / __AVX2__ / baseline SSE2).
#
# All three ops are one pattern, a correlation over a table of row offsets:
#
#     dst[m, j] = init[m] + sum_r wpack[r, m] * src[off[r] + j]      (r in fixed order)
#
# forward:     rows m = output channels, r = (c_in, k),  src = x (stride 1) or its
#              stride-phase copy xs[n, c, p, q] = x[n, c, q*stride + p]
# grad input:  rows m = input channels,  r = (c_out, k), src = gy zero-padded, one
#              pass per stride phase p = i % stride over the taps with k*d % stride == p
# grad weight: a GEMM gw[co, (ci, k)] = sum_{n, l} gy[n, co, l] * src[n, off(ci, k) + l],
#              lanes of a vector accumulate over l, then a fixed-order horizontal sum.
#
# The inner loops use small fixed-size local arrays (MR rows x NR columns) that gcc keeps
# in vector registers (check: `objdump -d _conv1d_avx512*.so | grep vfmadd`): each input
# load is reused for MR output channels.  A run of columns shorter than NR at the end of
# a row is handled by moving the last tile back so it ends at the row's end (its overlap is
# recomputed with identical values); rows shorter than NR use a scalar loop.
#
# Determinism: every output element is produced by exactly one task (prange over
# (n, group, row block) or (group, row block, column block)), with the reduction order
# fixed by the shapes alone, never by the thread count or the schedule.  No atomics and
# no per-thread partial sums.
#
# Padding: x arrives already padded (the caller pads); the kernels do not pad.
from cython.parallel cimport prange, parallel
from libc.stdlib cimport malloc, free
cimport cython

ctypedef fused floating:
    float
    double

cdef extern from *:
    """
    #if defined(__AVX512F__)
    #define NNL_VB 64   /* vector bytes */
    #define NNL_MR 8    /* forward/grad-input tile rows (channels) */
    #define NNL_GM 4    /* grad-weight tile rows (output channels) */
    #define NNL_GC 4    /* grad-weight tile columns ((c_in, k) pairs) */
    #define NNL_ISA "avx512"
    #elif defined(__AVX2__)
    #define NNL_VB 32
    #define NNL_MR 6
    #define NNL_GM 3
    #define NNL_GC 3
    #define NNL_ISA "avx2"
    #else
    #define NNL_VB 16
    #define NNL_MR 6
    #define NNL_GM 3
    #define NNL_GC 3
    #define NNL_ISA "base"
    #endif
    #define NNL_NV 2    /* vectors per tile row */
    #define NNL_RV 4    /* vectors in the single-row kernel */
    #define NNL_GC1 8   /* grad-weight columns of the single-row tile */
    #define NNL_ACC_FWD (NNL_MR * NNL_NV * NNL_VB / 4)
    #define NNL_ACC_ROW (NNL_RV * NNL_VB / 4)
    #define NNL_ACC_GW (NNL_GM * NNL_GC * NNL_VB / 4)
    #define NNL_ACC_GW1 (NNL_GC1 * NNL_VB / 4)
    #define NNL_ACC_GWMAX (NNL_ACC_GW > NNL_ACC_GW1 ? NNL_ACC_GW : NNL_ACC_GW1)
    """
    enum:
        NNL_VB
        NNL_MR
        NNL_GM
        NNL_GC
        NNL_NV
        NNL_RV
        NNL_GC1
        NNL_ACC_FWD
        NNL_ACC_ROW
        NNL_ACC_GW
        NNL_ACC_GW1
        NNL_ACC_GWMAX
    const char* NNL_ISA

ISA = NNL_ISA.decode()
TILE_ROWS = NNL_MR

# Output channels (forward) or input channels (grad input) per group up to this count use
# the single-row kernel: an MR-row tile would mostly compute padding rows.
DEF ROW_MAX = 2


# ---------------------------------------------------------------- correlation tiles

cdef inline void _tile(floating* dst, Py_ssize_t dstride, Py_ssize_t mvalid,
                       const floating* src, const Py_ssize_t* off,
                       const floating* wp, Py_ssize_t R, const floating* init) noexcept nogil:
    # MR rows x NR columns held in registers; wp is (R, MR), padding rows have w = 0.
    cdef floating acc[NNL_ACC_FWD]
    cdef Py_ssize_t nr = NNL_NV * NNL_VB // sizeof(floating)
    cdef Py_ssize_t r, m, j
    cdef const floating* xp
    cdef const floating* wr
    cdef floating wm
    for m in range(NNL_MR):
        for j in range(nr):
            acc[m * nr + j] = init[m]
    for r in range(R):
        xp = src + off[r]
        wr = wp + r * NNL_MR
        for m in range(NNL_MR):
            wm = wr[m]
            for j in range(nr):
                acc[m * nr + j] += wm * xp[j]
    for m in range(NNL_MR):
        if m < mvalid:
            for j in range(nr):
                dst[m * dstride + j] = acc[m * nr + j]


cdef inline void _row(floating* dst, const floating* src, const Py_ssize_t* off,
                      const floating* wr, Py_ssize_t R, floating init) noexcept nogil:
    # One row x RV vectors in registers (depthwise, C_in == 1 grad input, ...).
    cdef floating acc[NNL_ACC_ROW]
    cdef Py_ssize_t nr = NNL_RV * NNL_VB // sizeof(floating)
    cdef Py_ssize_t r, j
    cdef const floating* xp
    cdef floating wm
    for j in range(nr):
        acc[j] = init
    for r in range(R):
        xp = src + off[r]
        wm = wr[r]
        for j in range(nr):
            acc[j] += wm * xp[j]
    for j in range(nr):
        dst[j] = acc[j]


cdef void _block(floating* dst, Py_ssize_t dstride, Py_ssize_t mvalid,
                 const floating* src, const Py_ssize_t* off, const floating* wp,
                 Py_ssize_t R, const floating* init, Py_ssize_t ncols) noexcept nogil:
    """Rows [0, mvalid) of dst, columns [0, ncols): the tile sweep along a row."""
    cdef Py_ssize_t nr = NNL_NV * NNL_VB // sizeof(floating)
    cdef Py_ssize_t j0 = 0, j, m, r
    cdef floating a
    if ncols < nr:
        for m in range(mvalid):
            for j in range(ncols):
                a = init[m]
                for r in range(R):
                    a = a + wp[r * NNL_MR + m] * src[off[r] + j]
                dst[m * dstride + j] = a
        return
    while j0 < ncols:
        if j0 + nr > ncols:
            j0 = ncols - nr
        _tile(dst + j0, dstride, mvalid, src + j0, off, wp, R, init)
        j0 += nr


cdef void _block_row(floating* dst, const floating* src, const Py_ssize_t* off,
                     const floating* wr, Py_ssize_t R, floating init,
                     Py_ssize_t ncols) noexcept nogil:
    cdef Py_ssize_t nr = NNL_RV * NNL_VB // sizeof(floating)
    cdef Py_ssize_t j0 = 0, j, r
    cdef floating a
    if ncols < nr:
        for j in range(ncols):
            a = init
            for r in range(R):
                a = a + wr[r] * src[off[r] + j]
            dst[j] = a
        return
    while j0 < ncols:
        if j0 + nr > ncols:
            j0 = ncols - nr
        _row(dst + j0, src + j0, off, wr, R, init)
        j0 += nr


# ---------------------------------------------------------------- helpers

cdef void _deinterleave(const floating* x, floating* xs, Py_ssize_t rows, Py_ssize_t length,
                        Py_ssize_t s, Py_ssize_t lq, int nt) noexcept nogil:
    """xs[row, p, q] = x[row, q*s + p] (0 past the end): strided taps become contiguous."""
    cdef Py_ssize_t row, p, q, i
    cdef const floating* xr
    cdef floating* xo
    with parallel(num_threads=nt):
        for row in prange(rows, schedule="static"):
            xr = x + row * length
            xo = xs + row * s * lq
            for p in range(s):
                for q in range(lq):
                    i = q * s + p
                    if i < length:
                        xo[p * lq + q] = xr[i]
                    else:
                        xo[p * lq + q] = 0


cdef inline int _nt(int num_threads, Py_ssize_t tasks) noexcept nogil:
    if tasks < 1:
        return 1
    if num_threads > tasks:
        return <int>tasks
    return max(1, num_threads)


cdef void* _alloc(Py_ssize_t n, size_t itemsize) except NULL:
    cdef void* p = malloc(max(n, 1) * itemsize)
    if p == NULL:
        raise MemoryError(f"conv1d: cannot allocate {n * itemsize} bytes of scratch")
    return p


# ---------------------------------------------------------------- forward

@cython.boundscheck(False)
@cython.wraparound(False)
def forward(const floating[:, :, ::1] x,       # IN  (N, C_in, Lp), already padded
            const floating[:, :, ::1] w,       # IN  (C_out, C_in/groups, K)
            const floating[::1] bias,          # IN  (C_out,) or None
            floating[:, :, ::1] out,           # OUT (N, C_out, L_out)
            int stride, int dilation, int groups, int num_threads):
    """out[n, o, l] = bias[o] + sum_{c, k} w[o, c, k] * x[n, g*C_in/groups + c, l*stride + k*dilation]."""
    cdef Py_ssize_t N = x.shape[0], Cin = x.shape[1], Lp = x.shape[2]
    cdef Py_ssize_t Cout = w.shape[0], Cig = w.shape[1], K = w.shape[2]
    cdef Py_ssize_t Lout = out.shape[2], s = stride, d = dilation, G = groups
    cdef Py_ssize_t Cog = Cout // G, R = Cig * K
    cdef Py_ssize_t Lq = (Lp + s - 1) // s, rowlen = Lp
    cdef bint has_bias = bias is not None
    cdef Py_ssize_t ncb, tasks, t, n, g, cb, gb, co, ci, k, r, m, mvalid
    cdef bint valid
    cdef Py_ssize_t* off = NULL
    cdef floating* xs = NULL
    cdef floating* wpack = NULL
    cdef floating* init = NULL
    cdef const floating* src_base
    cdef floating b0
    cdef int nt
    if N == 0 or Cout == 0 or Lout <= 0:
        return
    off = <Py_ssize_t*>_alloc(R, sizeof(Py_ssize_t))
    try:
        src_base = &x[0, 0, 0]
        if s > 1:
            xs = <floating*>_alloc(N * Cin * s * Lq, sizeof(floating))
            rowlen = s * Lq
            with nogil:
                _deinterleave(&x[0, 0, 0], xs, N * Cin, Lp, s, Lq, _nt(num_threads, N * Cin))
            src_base = xs
        for ci in range(Cig):
            for k in range(K):
                off[ci * K + k] = ci * rowlen + ((k * d) % s) * Lq + (k * d) // s
        if Cog <= ROW_MAX:
            tasks = N * Cout
            nt = _nt(num_threads, tasks)
            with nogil, parallel(num_threads=nt):
                for t in prange(tasks, schedule="static"):
                    n = t // Cout
                    co = t % Cout
                    g = co // Cog
                    b0 = 0
                    if has_bias:
                        b0 = bias[co]
                    _block_row(&out[n, co, 0], src_base + (n * Cin + g * Cig) * rowlen,
                               off, &w[co, 0, 0], R, b0, Lout)
        else:
            ncb = (Cog + NNL_MR - 1) // NNL_MR
            wpack = <floating*>_alloc(G * ncb * R * NNL_MR, sizeof(floating))
            init = <floating*>_alloc(G * ncb * NNL_MR, sizeof(floating))
            for gb in range(G * ncb):
                g = gb // ncb
                cb = gb % ncb
                for m in range(NNL_MR):
                    co = g * Cog + cb * NNL_MR + m
                    valid = cb * NNL_MR + m < Cog
                    init[gb * NNL_MR + m] = bias[co] if (valid and has_bias) else 0
                    for r in range(R):
                        wpack[(gb * R + r) * NNL_MR + m] = w[co, r // K, r % K] if valid else 0
            tasks = N * G * ncb
            nt = _nt(num_threads, tasks)
            with nogil, parallel(num_threads=nt):
                for t in prange(tasks, schedule="static"):
                    n = t // (G * ncb)
                    gb = t % (G * ncb)
                    g = gb // ncb
                    cb = gb % ncb
                    mvalid = min(NNL_MR, Cog - cb * NNL_MR)
                    _block(&out[n, g * Cog + cb * NNL_MR, 0], Lout, mvalid,
                           src_base + (n * Cin + g * Cig) * rowlen, off,
                           wpack + gb * R * NNL_MR, R, init + gb * NNL_MR, Lout)
    finally:
        free(off)
        free(xs)
        free(wpack)
        free(init)


# ---------------------------------------------------------------- grad input

@cython.boundscheck(False)
@cython.wraparound(False)
def grad_input(const floating[:, :, ::1] gy,    # IN  (N, C_out, L_out)
               const floating[:, :, ::1] w,     # IN  (C_out, C_in/groups, K)
               floating[:, :, ::1] gx,          # OUT (N, C_in, Lp), overwritten
               int stride, int dilation, int groups, int num_threads):
    """gx[n, c, i] = sum over (o, k) with i = l*stride + k*dilation of w[o, c, k] * gy[n, o, l]."""
    cdef Py_ssize_t N = gy.shape[0], Cout = gy.shape[1], Lout = gy.shape[2]
    cdef Py_ssize_t Cin = gx.shape[1], Lp = gx.shape[2]
    cdef Py_ssize_t Cig = w.shape[1], K = w.shape[2], s = stride, d = dilation, G = groups
    cdef Py_ssize_t Cog = Cout // G
    cdef Py_ssize_t Lq = (Lp + s - 1) // s, E = ((K - 1) * d) // s
    cdef Py_ssize_t Lg = E + max(Lq, Lout)
    cdef Py_ssize_t p, k, co, ci, g, cb, gb, m, r, t, n, q, i, ncb, tasks, idx, row
    cdef Py_ssize_t wtot, mvalid, Rp, po, pw
    cdef Py_ssize_t* off = NULL
    cdef Py_ssize_t* taps = NULL      # taps ordered by phase
    cdef Py_ssize_t* nk = NULL        # taps per phase
    cdef Py_ssize_t* kstart = NULL    # first tap of each phase in `taps`
    cdef floating* gyp = NULL
    cdef floating* gxs = NULL
    cdef floating* wpack = NULL
    cdef floating zeros[NNL_MR]
    cdef floating* dst
    cdef const floating* gsrc
    cdef int nt, use_row = Cig <= ROW_MAX
    if N == 0 or Cin == 0 or Lp == 0:
        return
    for m in range(NNL_MR):
        zeros[m] = 0
    try:
        nk = <Py_ssize_t*>_alloc(s, sizeof(Py_ssize_t))
        kstart = <Py_ssize_t*>_alloc(s, sizeof(Py_ssize_t))
        taps = <Py_ssize_t*>_alloc(K, sizeof(Py_ssize_t))
        off = <Py_ssize_t*>_alloc(Cog * K, sizeof(Py_ssize_t))
        idx = 0
        for p in range(s):
            kstart[p] = idx
            for k in range(K):
                if (k * d) % s == p:
                    taps[idx] = k
                    idx += 1
            nk[p] = idx - kstart[p]
        # Offsets of phase p live at off[Cog * kstart[p] : Cog * (kstart[p] + nk[p])],
        # ordered (c_out, tap).
        for p in range(s):
            for co in range(Cog):
                for i in range(nk[p]):
                    k = taps[kstart[p] + i]
                    off[Cog * kstart[p] + co * nk[p] + i] = co * Lg + E - (k * d) // s
        # gy with E zeros before and zeros after, so every tap reads inside the row.
        gyp = <floating*>_alloc(N * Cout * Lg, sizeof(floating))
        gsrc = &gy[0, 0, 0]
        nt = _nt(num_threads, N * Cout)
        with nogil, parallel(num_threads=nt):
            for row in prange(N * Cout, schedule="static"):
                for q in range(E):
                    gyp[row * Lg + q] = 0
                for q in range(Lout):
                    gyp[row * Lg + E + q] = gsrc[row * Lout + q]
                for q in range(E + Lout, Lg):
                    gyp[row * Lg + q] = 0
        if s > 1:
            gxs = <floating*>_alloc(N * Cin * s * Lq, sizeof(floating))
        if use_row:
            # wpack[(p, c_in), (c_out, tap)]
            wpack = <floating*>_alloc(Cin * Cog * K, sizeof(floating))
            for p in range(s):
                for ci in range(Cin):
                    g = ci // Cig
                    for co in range(Cog):
                        for i in range(nk[p]):
                            wpack[Cin * Cog * kstart[p] + (ci * Cog + co) * nk[p] + i] = \
                                w[g * Cog + co, ci % Cig, taps[kstart[p] + i]]
            tasks = N * s * Cin
            nt = _nt(num_threads, tasks)
            with nogil, parallel(num_threads=nt):
                for t in prange(tasks, schedule="static"):
                    n = t // (s * Cin)
                    p = (t // Cin) % s
                    ci = t % Cin
                    g = ci // Cig
                    Rp = Cog * nk[p]
                    if s == 1:
                        dst = &gx[n, ci, 0]
                    else:
                        dst = gxs + ((n * Cin + ci) * s + p) * Lq
                    _block_row(dst, gyp + (n * Cout + g * Cog) * Lg, off + Cog * kstart[p],
                               wpack + Cin * Cog * kstart[p] + ci * Rp, Rp, 0, Lq)
        else:
            ncb = (Cig + NNL_MR - 1) // NNL_MR
            # wpack[p][(g, cb)][(c_out, tap), m]
            wpack = <floating*>_alloc(G * ncb * Cog * K * NNL_MR, sizeof(floating))
            for p in range(s):
                for gb in range(G * ncb):
                    g = gb // ncb
                    cb = gb % ncb
                    Rp = Cog * nk[p]
                    for co in range(Cog):
                        for i in range(nk[p]):
                            for m in range(NNL_MR):
                                ci = cb * NNL_MR + m
                                wpack[(G * ncb * Cog * kstart[p] + gb * Rp + co * nk[p] + i) * NNL_MR + m] = \
                                    w[g * Cog + co, ci, taps[kstart[p] + i]] if ci < Cig else 0
            tasks = N * s * G * ncb
            nt = _nt(num_threads, tasks)
            with nogil, parallel(num_threads=nt):
                for t in prange(tasks, schedule="static"):
                    n = t // (s * G * ncb)
                    p = (t // (G * ncb)) % s
                    gb = t % (G * ncb)
                    g = gb // ncb
                    cb = gb % ncb
                    ci = g * Cig + cb * NNL_MR
                    mvalid = min(NNL_MR, Cig - cb * NNL_MR)
                    Rp = Cog * nk[p]
                    if s == 1:
                        dst = &gx[n, ci, 0]
                        po = Lp
                    else:
                        dst = gxs + ((n * Cin + ci) * s + p) * Lq
                        po = s * Lq
                    _block(dst, po, mvalid, gyp + (n * Cout + g * Cog) * Lg,
                           off + Cog * kstart[p],
                           wpack + (G * ncb * Cog * kstart[p] + gb * Rp) * NNL_MR, Rp,
                           zeros, Lq)
        if s > 1:
            nt = _nt(num_threads, N * Cin)
            with nogil, parallel(num_threads=nt):
                for row in prange(N * Cin, schedule="static"):
                    dst = &gx[0, 0, 0] + row * Lp
                    for p in range(s):
                        for q in range((Lp - p + s - 1) // s):
                            dst[q * s + p] = gxs[(row * s + p) * Lq + q]
    finally:
        free(off)
        free(taps)
        free(nk)
        free(kstart)
        free(gyp)
        free(gxs)
        free(wpack)


# ---------------------------------------------------------------- grad weight

cdef inline void _gw_tile(floating* lanes, const floating* gbase, const Py_ssize_t* roff,
                          const floating* xbase, const Py_ssize_t* xoff,
                          Py_ssize_t nv) noexcept nogil:
    # GM rows of gy x GC shifted rows of x, accumulated lane-wise over nv vectors.
    cdef floating acc[NNL_ACC_GW]
    cdef Py_ssize_t vl = NNL_VB // sizeof(floating)
    cdef Py_ssize_t v, m, c, j
    cdef const floating* gp
    cdef const floating* xp
    for j in range(NNL_GM * NNL_GC * vl):
        acc[j] = lanes[j]
    for v in range(nv):
        for m in range(NNL_GM):
            gp = gbase + roff[m] + v * vl
            for c in range(NNL_GC):
                xp = xbase + xoff[c] + v * vl
                for j in range(vl):
                    acc[(m * NNL_GC + c) * vl + j] += gp[j] * xp[j]
    for j in range(NNL_GM * NNL_GC * vl):
        lanes[j] = acc[j]


cdef inline void _gw_tile1(floating* lanes, const floating* gp0, const floating* xbase,
                           const Py_ssize_t* xoff, Py_ssize_t nv) noexcept nogil:
    # One row of gy x GC1 shifted rows of x (depthwise).
    cdef floating acc[NNL_ACC_GW1]
    cdef Py_ssize_t vl = NNL_VB // sizeof(floating)
    cdef Py_ssize_t v, c, j
    cdef const floating* gp
    cdef const floating* xp
    for j in range(NNL_GC1 * vl):
        acc[j] = lanes[j]
    for v in range(nv):
        gp = gp0 + v * vl
        for c in range(NNL_GC1):
            xp = xbase + xoff[c] + v * vl
            for j in range(vl):
                acc[c * vl + j] += gp[j] * xp[j]
    for j in range(NNL_GC1 * vl):
        lanes[j] = acc[j]


DEF GW_CHUNK = 1024      # columns of l per pass, keeps gy and x rows in L1/L2
DEF GW_SUPER = 16        # grad-weight tiles per task along (c_in, k)



cdef void _gw_task(Py_ssize_t g, Py_ssize_t cb, Py_ssize_t sb,
                   const floating[:, :, ::1] gy, floating[:, :, ::1] gw,
                   const floating* src_base, const Py_ssize_t* off,
                   Py_ssize_t N, Py_ssize_t Cin, Py_ssize_t Cig, Py_ssize_t Cog, Py_ssize_t K,
                   Py_ssize_t R, Py_ssize_t rowlen, Py_ssize_t gm, Py_ssize_t gc,
                   Py_ssize_t nct) noexcept nogil:
    """One task of grad_weight: output channels [cb*gm, cb*gm + gm) of group g, column
    tiles [sb*GW_SUPER, ...) of (c_in, k); sums over n, then l, in a fixed order."""
    cdef Py_ssize_t Lout = gy.shape[2]
    cdef Py_ssize_t vl = NNL_VB // sizeof(floating)
    cdef Py_ssize_t nvec = Lout // vl, ltail = nvec * vl
    cdef Py_ssize_t tile_lanes = gm * gc * vl
    cdef Py_ssize_t tb = sb * GW_SUPER, te = min(tb + GW_SUPER, nct)
    cdef Py_ssize_t mvalid = min(gm, Cog - cb * gm)
    cdef Py_ssize_t n, l0, nv, tt, m, c, col, j, l
    cdef Py_ssize_t roff[NNL_GM]
    cdef Py_ssize_t xoff[NNL_GC1]
    cdef floating lanes[GW_SUPER * NNL_ACC_GWMAX]
    cdef floating tail[GW_SUPER * NNL_GC1 * NNL_GM]
    cdef const floating* gb
    cdef const floating* xb
    cdef floating a
    for j in range((te - tb) * tile_lanes):
        lanes[j] = 0
    for j in range((te - tb) * gm * gc):
        tail[j] = 0
    # rows past the block's end repeat its last row; their sums are dropped
    for m in range(gm):
        roff[m] = min(m, mvalid - 1) * Lout
    for n in range(N):
        gb = &gy[n, g * Cog + cb * gm, 0]
        xb = src_base + (n * Cin + g * Cig) * rowlen
        l0 = 0
        while l0 < nvec:
            nv = min(GW_CHUNK // vl, nvec - l0)
            for tt in range(tb, te):
                for c in range(gc):
                    xoff[c] = off[min(tt * gc + c, R - 1)] + l0 * vl
                if gm == 1:
                    _gw_tile1(lanes + (tt - tb) * tile_lanes, gb + l0 * vl, xb, xoff, nv)
                else:
                    _gw_tile(lanes + (tt - tb) * tile_lanes, gb + l0 * vl, roff, xb, xoff, nv)
            l0 += nv
        for tt in range(tb, te):
            for m in range(mvalid):
                for c in range(gc):
                    col = min(tt * gc + c, R - 1)
                    a = tail[((tt - tb) * gm + m) * gc + c]
                    for l in range(ltail, Lout):
                        a = a + gb[roff[m] + l] * xb[off[col] + l]
                    tail[((tt - tb) * gm + m) * gc + c] = a
    for tt in range(tb, te):
        for m in range(mvalid):
            for c in range(gc):
                col = tt * gc + c
                if col < R:
                    a = 0
                    for j in range(vl):
                        a = a + lanes[(tt - tb) * tile_lanes + (m * gc + c) * vl + j]
                    a = a + tail[((tt - tb) * gm + m) * gc + c]
                    gw[g * Cog + cb * gm + m, col // K, col % K] = a


@cython.boundscheck(False)
@cython.wraparound(False)
def grad_weight(const floating[:, :, ::1] x,    # IN  (N, C_in, Lp)
                const floating[:, :, ::1] gy,   # IN  (N, C_out, L_out)
                floating[:, :, ::1] gw,         # OUT (C_out, C_in/groups, K), overwritten
                int stride, int dilation, int groups, int num_threads):
    """gw[o, c, k] = sum_{n, l} gy[n, o, l] * x[n, g*C_in/groups + c, l*stride + k*dilation]."""
    cdef Py_ssize_t N = x.shape[0], Cin = x.shape[1], Lp = x.shape[2]
    cdef Py_ssize_t Cout = gw.shape[0], Cig = gw.shape[1], K = gw.shape[2]
    cdef Py_ssize_t Lout = gy.shape[2], s = stride, d = dilation, G = groups
    cdef Py_ssize_t Cog = Cout // G, R = Cig * K
    cdef Py_ssize_t Lq = (Lp + s - 1) // s, rowlen = Lp
    cdef Py_ssize_t gm = NNL_GM if Cog > 1 else 1
    cdef Py_ssize_t gc = NNL_GC if Cog > 1 else NNL_GC1
    cdef Py_ssize_t ncb = (Cog + gm - 1) // gm, nct = (R + gc - 1) // gc
    cdef Py_ssize_t nsb = (nct + GW_SUPER - 1) // GW_SUPER
    cdef Py_ssize_t tasks = G * ncb * nsb
    cdef Py_ssize_t t, ci, k, co
    cdef Py_ssize_t* off = NULL
    cdef floating* xs = NULL
    cdef const floating* src_base
    cdef int nt
    if Cout == 0 or R == 0:
        return
    if N == 0 or Lout <= 0:
        with nogil:
            for co in range(Cout):
                for ci in range(Cig):
                    for k in range(K):
                        gw[co, ci, k] = 0
        return
    off = <Py_ssize_t*>_alloc(R, sizeof(Py_ssize_t))
    try:
        src_base = &x[0, 0, 0]
        if s > 1:
            xs = <floating*>_alloc(N * Cin * s * Lq, sizeof(floating))
            rowlen = s * Lq
            with nogil:
                _deinterleave(&x[0, 0, 0], xs, N * Cin, Lp, s, Lq, _nt(num_threads, N * Cin))
            src_base = xs
        for ci in range(Cig):
            for k in range(K):
                off[ci * K + k] = ci * rowlen + ((k * d) % s) * Lq + (k * d) // s
        nt = _nt(num_threads, tasks)
        with nogil, parallel(num_threads=nt):
            for t in prange(tasks, schedule="static"):
                _gw_task(t // (ncb * nsb), (t // nsb) % ncb, t % nsb, gy, gw, src_base, off,
                         N, Cin, Cig, Cog, K, R, rowlen, gm, gc, nct)
    finally:
        free(off)
        free(xs)
