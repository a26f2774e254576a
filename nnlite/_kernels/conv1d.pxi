# Conv1d CPU kernels: forward, grad input, grad weight (array level, no autograd).
#
# Included by _conv1d_base.pyx, whose generated C is compiled as _conv1d_base, _conv1d_avx2 and
# _conv1d_avx512 with different -march flags; the register-tile sizes below follow the
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
#              lanes of a vector accumulate over l, then a fixed-order horizontal sum;
#              a task takes several output-channel blocks so that the x rows it reads are
#              reused from cache; stride > 1 splits each task's x rows per sample in a
#              task-local buffer; the bias gradient can be summed in the same pass.
#
# The inner loops use small fixed-size local arrays (MR rows x NR columns) that gcc keeps
# in vector registers (check: `objdump -d _conv1d_avx512*.so | grep vfmadd`): each input
# load is reused for MR output channels.  A run of columns shorter than NR at the end of
# a row is handled by moving the last tile back so it ends at the row's end (its overlap is
# recomputed with identical values).  Rows shorter than NR (or a little longer: when the
# tiles of one row would compute more columns than L_out + halo) are batched: a task lays
# several samples' input segments side by side in one row and runs the tiles over it
# (_fwd_batch, _gi_batch); the single-row kernel takes one-vector tiles on short rows.
#
# Determinism: every output element is produced by exactly one task (prange over
# (n, group, row block) or (group, row block, column block)), with the reduction order
# fixed by the shapes alone, never by the thread count or the schedule.  No atomics and
# no per-thread partial sums.
#
# Padding: forward takes pad_left / pad_right and reads the zeros without a padded copy
# of x (tasks whose columns touch the padding copy their slice into a task-local buffer);
# grad input and grad weight take the padded x / produce the padded gx.
from cython.parallel cimport prange, parallel
from libc.stdlib cimport malloc, free
cimport numpy as cnp
from libc.string cimport memcpy
cimport cython

cnp.import_array()

ctypedef fused floating:
    float
    double

cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(__clang__)
    /* -O3's unroll-and-jam fuses two taps of the single-row kernel and spills its
       accumulators (measured 8x slower); the tiles are already register-blocked. */
    #pragma GCC optimize("no-loop-unroll-and-jam")
    #endif
    #if defined(__GNUC__)
    /* `cdef inline` is always inlined: the grad-weight tiles only vectorise (lanes along
       l, accumulators in registers) once inlined into their caller's loop. */
    #undef CYTHON_INLINE
    #define CYTHON_INLINE inline __attribute__((always_inline))
    #endif
    #if defined(__AVX512F__)
    #define NNL_VB 64   /* vector bytes */
    #define NNL_MR 8    /* forward/grad-input tile rows (channels) */
    #define NNL_GM 4    /* grad-weight tile rows (output channels) */
    #define NNL_GC 6    /* grad-weight tile columns ((c_in, k) pairs) */
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
    #define NNL_GMV (NNL_GM * NNL_VB / 4)
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
        NNL_GMV
        NNL_ACC_GWMAX
    const char* NNL_ISA

ISA = NNL_ISA.decode()
TILE_ROWS = NNL_MR

# Output channels (forward) or input channels (grad input) per group up to this count use
# the single-row kernel: an MR-row tile would mostly compute padding rows.
DEF ROW_MAX = 2
# Bytes of source one forward / grad-input task keeps hot (a part of the 1 MiB L2).
DEF L2_SLICE = 96 * 1024
# Single-row kernel with more taps than ROW_TAPS: taps in blocks over ROW_CHUNK tiles.
DEF ROW_TAPS = 28
# Multiply-adds (or copied elements) below which a loop is not worth another thread.
DEF MIN_WORK = 65536
DEF ROW_CHUNK = 8
# MR-row tiles with more taps than TILE_TAPS: taps in blocks over all the tiles of a run.
DEF TILE_TAPS = 192


# ---------------------------------------------------------------- correlation tiles

cdef extern from *:
    """
    /* The MR x NR register tile, written with GCC's vector extensions: left to the
       auto-vectoriser, gcc vectorised the avx2 build (MR = 6) across the rows with
       shuffles and spills (measured 2 GFLOP/s on Zen 3, 25x slower than PyTorch); here
       every accumulator is one vector variable, so all MR x NV stay in registers.  The
       loops over them are unrolled by pragma (at -O2 gcc kept a 6 x 2 array of them on
       the stack, and a broadcast written as a loop of lane stores became 8 inserts:
       8 GFLOP/s per Zen 3 core instead of 30). */
    #if defined(__GNUC__)
    #define NNL_PRAGMA(x) _Pragma(#x)
    #define NNL_UNROLL NNL_PRAGMA(GCC unroll 16)
    #define NNL_TILE(T, SUF)                                                          \
    typedef T nnl_vec_##SUF __attribute__((vector_size(NNL_VB)));                    \
    static inline void nnl_tile_##SUF(T* dst, Py_ssize_t dstride, Py_ssize_t mvalid,   \
                                      const T* src, const Py_ssize_t* off,           \
                                      const T* wp, Py_ssize_t R, const T* init) {    \
        enum { VL = NNL_VB / sizeof(T) };                                             \
        /* scalar * vector broadcasts the scalar (one vbroadcastss per weight); times \
           ones, not plus zeros, so that an init of -0.0 stays -0.0 */               \
        const nnl_vec_##SUF ones = (nnl_vec_##SUF){0} + (T)1;                        \
        nnl_vec_##SUF acc[NNL_MR][NNL_NV], xv[NNL_NV];                               \
        Py_ssize_t r; int m, v;                                                       \
        /* init NULL: go on from the partial sums in dst (rows below mvalid) */       \
        NNL_UNROLL for (m = 0; m < NNL_MR; m++)                                       \
            NNL_UNROLL for (v = 0; v < NNL_NV; v++) {                                 \
                if (init) acc[m][v] = init[m] * ones;                                 \
                else if (m < mvalid) memcpy(&acc[m][v], dst + m * dstride + v * VL, NNL_VB); \
                else acc[m][v] = ones - ones;                                         \
            }                                                                         \
        for (r = 0; r < R; r++) {                                                     \
            const T* xp = src + off[r];                                               \
            const T* wr = wp + r * NNL_MR;                                            \
            NNL_UNROLL for (v = 0; v < NNL_NV; v++)                                   \
                memcpy(&xv[v], xp + v * VL, NNL_VB);                                  \
            NNL_UNROLL for (m = 0; m < NNL_MR; m++)                                   \
                NNL_UNROLL for (v = 0; v < NNL_NV; v++)                               \
                    acc[m][v] += wr[m] * xv[v];                                       \
        }                                                                             \
        NNL_UNROLL for (m = 0; m < NNL_MR; m++)                                       \
            if (m < mvalid)                                                           \
                NNL_UNROLL for (v = 0; v < NNL_NV; v++)                               \
                    memcpy(dst + m * dstride + v * VL, &acc[m][v], NNL_VB);           \
    }
    #else
    #define NNL_TILE(T, SUF)                                                          \
    static void nnl_tile_##SUF(T* dst, Py_ssize_t dstride, Py_ssize_t mvalid,          \
                               const T* src, const Py_ssize_t* off,                  \
                               const T* wp, Py_ssize_t R, const T* init) {           \
        enum { NR = NNL_NV * NNL_VB / sizeof(T) };                                    \
        T acc[NNL_MR * NR]; Py_ssize_t r; int m, j;                                   \
        for (m = 0; m < NNL_MR; m++) for (j = 0; j < NR; j++)                         \
            acc[m * NR + j] = init ? init[m] : (m < mvalid ? dst[m * dstride + j] : 0); \
        for (r = 0; r < R; r++) for (m = 0; m < NNL_MR; m++) for (j = 0; j < NR; j++)  \
            acc[m * NR + j] += wp[r * NNL_MR + m] * src[off[r] + j];                  \
        for (m = 0; m < mvalid; m++) for (j = 0; j < NR; j++)                         \
            dst[m * dstride + j] = acc[m * NR + j];                                   \
    }
    #endif
    NNL_TILE(float, f)
    NNL_TILE(double, d)
    """
    void nnl_tile_f(float* dst, Py_ssize_t dstride, Py_ssize_t mvalid, const float* src,
                    const Py_ssize_t* off, const float* wp, Py_ssize_t R,
                    const float* init) noexcept nogil
    void nnl_tile_d(double* dst, Py_ssize_t dstride, Py_ssize_t mvalid, const double* src,
                    const Py_ssize_t* off, const double* wp, Py_ssize_t R,
                    const double* init) noexcept nogil


cdef inline void _tile(floating* dst, Py_ssize_t dstride, Py_ssize_t mvalid,
                       const floating* src, const Py_ssize_t* off,
                       const floating* wp, Py_ssize_t R, const floating* init) noexcept nogil:
    # MR rows x NR columns held in registers; wp is (R, MR), padding rows have w = 0.
    if floating is float:
        nnl_tile_f(dst, dstride, mvalid, src, off, wp, R, init)
    else:
        nnl_tile_d(dst, dstride, mvalid, src, off, wp, R, init)


cdef void _row(floating* dst, const floating* src, const Py_ssize_t* off,
               const floating* wr, Py_ssize_t R, floating init, bint accumulate) noexcept nogil:
    # One row x RV vectors in registers (depthwise, C_in == 1 grad input, ...); with
    # `accumulate` the R taps' sum is added to dst (init must be 0).
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
    if accumulate:
        for j in range(nr):
            dst[j] += acc[j]
    else:
        for j in range(nr):
            dst[j] = acc[j]


cdef void _row1(floating* dst, const floating* src, const Py_ssize_t* off,
                const floating* wr, Py_ssize_t R, floating init) noexcept nogil:
    # One row x one vector: the single-row kernel for rows shorter than its RV vectors.
    cdef floating acc[NNL_ACC_ROW]
    cdef Py_ssize_t nr = NNL_VB // sizeof(floating)
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


cdef void _edge(floating* dst, Py_ssize_t dstride, Py_ssize_t mvalid,
                const floating* src, const Py_ssize_t* off, const Py_ssize_t* sh,
                Py_ssize_t lim, const floating* wp, Py_ssize_t wst, Py_ssize_t R,
                const floating* init, Py_ssize_t jlo, Py_ssize_t jhi) noexcept nogil:
    """Scalar columns [jlo, jhi).  With sh != NULL, tap r is skipped where j - sh[r] falls
    outside [0, lim): the zeros around gy in grad input, never materialised."""
    cdef Py_ssize_t m, j, r, t
    cdef floating a
    for m in range(mvalid):
        for j in range(jlo, jhi):
            a = init[m]
            for r in range(R):
                if sh != NULL:
                    t = j - sh[r]
                    if t < 0 or t >= lim:
                        continue
                a = a + wp[r * wst + m] * src[off[r] + j]
            dst[m * dstride + j] = a


cdef void _cols(floating* dst, Py_ssize_t dstride, Py_ssize_t mvalid,
                const floating* src, const Py_ssize_t* off, const Py_ssize_t* sh,
                Py_ssize_t lim, const floating* wp, Py_ssize_t R, const floating* init,
                Py_ssize_t c0, Py_ssize_t c1, Py_ssize_t a, Py_ssize_t b,
                bint row) noexcept nogil:
    """Columns [c0, c1) of an MR-row block (or of one row when `row`).  Columns in
    [a, b) have every tap inside src and go through the register tiles; the rest
    through the bounded scalar loop."""
    cdef Py_ssize_t nr = (NNL_RV if row else NNL_NV) * NNL_VB // sizeof(floating)
    cdef Py_ssize_t wst = 1 if row else NNL_MR
    cdef Py_ssize_t lo = max(a, c0), hi = min(b, c1), j0, j1, j, jend, r
    if c1 <= c0:
        return
    if hi - lo < nr:
        if row and hi - lo >= NNL_VB // <Py_ssize_t>sizeof(floating):
            # a short row: one-vector tiles, the last moved back to end at hi
            if lo > c0:
                _edge(dst, dstride, mvalid, src, off, sh, lim, wp, wst, R, init, c0, lo)
            j0 = lo
            while j0 < hi:
                j0 = min(j0, hi - NNL_VB // <Py_ssize_t>sizeof(floating))
                _row1(dst + j0, src + j0, off, wp, R, init[0])
                j0 += NNL_VB // <Py_ssize_t>sizeof(floating)
            if hi < c1:
                _edge(dst, dstride, mvalid, src, off, sh, lim, wp, wst, R, init, hi, c1)
            return
        _edge(dst, dstride, mvalid, src, off, sh, lim, wp, wst, R, init, c0, c1)
        return
    if lo > c0:
        _edge(dst, dstride, mvalid, src, off, sh, lim, wp, wst, R, init, c0, lo)
    if row and R > ROW_TAPS:
        # Many taps over many source rows (grad input with C_in == 1): sweep ROW_CHUNK
        # tiles ROW_TAPS taps at a time, so a few rows stream at once (prefetch-friendly);
        # the partial sums wait in dst.  The last, shifted tile is done in one go.
        jend = lo + ((hi - lo) // nr) * nr
        j0 = lo
        while j0 < jend:
            j1 = min(jend, j0 + ROW_CHUNK * nr)
            for r in range(0, R, ROW_TAPS):
                j = j0
                while j < j1:
                    _row(dst + j, src + j, off + r, wp + r, min(ROW_TAPS, R - r),
                         init[0] if r == 0 else 0, r > 0)
                    j += nr
            j0 = j1
        if jend < hi:
            _row(dst + hi - nr, src + hi - nr, off, wp, R, init[0], False)
    elif not row and R > TILE_TAPS:
        # Many taps: TILE_TAPS at a time over all the full tiles, the partial sums waiting
        # in dst (stored and reloaded exactly: the same sums in the same order), so that
        # a chunk's weights stay in L1 while the tiles stream the source; the last,
        # shifted tile is done in one go.
        jend = lo + ((hi - lo) // nr) * nr
        for r in range(0, R, TILE_TAPS):
            j = lo
            while j < jend:
                _tile(dst + j, dstride, mvalid, src + j, off + r, wp + r * NNL_MR,
                      min(TILE_TAPS, R - r), init if r == 0 else NULL)
                j += nr
        if jend < hi:
            _tile(dst + hi - nr, dstride, mvalid, src + hi - nr, off, wp, R, init)
    else:
        j0 = lo
        while j0 < hi:
            if j0 + nr > hi:
                j0 = hi - nr
            if row:
                _row(dst + j0, src + j0, off, wp, R, init[0], False)
            else:
                _tile(dst + j0, dstride, mvalid, src + j0, off, wp, R, init)
            j0 += nr
    if hi < c1:
        _edge(dst, dstride, mvalid, src, off, sh, lim, wp, wst, R, init, hi, c1)


cdef Py_ssize_t _superblock(Py_ssize_t rows, Py_ssize_t span, Py_ssize_t step,
                            Py_ssize_t ncols, size_t itemsize, Py_ssize_t nr) noexcept nogil:
    """Columns per task so that the source slice a task reads (rows x (cols*step + span))
    stays in L2 across the task's channel blocks; a multiple of nr, at least nr."""
    cdef Py_ssize_t cols = (L2_SLICE // (max(rows, 1) * <Py_ssize_t>itemsize) - span) // max(step, 1)
    cols = max(nr, (cols // nr) * nr)
    return min(cols, max(ncols, 1))


# ---------------------------------------------------------------- helpers

cdef inline void _split_row(const floating* xr, floating* xo, Py_ssize_t L, Py_ssize_t pl,
                            Py_ssize_t s, Py_ssize_t lq) noexcept nogil:
    cdef Py_ssize_t p, q, i
    for p in range(s):
        for q in range(lq):
            i = q * s + p - pl
            xo[p * lq + q] = xr[i] if 0 <= i < L else 0


cdef void _deinterleave(const floating* x, floating* xs, Py_ssize_t rows, Py_ssize_t length,
                        Py_ssize_t s, Py_ssize_t lq, int nt, Py_ssize_t pl=0,
                        Py_ssize_t L=-1) noexcept nogil:
    """xs[row, p, q] = x[row, q*s + p] (0 past the end): strided taps become contiguous.
    With L >= 0, x's rows hold L elements and the row split is the zero-padded one,
    x[row, q*s + p - pl] (0 outside [0, L))."""
    cdef Py_ssize_t row, p, q, i
    if L >= 0:
        if nt == 1:
            for row in range(rows):
                _split_row(x + row * L, xs + row * s * lq, L, pl, s, lq)
        else:
            with parallel(num_threads=nt):
                for row in prange(rows, schedule="static"):
                    _split_row(x + row * L, xs + row * s * lq, L, pl, s, lq)
        return
    cdef const floating* xr
    cdef floating* xo
    if nt == 1:  # no OpenMP region: starting one costs ~1 us
        for row in range(rows):
            xr = x + row * length
            xo = xs + row * s * lq
            for p in range(s):
                for q in range(lq):
                    i = q * s + p
                    if i < length:
                        xo[p * lq + q] = xr[i]
                    else:
                        xo[p * lq + q] = 0
    else:
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


cdef inline int _nt(int num_threads, Py_ssize_t tasks, Py_ssize_t work) noexcept nogil:
    """Threads for a loop of `tasks` tasks and about `work` multiply-adds in all: at most
    one per task and per MIN_WORK (waking a thread costs more than a tiny loop).  Only
    the speed depends on it, never the result."""
    cdef Py_ssize_t n = min(<Py_ssize_t>num_threads, tasks, work // MIN_WORK)
    return <int>max(1, n)


cdef inline Py_ssize_t _blocks_per_task(Py_ssize_t nblocks, Py_ssize_t units,
                                        int num_threads) noexcept nogil:
    """Channel blocks per task when `units` (samples x groups x column blocks) tasks would
    each take all `nblocks`: split the blocks too while there are fewer than about 8 tasks
    per thread (a small batch on two threads: 5 tasks run 3 + 2).  Changes no result."""
    cdef Py_ssize_t want = 8 * <Py_ssize_t>max(num_threads, 1)
    if units >= want or num_threads <= 1:
        return max(nblocks, 1)
    return max(1, nblocks // min(nblocks, (want + units - 1) // units))


cdef void* _alloc(Py_ssize_t n, size_t itemsize) except NULL:
    cdef void* p = malloc(max(n, 1) * itemsize)
    if p == NULL:
        raise MemoryError(f"conv1d: cannot allocate {n * itemsize} bytes of scratch")
    return p


cdef void _fwd_task(const floating* xg, Py_ssize_t L, Py_ssize_t pl,
                    floating* og, Py_ssize_t Lout,
                    Py_ssize_t Cig, Py_ssize_t Cog, Py_ssize_t K, Py_ssize_t s, Py_ssize_t d,
                    const floating* wpack, const floating* init,
                    Py_ssize_t c0, Py_ssize_t c1, Py_ssize_t cb0, Py_ssize_t cb1) noexcept nogil:
    """Output columns [c0, c1) of the channel blocks [cb0, cb1) of one (sample, group).  xg's
    rows hold L elements; the convolution reads the zero-padded row whose element i is
    xg[i - pl].  The input slice the columns read (about L2_SLICE bytes) is first copied
    into a task-local buffer, split into stride phases with the padding's zeros around,
    and the tiles read that: contiguous taps, and rows a few hundred elements apart
    instead of L (reading x in place was measured 5-15% slower: rows a power of two
    apart share L1 sets)."""
    cdef Py_ssize_t R = Cig * K
    cdef Py_ssize_t cb, ci, k, p, q, i, lqb, ncols = c1 - c0, base, span = (K - 1) * d
    cdef floating* buf
    cdef Py_ssize_t* toff
    cdef const floating* xr
    cdef floating* bo
    lqb = ((ncols - 1) * s + span + 1 + s - 1) // s
    buf = <floating*>malloc(Cig * s * lqb * sizeof(floating))
    toff = <Py_ssize_t*>malloc(R * sizeof(Py_ssize_t))
    base = c0 * s - pl       # x index of the slice's first element
    for ci in range(Cig):
        xr = xg + ci * L + base
        for p in range(s):
            bo = buf + (ci * s + p) * lqb
            if base >= 0 and base + s * lqb <= L:
                if s == 1:
                    for q in range(lqb):
                        bo[q] = xr[q]
                elif s == 2:
                    for q in range(lqb):
                        bo[q] = xr[2 * q + p]
                else:
                    for q in range(lqb):
                        bo[q] = xr[q * s + p]
            else:
                for q in range(lqb):
                    i = base + q * s + p
                    bo[q] = xr[q * s + p] if 0 <= i < L else 0
        for k in range(K):
            toff[ci * K + k] = (ci * s + (k * d) % s) * lqb + (k * d) // s
    for cb in range(cb0, cb1):
        _cols(og + cb * NNL_MR * Lout + c0, Lout, min(NNL_MR, Cog - cb * NNL_MR), buf, toff,
              NULL, 0, wpack + cb * R * NNL_MR, R, init + cb * NNL_MR,
              0, ncols, 0, ncols, False)
    free(buf)
    free(toff)


cdef void _fwd_row(floating* dst, const floating* src, Py_ssize_t rowlen, const Py_ssize_t* off,
                   const floating* wr, Py_ssize_t R, const floating* init, Py_ssize_t Lout,
                   Py_ssize_t Cig, Py_ssize_t K, Py_ssize_t d, Py_ssize_t L, Py_ssize_t pl,
                   Py_ssize_t Lp, bint local) noexcept nogil:
    """One output row with the single-row kernel.  With `local` (stride 1, padding) the
    task's Cig input rows are first copied zero-padded into a small buffer."""
    cdef floating* buf
    cdef Py_ssize_t* toff
    cdef Py_ssize_t ci, k, i
    if not local:
        _cols(dst, 0, 1, src, off, NULL, 0, wr, R, init, 0, Lout, 0, Lout, True)
        return
    buf = <floating*>malloc(Cig * Lp * sizeof(floating) + R * sizeof(Py_ssize_t))
    toff = <Py_ssize_t*>(buf + Cig * Lp)
    for ci in range(Cig):
        for i in range(pl):
            buf[ci * Lp + i] = 0
        memcpy(buf + ci * Lp + pl, src + ci * rowlen, L * sizeof(floating))
        for i in range(pl + L, Lp):
            buf[ci * Lp + i] = 0
        for k in range(K):
            toff[ci * K + k] = ci * Lp + k * d
    _cols(dst, 0, 1, buf, toff, NULL, 0, wr, R, init, 0, Lout, 0, Lout, True)
    free(buf)


cdef inline Py_ssize_t _batch_cols(Py_ssize_t ncols, Py_ssize_t halo, Py_ssize_t nr) noexcept nogil:
    """Columns one sample takes in a batched row (`ncols` outputs and the `halo` of
    source columns its taps reach past them) when batching samples along the columns
    beats tiling each short row on its own, else 0.  Depends on the shape alone."""
    if ncols < nr or ncols + halo < (ncols + nr - 1) // nr * nr:
        return ncols + halo
    return 0


cdef inline Py_ssize_t _batch_samples(Py_ssize_t N, Py_ssize_t rows, Py_ssize_t lseg,
                                      Py_ssize_t extra, size_t itemsize) noexcept nogil:
    """Samples per batched task: as many as keep its source copy (rows x that many
    segments) within L2_SLICE, at least 1 and at most N."""
    cdef Py_ssize_t ns = (L2_SLICE // (max(rows, 1) * <Py_ssize_t>itemsize) - extra) // max(lseg, 1)
    return max(1, min(N, ns))


cdef void _fwd_batch(const floating* xp, Py_ssize_t n0, Py_ssize_t n1, Py_ssize_t g,
                     Py_ssize_t Cin, Py_ssize_t L, Py_ssize_t pl, floating* op, Py_ssize_t Cout,
                     Py_ssize_t Lout, Py_ssize_t Cig, Py_ssize_t Cog, Py_ssize_t K, Py_ssize_t s,
                     Py_ssize_t d, const floating* wpack, const floating* init,
                     Py_ssize_t cb0, Py_ssize_t cb1) noexcept nogil:
    """Forward for short rows: samples [n0, n1) of group g side by side in one row.  The
    task copies each sample's phase-split, zero-padded input segment (lseg = L_out +
    halo columns per phase) one after another into a task-local buffer, runs the
    register tiles over the whole row (a column that straddles two samples is computed
    and dropped) and copies each sample's L_out columns out.  Every output element is
    still the same fixed-order sum of its own taps."""
    cdef Py_ssize_t nr = NNL_NV * NNL_VB // sizeof(floating)
    cdef Py_ssize_t R = Cig * K, halo = (K - 1) * d // s, lseg = Lout + halo, ns = n1 - n0
    cdef Py_ssize_t vc = max(nr, (ns - 1) * lseg + Lout), vrow = max(ns * lseg, vc + halo)
    cdef Py_ssize_t ci, p, i, q, idx, k, cb, m, mvalid
    cdef floating* buf = <floating*>malloc((Cig * s * vrow + NNL_MR * vc) * sizeof(floating))
    cdef floating* tmp = buf + Cig * s * vrow
    cdef Py_ssize_t* toff = <Py_ssize_t*>malloc(R * sizeof(Py_ssize_t))
    cdef const floating* xr
    cdef floating* bo
    for ci in range(Cig):
        for p in range(s):
            bo = buf + (ci * s + p) * vrow
            for i in range(ns):
                xr = xp + ((n0 + i) * Cin + g * Cig + ci) * L
                for q in range(lseg):
                    idx = q * s + p - pl
                    bo[i * lseg + q] = xr[idx] if 0 <= idx < L else 0
            for q in range(ns * lseg, vrow):
                bo[q] = 0
        for k in range(K):
            toff[ci * K + k] = (ci * s + (k * d) % s) * vrow + (k * d) // s
    for cb in range(cb0, cb1):
        mvalid = min(NNL_MR, Cog - cb * NNL_MR)
        _cols(tmp, vc, mvalid, buf, toff, NULL, 0, wpack + cb * R * NNL_MR, R,
              init + cb * NNL_MR, 0, vc, 0, vc, False)
        for m in range(mvalid):
            for i in range(ns):
                memcpy(op + ((n0 + i) * Cout + g * Cog + cb * NNL_MR + m) * Lout,
                       tmp + m * vc + i * lseg, Lout * sizeof(floating))
    free(buf)
    free(toff)


# ---------------------------------------------------------------- forward

cdef int _forward(const floating* xp, const floating* wp, const floating* bp, floating* op,
                  Py_ssize_t N, Py_ssize_t Cin, Py_ssize_t L, Py_ssize_t Cout, Py_ssize_t Cig,
                  Py_ssize_t K, Py_ssize_t Lout, int stride, int dilation, int groups,
                  int num_threads, Py_ssize_t pad_left, Py_ssize_t pad_right) except -1:
    """forward() on C-contiguous buffers whose shapes :func:`forward` has checked."""
    cdef Py_ssize_t pl = pad_left, Lp = L + pad_left + pad_right
    cdef Py_ssize_t s = stride, d = dilation, G = groups
    cdef Py_ssize_t Cog = Cout // G, R = Cig * K
    cdef Py_ssize_t Lq = (Lp + s - 1) // s, rowlen = L
    cdef Py_ssize_t nr = NNL_NV * NNL_VB // sizeof(floating)
    cdef bint has_bias = bp != NULL
    cdef Py_ssize_t ncb, tasks, t, n, g, cb, gb, co, ci, k, r, m, mvalid, lb, nsb, sb, c0, c1
    cdef Py_ssize_t cbt, ncg, lseg, ns, nng
    cdef bint valid, local
    cdef Py_ssize_t* off = NULL
    cdef floating* xs = NULL
    cdef floating* wpack = NULL
    cdef floating* init = NULL
    cdef floating zeros[1]
    cdef const floating* src_base
    cdef int nt
    if N == 0 or Cout == 0 or Lout <= 0:
        return 0
    zeros[0] = 0
    off = <Py_ssize_t*>_alloc(R, sizeof(Py_ssize_t))
    try:
        src_base = xp
        local = s == 1 and Lp > L and Cig * Lp * <Py_ssize_t>sizeof(floating) <= L2_SLICE
        if (s > 1 or Lp > L) and Cog <= ROW_MAX and not local:
            # single-row kernel: one zero-padded, phase-split copy of x
            xs = <floating*>_alloc(N * Cin * s * Lq, sizeof(floating))
            rowlen = s * Lq
            with nogil:
                _deinterleave(xp, xs, N * Cin, Lp, s, Lq,
                              _nt(num_threads, N * Cin, N * Cin * Lp), pl, L)
            src_base = xs
        if Cog <= ROW_MAX:
            # the row kernel's tap offsets (the tile path's tasks make their own, per copied slice)
            for ci in range(Cig):
                for k in range(K):
                    off[ci * K + k] = ci * rowlen + ((k * d) % s) * Lq + (k * d) // s
            tasks = N * Cout
            nt = _nt(num_threads, tasks, N * Cout * Lout * Cig * K)
            if nt == 1:  # no OpenMP region: starting one costs ~1 us
                with nogil:
                    for t in range(tasks):
                        n = t // Cout
                        co = t % Cout
                        g = co // Cog
                        _fwd_row(op + (n * Cout + co) * Lout, src_base + (n * Cin + g * Cig) * rowlen, rowlen,
                                 off, wp + co * R, R, bp + co if has_bias else zeros,
                                 Lout, Cig, K, d, L, pl, Lp, local)
            else:
                with nogil, parallel(num_threads=nt):
                    for t in prange(tasks, schedule="static"):
                        n = t // Cout
                        co = t % Cout
                        g = co // Cog
                        _fwd_row(op + (n * Cout + co) * Lout, src_base + (n * Cin + g * Cig) * rowlen, rowlen,
                                 off, wp + co * R, R, bp + co if has_bias else zeros,
                                 Lout, Cig, K, d, L, pl, Lp, local)
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
                    init[gb * NNL_MR + m] = bp[co] if (valid and has_bias) else 0
                    for r in range(R):
                        wpack[(gb * R + r) * NNL_MR + m] = wp[co * R + r] if valid else 0
            lseg = _batch_cols(Lout, (K - 1) * d // s, nr)
            if lseg:
                ns = _batch_samples(N, Cig * s, lseg, nr + (K - 1) * d // s, sizeof(floating))
                nng = (N + ns - 1) // ns
                cbt = _blocks_per_task(ncb, nng * G, num_threads)
                ncg = (ncb + cbt - 1) // cbt
                tasks = nng * G * ncg
                nt = _nt(num_threads, tasks, N * Cout * Lout * Cig * K)
                if nt == 1:
                    with nogil:
                        for t in range(tasks):
                            n = (t // (G * ncg)) * ns
                            g = (t // ncg) % G
                            cb = (t % ncg) * cbt
                            _fwd_batch(xp, n, min(N, n + ns), g, Cin, L, pl, op, Cout, Lout, Cig,
                                       Cog, K, s, d, wpack + g * ncb * R * NNL_MR,
                                       init + g * ncb * NNL_MR, cb, min(ncb, cb + cbt))
                else:
                    with nogil, parallel(num_threads=nt):
                        for t in prange(tasks, schedule="static"):
                            n = (t // (G * ncg)) * ns
                            g = (t // ncg) % G
                            cb = (t % ncg) * cbt
                            _fwd_batch(xp, n, min(N, n + ns), g, Cin, L, pl, op, Cout, Lout, Cig,
                                       Cog, K, s, d, wpack + g * ncb * R * NNL_MR,
                                       init + g * ncb * NNL_MR, cb, min(ncb, cb + cbt))
                return 0
            lb = _superblock(Cig, (K - 1) * d, s, Lout, sizeof(floating), nr)
            nsb = max(1, Lout // lb)
            cbt = _blocks_per_task(ncb, N * G * nsb, num_threads)
            ncg = (ncb + cbt - 1) // cbt
            tasks = N * G * nsb * ncg
            nt = _nt(num_threads, tasks, N * Cout * Lout * Cig * K)
            if nt == 1:  # no OpenMP region: starting one costs ~1 us
                with nogil:
                    for t in range(tasks):
                        n = t // (G * nsb * ncg)
                        g = (t // (nsb * ncg)) % G
                        sb = (t // ncg) % nsb
                        cb = (t % ncg) * cbt
                        c0 = sb * lb
                        c1 = Lout if sb == nsb - 1 else c0 + lb
                        _fwd_task(xp + (n * Cin + g * Cig) * L, L, pl, op + (n * Cout + g * Cog) * Lout,
                                  Lout, Cig, Cog, K, s, d, wpack + g * ncb * R * NNL_MR,
                                  init + g * ncb * NNL_MR, c0, c1, cb, min(ncb, cb + cbt))
            else:
                with nogil, parallel(num_threads=nt):
                    for t in prange(tasks, schedule="static"):
                        n = t // (G * nsb * ncg)
                        g = (t // (nsb * ncg)) % G
                        sb = (t // ncg) % nsb
                        cb = (t % ncg) * cbt
                        c0 = sb * lb
                        c1 = Lout if sb == nsb - 1 else c0 + lb
                        _fwd_task(xp + (n * Cin + g * Cig) * L, L, pl, op + (n * Cout + g * Cog) * Lout,
                                  Lout, Cig, Cog, K, s, d, wpack + g * ncb * R * NNL_MR,
                                  init + g * ncb * NNL_MR, c0, c1, cb, min(ncb, cb + cbt))
    finally:
        free(off)
        free(xs)
        free(wpack)
        free(init)
    return 0


cdef inline cnp.ndarray _checked(object a, str name, int ndim, int typenum, bint write):
    """``a`` as a C-contiguous numpy array of ``ndim`` dimensions and dtype ``typenum`` (the
    checks of a typed memoryview, without the cost of exporting a buffer); an input
    (``write`` false) that is not contiguous is copied, an output must be."""
    if not cnp.PyArray_Check(a):
        raise TypeError(f"conv1d: {name} must be a numpy array, but got {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    if cnp.PyArray_NDIM(arr) != ndim:
        raise ValueError(f"conv1d: {name} must have {ndim} dimensions, but got {cnp.PyArray_NDIM(arr)}")
    if cnp.PyArray_TYPE(arr) != typenum:
        raise TypeError(f"conv1d: expected {name} of dtype {cnp.PyArray_DescrFromType(typenum)}, "
                        f"but got {arr.dtype}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        if write:
            raise ValueError(f"conv1d: {name} must be C-contiguous")
        arr = cnp.PyArray_GETCONTIGUOUS(arr)
    if write and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"conv1d: {name} must be writeable")
    return arr


def forward(x, w, bias, out, int stride, int dilation, int groups, int num_threads,
            Py_ssize_t pad_left=0, Py_ssize_t pad_right=0):
    """out[n, o, l] = bias[o] + sum_{c, k} w[o, c, k] * xp[n, g*C_in/groups + c, l*stride + k*dilation]
    where xp is x with pad_left / pad_right zeros around each row (never materialised
    in full: each task copies the slice it reads).  Returns ``out``.

    x (N, C_in, L), w (C_out, C_in/groups, K) and bias (C_out,) or None: numpy arrays of
    one dtype, float32 or float64 (non-contiguous ones are copied); out (N, C_out, L_out):
    a C-contiguous array of that dtype, or None for a new one.  The shapes are checked
    against each other here (a call never reads or writes outside the arrays)."""
    if not cnp.PyArray_Check(x):
        raise TypeError(f"conv1d: x must be a numpy array, but got {type(x).__name__}")
    cdef int tn = cnp.PyArray_TYPE(<cnp.ndarray>x)
    if tn != cnp.NPY_FLOAT32 and tn != cnp.NPY_FLOAT64:
        raise TypeError(f"conv1d: expected float32 or float64 arrays, but got {x.dtype}")
    cdef cnp.ndarray xa = _checked(x, "x", 3, tn, False)
    cdef cnp.ndarray wa = _checked(w, "w", 3, tn, False)
    cdef cnp.ndarray ba = None if bias is None else _checked(bias, "bias", 1, tn, False)
    cdef cnp.npy_intp dims[3]
    if out is None:
        if stride < 1 or dilation < 1:
            raise ValueError("conv1d: stride, dilation, groups and the kernel size must be positive")
        dims[0] = cnp.PyArray_DIMS(xa)[0]
        dims[1] = cnp.PyArray_DIMS(wa)[0]
        dims[2] = max(0, (cnp.PyArray_DIMS(xa)[2] + pad_left + pad_right
                          - dilation * (cnp.PyArray_DIMS(wa)[2] - 1) - 1) // stride + 1)
        out = cnp.PyArray_EMPTY(3, dims, tn, 0)
    cdef cnp.ndarray oa = _checked(out, "out", 3, tn, True)
    cdef cnp.npy_intp* xs = cnp.PyArray_DIMS(xa)
    cdef cnp.npy_intp* ws = cnp.PyArray_DIMS(wa)
    cdef cnp.npy_intp* os = cnp.PyArray_DIMS(oa)
    cdef Py_ssize_t N = xs[0], Cin = xs[1], L = xs[2], Cout = ws[0], Cig = ws[1], K = ws[2]
    cdef Py_ssize_t Lout = os[2]
    if stride < 1 or dilation < 1 or groups < 1 or K < 1:
        raise ValueError("conv1d: stride, dilation, groups and the kernel size must be positive")
    if pad_left < 0 or pad_right < 0:
        raise ValueError("conv1d: negative padding")
    if Cout % groups or Cin != Cig * groups:
        raise ValueError(f"conv1d: w of shape ({Cout}, {Cig}, {K}) does not fit {Cin} input "
                         f"channels in {groups} groups")
    if os[0] != N or os[1] != Cout:
        raise ValueError("conv1d: out must have shape (N, C_out, L_out)")
    if ba is not None and cnp.PyArray_DIMS(ba)[0] != Cout:
        raise ValueError("conv1d: bias must have C_out elements")
    if Lout > 0 and Lout > (L + pad_left + pad_right - dilation * (K - 1) - 1) // stride + 1:
        raise ValueError("conv1d: output longer than the padded input allows")
    if tn == cnp.NPY_FLOAT32:
        _forward(<const float*>cnp.PyArray_DATA(xa), <const float*>cnp.PyArray_DATA(wa),
                 NULL if ba is None else <const float*>cnp.PyArray_DATA(ba),
                 <float*>cnp.PyArray_DATA(oa), N, Cin, L, Cout, Cig, K, Lout, stride, dilation,
                 groups, num_threads, pad_left, pad_right)
    else:
        _forward(<const double*>cnp.PyArray_DATA(xa), <const double*>cnp.PyArray_DATA(wa),
                 NULL if ba is None else <const double*>cnp.PyArray_DATA(ba),
                 <double*>cnp.PyArray_DATA(oa), N, Cin, L, Cout, Cig, K, Lout, stride, dilation,
                 groups, num_threads, pad_left, pad_right)
    return oa


DEF GI_CHUNK = 256       # phase columns per pass of the strided grad input (task-local buffer)


cdef void _gi_task(Py_ssize_t n, Py_ssize_t g, Py_ssize_t sb, Py_ssize_t lb, Py_ssize_t nsb,
                   const floating* gsrc, floating[:, :, ::1] gx,
                   const Py_ssize_t* off, const Py_ssize_t* sh, const Py_ssize_t* nk,
                   const Py_ssize_t* kstart, const Py_ssize_t* lqp, const Py_ssize_t* ia,
                   const Py_ssize_t* ib, const floating* wpack, const floating* zeros,
                   Py_ssize_t Cin, Py_ssize_t Cout, Py_ssize_t Cig, Py_ssize_t Cog,
                   Py_ssize_t Lout, Py_ssize_t Lp, Py_ssize_t Lq, Py_ssize_t s, Py_ssize_t G,
                   Py_ssize_t ncb, Py_ssize_t K, Py_ssize_t emax, Py_ssize_t L,
                   Py_ssize_t pl, Py_ssize_t cb0, Py_ssize_t cb1) noexcept nogil:
    """Grad input, tile path: phase columns [c0, c1) of the channel blocks [cb0, cb1) of (n, g).
    Stride 1 writes gx directly.  Otherwise, GI_CHUNK phase columns at a time, each
    phase p is correlated into a small task-local buffer (L1), which is then interleaved
    into the gx rows (i = q*s + p): no full-size scratch, no second pass over gx."""
    cdef Py_ssize_t nr = NNL_NV * NNL_VB // sizeof(floating)
    cdef Py_ssize_t c0 = sb * lb, c1 = Lq if sb == nsb - 1 else sb * lb + lb
    cdef Py_ssize_t cap = GI_CHUNK + nr, cb, gb, ci, p, Rp, mvalid, q0, q1, qe, m, q, i
    cdef const floating* gg = gsrc + (n * Cout + g * Cog) * Lout
    cdef const floating* wp
    cdef floating* buf
    cdef floating* row
    cdef floating* lb_row
    cdef floating* gpad = NULL
    cdef Py_ssize_t* toff = NULL
    cdef Py_ssize_t W, co, u, col, r
    cdef Py_ssize_t* ia_ = <Py_ssize_t*>ia
    cdef Py_ssize_t* ib_ = <Py_ssize_t*>ib
    if c0 < emax or c1 > Lout or (Lout * <Py_ssize_t>sizeof(floating)) % 1024 == 0:
        # An edge task: some taps fall outside gy.  Copy the gy columns it reads,
        # [c0 - emax, c1), with zeros outside [0, Lout), so that every column runs
        # through the register tiles (the bounded scalar loop is ~5x slower per column).
        # Rows of gy a multiple of 1 KiB apart are copied too: in place they share L1
        # sets (measured 5-15% slower on the wide and dilated benchmark shapes).
        W = c1 - c0 + emax
        gpad = <floating*>malloc(Cog * W * sizeof(floating) + Cog * K * sizeof(Py_ssize_t)
                                 + 2 * s * sizeof(Py_ssize_t))
        toff = <Py_ssize_t*>(gpad + Cog * W)
        ia_ = toff + Cog * K
        ib_ = ia_ + s
        for co in range(Cog):
            for u in range(W):
                col = c0 - emax + u
                gpad[co * W + u] = gg[co * Lout + col] if 0 <= col < Lout else 0
        for r in range(Cog * K):
            co = (off[r] + sh[r]) // Lout
            toff[r] = co * W - sh[r]
        for p in range(s):
            ia_[p] = c0
            ib_[p] = c1
        gg = gpad - (c0 - emax)
        off = toff
        sh = NULL
    if s == 1:
        # gx holds the padded columns [pl, pl + L)
        for cb in range(cb0, cb1):
            gb = g * ncb + cb
            _cols(&gx[n, g * Cig + cb * NNL_MR, 0] - pl, L, min(NNL_MR, Cig - cb * NNL_MR), gg,
                  off, sh, Lout, wpack + gb * Cog * nk[0] * NNL_MR, Cog * nk[0], zeros,
                  max(c0, pl), min(c1, lqp[0], pl + L), ia_[0], ib_[0], False)
        free(gpad)
        return
    buf = <floating*>malloc(NNL_MR * s * cap * sizeof(floating))
    for cb in range(cb0, cb1):
        gb = g * ncb + cb
        ci = g * Cig + cb * NNL_MR
        mvalid = min(NNL_MR, Cig - cb * NNL_MR)
        q0 = c0
        while q0 < c1:
            q1 = c1 if c1 - q0 < GI_CHUNK + nr else q0 + GI_CHUNK
            for p in range(s):
                qe = min(q1, lqp[p])
                if qe <= q0:
                    continue
                Rp = Cog * nk[p]
                wp = wpack + (G * ncb * Cog * kstart[p] + gb * Rp) * NNL_MR
                _cols(buf + p * cap - q0, s * cap, mvalid, gg, off + Cog * kstart[p],
                      NULL if sh == NULL else sh + Cog * kstart[p], Lout, wp, Rp, zeros,
                      q0, qe, ia_[p], ib_[p], False)
            for m in range(mvalid):
                row = &gx[n, ci + m, 0] - pl
                lb_row = buf + m * s * cap - q0
                if s == 2 and 2 * q0 >= pl and 2 * q1 <= pl + L:
                    for q in range(q0, q1):
                        row[2 * q] = lb_row[q]
                        row[2 * q + 1] = lb_row[cap + q]
                else:
                    for q in range(q0, q1):
                        for p in range(s):
                            i = q * s + p
                            if pl <= i < pl + L:
                                row[i] = lb_row[p * cap + q]
            q0 = q1
    free(buf)
    free(gpad)


cdef void _gi_batch(Py_ssize_t n0, Py_ssize_t n1, Py_ssize_t g, const floating* gy,
                    floating* gxp, const Py_ssize_t* off, const Py_ssize_t* sh,
                    const Py_ssize_t* nk, const Py_ssize_t* kstart, const Py_ssize_t* lqp,
                    const floating* wpack, const floating* zeros, Py_ssize_t Cin,
                    Py_ssize_t Cout, Py_ssize_t Cig, Py_ssize_t Cog, Py_ssize_t Lout,
                    Py_ssize_t Lq, Py_ssize_t s, Py_ssize_t G, Py_ssize_t ncb, Py_ssize_t K,
                    Py_ssize_t emax, Py_ssize_t L, Py_ssize_t pl, Py_ssize_t cb0,
                    Py_ssize_t cb1) noexcept nogil:
    """Grad input for short rows, the counterpart of _fwd_batch: the gy rows of samples
    [n0, n1) of group g, each with emax zeros in front and zeros up to Lq + emax
    columns, side by side in a task-local buffer; each stride phase runs the register
    tiles over the whole row into a small buffer, whose columns are then scattered into
    the gx rows of their samples."""
    cdef Py_ssize_t nr = NNL_NV * NNL_VB // sizeof(floating)
    cdef Py_ssize_t lseg = emax + Lq, ns = n1 - n0
    cdef Py_ssize_t vc = max(nr, (ns - 1) * lseg + Lq), vrow = max(ns * lseg, emax + vc)
    cdef Py_ssize_t co, i, u, r, cb, gb, p, Rp, m, mvalid, q, ip
    cdef floating* buf = <floating*>malloc((Cog * vrow + NNL_MR * vc) * sizeof(floating))
    cdef floating* tmp = buf + Cog * vrow
    cdef Py_ssize_t* toff = <Py_ssize_t*>malloc(Cog * K * sizeof(Py_ssize_t))
    cdef const floating* gr
    cdef const floating* t
    cdef floating* row
    for co in range(Cog):
        for i in range(ns):
            gr = gy + ((n0 + i) * Cout + g * Cog + co) * Lout
            for u in range(lseg):
                buf[co * vrow + i * lseg + u] = gr[u - emax] if emax <= u < emax + Lout else 0
        for u in range(ns * lseg, vrow):
            buf[co * vrow + u] = 0
    for r in range(Cog * K):
        toff[r] = ((off[r] + sh[r]) // Lout) * vrow - sh[r]
    for cb in range(cb0, cb1):
        gb = g * ncb + cb
        mvalid = min(NNL_MR, Cig - cb * NNL_MR)
        for p in range(s):
            Rp = Cog * nk[p]
            _cols(tmp - emax, vc, mvalid, buf, toff + Cog * kstart[p], NULL, 0,
                  wpack + (G * ncb * Cog * kstart[p] + gb * Rp) * NNL_MR, Rp, zeros,
                  emax, emax + vc, emax, emax + vc, False)
            for m in range(mvalid):
                for i in range(ns):
                    row = gxp + ((n0 + i) * Cin + g * Cig + cb * NNL_MR + m) * L - pl
                    t = tmp + m * vc + i * lseg
                    for q in range(lqp[p]):
                        ip = q * s + p
                        if pl <= ip < pl + L:
                            row[ip] = t[q]
    free(buf)
    free(toff)


# ---------------------------------------------------------------- grad input

@cython.boundscheck(False)
@cython.wraparound(False)
def grad_input(const floating[:, :, ::1] gy,    # IN  (N, C_out, L_out)
               const floating[:, :, ::1] w,     # IN  (C_out, C_in/groups, K)
               floating[:, :, ::1] gx,          # OUT (N, C_in, L), overwritten
               int stride, int dilation, int groups, int num_threads,
               Py_ssize_t pad_left=0, Py_ssize_t pad_right=0):
    """gx[n, c, i] = sum over (o, k) with i = l*stride + k*dilation of w[o, c, k] * gy[n, o, l],
    for the padded input of Lp = L + pad_left + pad_right elements: gx holds its
    elements [pad_left, pad_left + L) (the gradient of the padding is not computed).

    Phase p = i % stride gathers the taps with k*dilation % stride == p; each phase is a
    stride-1 correlation of gy (stride 1: the only phase, written straight into gx;
    otherwise into a phase-major scratch that is then interleaved into gx)."""
    cdef Py_ssize_t N = gy.shape[0], Cout = gy.shape[1], Lout = gy.shape[2]
    cdef Py_ssize_t Cin = gx.shape[1], L = gx.shape[2], pl = pad_left
    cdef Py_ssize_t Lp = L + pad_left + pad_right
    cdef Py_ssize_t Cig = w.shape[1], K = w.shape[2], s = stride, d = dilation, G = groups
    cdef Py_ssize_t Cog = Cout // G
    cdef Py_ssize_t Lq = (Lp + s - 1) // s
    cdef Py_ssize_t nr = NNL_NV * NNL_VB // sizeof(floating)
    cdef Py_ssize_t p, k, co, ci, g, cb, gb, m, r, t, n, q, i, ncb, tasks, idx, row
    cdef Py_ssize_t mvalid, Rp, po, lb, nsb, sb, c0, c1, e, cbt, ncg, lseg, ns, nng
    cdef Py_ssize_t* off = NULL       # per phase, (c_out, tap) order
    cdef Py_ssize_t* sh = NULL        # tap shift e_k = k*d // s, same order
    cdef Py_ssize_t* taps = NULL      # taps ordered by phase
    cdef Py_ssize_t* nk = NULL        # taps per phase
    cdef Py_ssize_t* kstart = NULL    # first tap of each phase in `taps`
    cdef Py_ssize_t* lqp = NULL       # columns of phase p: i = q*s + p < Lp
    cdef Py_ssize_t* ia = NULL        # [ia, ib): columns where every tap of phase p is inside gy
    cdef Py_ssize_t* ib = NULL
    cdef floating* gxs = NULL
    cdef floating* wpack = NULL
    cdef floating zeros[NNL_MR]
    cdef floating* dst
    cdef const floating* gsrc
    cdef int nt, use_row = Cig <= ROW_MAX
    if pad_left < 0 or pad_right < 0:
        raise ValueError("conv1d: negative padding")
    if N == 0 or Cin == 0 or L == 0:
        return
    if Cout == 0 or Lout <= 0:
        with nogil:
            for n in range(N):
                for ci in range(Cin):
                    for i in range(L):
                        gx[n, ci, i] = 0
        return
    for m in range(NNL_MR):
        zeros[m] = 0
    try:
        nk = <Py_ssize_t*>_alloc(s, sizeof(Py_ssize_t))
        kstart = <Py_ssize_t*>_alloc(s, sizeof(Py_ssize_t))
        lqp = <Py_ssize_t*>_alloc(s, sizeof(Py_ssize_t))
        ia = <Py_ssize_t*>_alloc(s, sizeof(Py_ssize_t))
        ib = <Py_ssize_t*>_alloc(s, sizeof(Py_ssize_t))
        taps = <Py_ssize_t*>_alloc(K, sizeof(Py_ssize_t))
        off = <Py_ssize_t*>_alloc(Cog * K, sizeof(Py_ssize_t))
        sh = <Py_ssize_t*>_alloc(Cog * K, sizeof(Py_ssize_t))
        idx = 0
        for p in range(s):
            kstart[p] = idx
            lqp[p] = (Lp - p + s - 1) // s
            ia[p] = 0
            ib[p] = lqp[p]
            for k in range(K):
                if (k * d) % s == p:
                    taps[idx] = k
                    idx += 1
                    e = (k * d) // s
                    ia[p] = max(ia[p], e)
                    ib[p] = min(ib[p], Lout + e)
            nk[p] = idx - kstart[p]
            for co in range(Cog):
                for i in range(nk[p]):
                    e = (taps[kstart[p] + i] * d) // s
                    off[Cog * kstart[p] + co * nk[p] + i] = co * Lout - e
                    sh[Cog * kstart[p] + co * nk[p] + i] = e
        gsrc = &gy[0, 0, 0]
        if s > 1 and use_row:
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
            nt = _nt(num_threads, tasks, N * Cout * Lout * Cig * K)
            if nt == 1:  # no OpenMP region: starting one costs ~1 us
                with nogil:
                    for t in range(tasks):
                        n = t // (s * Cin)
                        p = (t // Cin) % s
                        ci = t % Cin
                        g = ci // Cig
                        Rp = Cog * nk[p]
                        if s == 1:
                            dst = &gx[n, ci, 0] - pl
                            c0 = pl
                            c1 = pl + L
                        else:
                            dst = gxs + ((n * Cin + ci) * s + p) * Lq
                            c0 = 0
                            c1 = lqp[p]
                        _cols(dst, 0, 1, gsrc + (n * Cout + g * Cog) * Lout,
                              off + Cog * kstart[p], sh + Cog * kstart[p], Lout,
                              wpack + Cin * Cog * kstart[p] + ci * Rp, Rp, zeros,
                              c0, c1, ia[p], ib[p], True)
            else:
                with nogil, parallel(num_threads=nt):
                    for t in prange(tasks, schedule="static"):
                        n = t // (s * Cin)
                        p = (t // Cin) % s
                        ci = t % Cin
                        g = ci // Cig
                        Rp = Cog * nk[p]
                        if s == 1:
                            dst = &gx[n, ci, 0] - pl
                            c0 = pl
                            c1 = pl + L
                        else:
                            dst = gxs + ((n * Cin + ci) * s + p) * Lq
                            c0 = 0
                            c1 = lqp[p]
                        _cols(dst, 0, 1, gsrc + (n * Cout + g * Cog) * Lout,
                              off + Cog * kstart[p], sh + Cog * kstart[p], Lout,
                              wpack + Cin * Cog * kstart[p] + ci * Rp, Rp, zeros,
                              c0, c1, ia[p], ib[p], True)
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
            lseg = _batch_cols(Lq, (K - 1) * d // s, nr)
            if lseg:
                ns = _batch_samples(N, Cog, lseg, nr, sizeof(floating))
                nng = (N + ns - 1) // ns
                cbt = _blocks_per_task(ncb, nng * G, num_threads)
                ncg = (ncb + cbt - 1) // cbt
                tasks = nng * G * ncg
                nt = _nt(num_threads, tasks, N * Cout * Lout * Cig * K)
                if nt == 1:
                    with nogil:
                        for t in range(tasks):
                            n = (t // (G * ncg)) * ns
                            cb = (t % ncg) * cbt
                            _gi_batch(n, min(N, n + ns), (t // ncg) % G, gsrc, &gx[0, 0, 0],
                                      off, sh, nk, kstart, lqp, wpack, zeros, Cin, Cout, Cig,
                                      Cog, Lout, Lq, s, G, ncb, K, (K - 1) * d // s, L, pl, cb,
                                      min(ncb, cb + cbt))
                else:
                    with nogil, parallel(num_threads=nt):
                        for t in prange(tasks, schedule="static"):
                            n = (t // (G * ncg)) * ns
                            cb = (t % ncg) * cbt
                            _gi_batch(n, min(N, n + ns), (t // ncg) % G, gsrc, &gx[0, 0, 0],
                                      off, sh, nk, kstart, lqp, wpack, zeros, Cin, Cout, Cig,
                                      Cog, Lout, Lq, s, G, ncb, K, (K - 1) * d // s, L, pl, cb,
                                      min(ncb, cb + cbt))
                return
            lb = _superblock(Cog, (K - 1) * d // s, 1, Lq, sizeof(floating), nr)
            nsb = max(1, Lq // lb)
            cbt = _blocks_per_task(ncb, N * G * nsb, num_threads)
            ncg = (ncb + cbt - 1) // cbt
            tasks = N * G * nsb * ncg
            nt = _nt(num_threads, tasks, N * Cout * Lout * Cig * K)
            if nt == 1:  # no OpenMP region: starting one costs ~1 us
                with nogil:
                    for t in range(tasks):
                        cb = (t % ncg) * cbt
                        _gi_task(t // (G * nsb * ncg), (t // (nsb * ncg)) % G, (t // ncg) % nsb,
                                 lb, nsb, gsrc, gx, off, sh, nk, kstart, lqp, ia, ib, wpack, zeros,
                                 Cin, Cout, Cig, Cog, Lout, Lp, Lq, s, G, ncb, K, (K - 1) * d // s,
                                 L, pl, cb, min(ncb, cb + cbt))
            else:
                with nogil, parallel(num_threads=nt):
                    for t in prange(tasks, schedule="static"):
                        cb = (t % ncg) * cbt
                        _gi_task(t // (G * nsb * ncg), (t // (nsb * ncg)) % G, (t // ncg) % nsb,
                                 lb, nsb, gsrc, gx, off, sh, nk, kstart, lqp, ia, ib, wpack, zeros,
                                 Cin, Cout, Cig, Cog, Lout, Lp, Lq, s, G, ncb, K, (K - 1) * d // s,
                                 L, pl, cb, min(ncb, cb + cbt))
        if s > 1 and use_row:
            nt = _nt(num_threads, N * Cin, N * Cin * Lp)
            if nt == 1:  # no OpenMP region: starting one costs ~1 us
                with nogil:
                    for row in range(N * Cin):
                        dst = &gx[0, 0, 0] + row * L - pl
                        for p in range(s):
                            for q in range(lqp[p]):
                                if pl <= q * s + p < pl + L:
                                    dst[q * s + p] = gxs[(row * s + p) * Lq + q]
            else:
                with nogil, parallel(num_threads=nt):
                    for row in prange(N * Cin, schedule="static"):
                        dst = &gx[0, 0, 0] + row * L - pl
                        for p in range(s):
                            for q in range(lqp[p]):
                                if pl <= q * s + p < pl + L:
                                    dst[q * s + p] = gxs[(row * s + p) * Lq + q]
    finally:
        free(off)
        free(sh)
        free(taps)
        free(nk)
        free(kstart)
        free(lqp)
        free(ia)
        free(ib)
        free(gxs)
        free(wpack)


# ---------------------------------------------------------------- grad weight

cdef inline void _gw_tile(floating* lanes, const floating* gbase, const Py_ssize_t* roff,
                          const floating* xbase, const Py_ssize_t* xoff,
                          Py_ssize_t nv) noexcept nogil:
    # GM rows of gy x GC shifted rows of x, summed lane-wise over nv vectors, then added
    # to `lanes`.  The lane index j is the outer loop so that gcc vectorises along it
    # with the GM*GC accumulators in registers (the other order stays scalar).
    cdef floating acc[NNL_ACC_GW]
    cdef Py_ssize_t vl = NNL_VB // sizeof(floating)
    cdef Py_ssize_t v, m, c, j
    for j in range(NNL_GM * NNL_GC * vl):
        acc[j] = 0
    for v in range(nv):
        for j in range(vl):
            for m in range(NNL_GM):
                for c in range(NNL_GC):
                    acc[(m * NNL_GC + c) * vl + j] += (gbase[roff[m] + v * vl + j]
                                                       * xbase[xoff[c] + v * vl + j])
    for j in range(NNL_GM * NNL_GC * vl):
        lanes[j] += acc[j]


cdef inline void _gw_tile1(floating* lanes, const floating* gp0, const floating* xbase,
                           const Py_ssize_t* xoff, Py_ssize_t nv) noexcept nogil:
    # One row of gy x GC1 shifted rows of x (depthwise).
    cdef floating acc[NNL_ACC_GW1]
    cdef Py_ssize_t vl = NNL_VB // sizeof(floating)
    cdef Py_ssize_t v, c, j
    for j in range(NNL_GC1 * vl):
        acc[j] = 0
    for v in range(nv):
        for j in range(vl):
            for c in range(NNL_GC1):
                acc[c * vl + j] += gp0[v * vl + j] * xbase[xoff[c] + v * vl + j]
    for j in range(NNL_GC1 * vl):
        lanes[j] += acc[j]


DEF GW_CHUNK = 512       # columns of l per pass, keeps gy and x rows in L1/L2
DEF GW_SUPER = 16        # grad-weight tiles per task along (c_in, k)
DEF GW_CB = 8            # at most this many channel blocks per grad-weight task



DEF GB_LANES = 16        # bias-gradient lanes (double accumulators) per row


cdef inline void _gb_rows(double* acc, const floating* gp, Py_ssize_t rows, Py_ssize_t Lout,
                          Py_ssize_t l0, Py_ssize_t l1) noexcept nogil:
    """acc[m, 0:GB_LANES] += gy row m over [l0, l1) (l1 - l0 a multiple of GB_LANES),
    lane j taking the columns l = j (mod GB_LANES): a fixed order, vectorised."""
    cdef Py_ssize_t m, l, j
    cdef const floating* r
    for m in range(rows):
        r = gp + m * Lout
        for l in range(l0, l1, GB_LANES):
            for j in range(GB_LANES):
                acc[m * (GB_LANES + 1) + j] += r[l + j]


cdef void _gw_task(Py_ssize_t g, Py_ssize_t cb0, Py_ssize_t cb1, Py_ssize_t sb,
                   Py_ssize_t tps, Py_ssize_t n0, Py_ssize_t n1,
                   const floating* gyp, floating* gwp, floating* gbp,
                   const floating* src_base, Py_ssize_t nstride, const Py_ssize_t* off,
                   Py_ssize_t Cout, Py_ssize_t Cin, Py_ssize_t Cig, Py_ssize_t Cog,
                   Py_ssize_t K, Py_ssize_t R, Py_ssize_t rowlen, Py_ssize_t Lout,
                   Py_ssize_t gm, Py_ssize_t gc, Py_ssize_t nct,
                   floating* lanes, floating* tail, double* gbl,
                   bint first, bint last) noexcept nogil:
    """One task of grad_weight: the channel blocks cb in [cb0, cb1) (output channels
    [cb*gm, cb*gm + gm) of group g) x the column tiles [sb*tps, ...) of (c_in, k),
    samples [n0, n1).  Per sample and GW_CHUNK columns of l, every block of the task
    runs over the same x rows while they are in L1/L2 (a task with one block streams
    all of x per block).  Each gw element is summed over n, then l-chunks, then lanes,
    in a fixed order that does not depend on how blocks are grouped into tasks.
    `lanes`, `tail` (and `gbl`, the bias gradient's lanes, for the tasks with sb == 0
    when gbp != NULL) hold the partial sums between calls: zeroed when `first`, reduced
    into gw (and gb) when `last`.  Sample n's x rows start at src_base + n*nstride
    (nstride 0: one sample's phase-split copy)."""
    cdef Py_ssize_t vl = NNL_VB // sizeof(floating)
    cdef Py_ssize_t nvec = Lout // vl, ltail = nvec * vl
    cdef Py_ssize_t tile_lanes = gm * gc * vl
    cdef Py_ssize_t tb = sb * tps, te = min(tb + tps, nct), nts = te - tb
    cdef Py_ssize_t n, l0, nv, tt, m, c, col, j, l, cb, mvalid, lo, to, bo
    cdef Py_ssize_t gbe = (Lout // GB_LANES) * GB_LANES, ncbt = cb1 - cb0
    cdef Py_ssize_t roff[NNL_GM]
    cdef Py_ssize_t moff[NNL_GM]
    cdef Py_ssize_t xoff[NNL_GC1]
    cdef floating gmask[NNL_GMV]
    cdef bint bias = gbp != NULL and sb == 0
    cdef const floating* gb
    cdef const floating* xb
    cdef floating a
    cdef double da
    if first:
        for j in range(ncbt * nts * tile_lanes):
            lanes[j] = 0
        for j in range(ncbt * nts * gm * gc):
            tail[j] = 0
        if bias:
            for j in range(ncbt * NNL_GM * (GB_LANES + 1)):
                gbl[j] = 0
    for n in range(n0, n1):
        xb = src_base + n * nstride + g * Cig * rowlen
        l0 = 0
        while l0 < nvec:
            nv = min(GW_CHUNK // vl, nvec - l0)
            for cb in range(cb0, cb1):
                mvalid = min(gm, Cog - cb * gm)
                # rows past the block's end repeat its last row; their sums are dropped
                for m in range(gm):
                    roff[m] = min(m, mvalid - 1) * Lout
                gb = gyp + (n * Cout + g * Cog + cb * gm) * Lout
                lo = (cb - cb0) * nts * tile_lanes
                for tt in range(tb, te):
                    for c in range(gc):
                        xoff[c] = off[min(tt * gc + c, R - 1)] + l0 * vl
                    if gm == 1:
                        _gw_tile1(lanes + lo + (tt - tb) * tile_lanes, gb + l0 * vl, xb, xoff, nv)
                    else:
                        _gw_tile(lanes + lo + (tt - tb) * tile_lanes, gb + l0 * vl, roff, xb,
                                 xoff, nv)
                if bias:
                    _gb_rows(gbl + (cb - cb0) * NNL_GM * (GB_LANES + 1), gb, mvalid, Lout,
                             min(l0 * vl, gbe), min((l0 + nv) * vl, gbe))
            l0 += nv
        for cb in range(cb0, cb1):
            mvalid = min(gm, Cog - cb * gm)
            gb = gyp + (n * Cout + g * Cog + cb * gm) * Lout
            to = (cb - cb0) * nts * gm * gc
            if ltail < Lout and nvec > 0:
                # the last vl columns, with gy zeroed where they overlap the vector
                # part: the tail through the tiles too, no scalar loop
                lo = (cb - cb0) * nts * tile_lanes
                for m in range(gm):
                    for j in range(vl):
                        l = Lout - vl + j
                        gmask[m * vl + j] = gb[min(m, mvalid - 1) * Lout + l] if l >= ltail else 0
                    moff[m] = m * vl
                for tt in range(tb, te):
                    for c in range(gc):
                        xoff[c] = off[min(tt * gc + c, R - 1)] + Lout - vl
                    if gm == 1:
                        _gw_tile1(lanes + lo + (tt - tb) * tile_lanes, gmask, xb, xoff, 1)
                    else:
                        _gw_tile(lanes + lo + (tt - tb) * tile_lanes, gmask, moff, xb, xoff, 1)
            elif ltail < Lout:
                for tt in range(tb, te):
                    for m in range(mvalid):
                        for c in range(gc):
                            col = min(tt * gc + c, R - 1)
                            a = tail[to + ((tt - tb) * gm + m) * gc + c]
                            for l in range(ltail, Lout):
                                a = a + gb[m * Lout + l] * xb[off[col] + l]
                            tail[to + ((tt - tb) * gm + m) * gc + c] = a
            if bias:
                bo = (cb - cb0) * NNL_GM * (GB_LANES + 1)
                _gb_rows(gbl + bo, gb, mvalid, Lout, min(nvec * vl, gbe), gbe)
                for m in range(mvalid):
                    da = gbl[bo + m * (GB_LANES + 1) + GB_LANES]
                    for l in range(gbe, Lout):
                        da = da + gb[m * Lout + l]
                    gbl[bo + m * (GB_LANES + 1) + GB_LANES] = da
    if not last:
        return
    for cb in range(cb0, cb1):
        mvalid = min(gm, Cog - cb * gm)
        lo = (cb - cb0) * nts * tile_lanes
        to = (cb - cb0) * nts * gm * gc
        for tt in range(tb, te):
            for m in range(mvalid):
                for c in range(gc):
                    col = tt * gc + c
                    if col < R:
                        a = 0
                        for j in range(vl):
                            a = a + lanes[lo + (tt - tb) * tile_lanes + (m * gc + c) * vl + j]
                        a = a + tail[to + ((tt - tb) * gm + m) * gc + c]
                        gwp[(g * Cog + cb * gm + m) * R + col] = a
        if bias:
            bo = (cb - cb0) * NNL_GM * (GB_LANES + 1)
            for m in range(mvalid):
                da = 0
                for j in range(GB_LANES + 1):
                    da = da + gbl[bo + m * (GB_LANES + 1) + j]
                gbp[g * Cog + cb * gm + m] = <floating>da


cdef void _gw_task_local(Py_ssize_t g, Py_ssize_t cb0, Py_ssize_t cb1, Py_ssize_t sb,
                         Py_ssize_t N, const floating* gyp, floating* gwp, floating* gbp,
                         const floating* src_base, Py_ssize_t nstride, const Py_ssize_t* off,
                         Py_ssize_t Cout, Py_ssize_t Cin, Py_ssize_t Cig, Py_ssize_t Cog,
                         Py_ssize_t K, Py_ssize_t R, Py_ssize_t rowlen, Py_ssize_t Lout,
                         Py_ssize_t gm, Py_ssize_t gc, Py_ssize_t nct,
                         Py_ssize_t lsz, Py_ssize_t tsz, Py_ssize_t gsz) noexcept nogil:
    """_gw_task over all samples at once, partial sums in a task-local buffer."""
    cdef floating* lanes = <floating*>malloc((lsz + tsz) * sizeof(floating) + gsz * sizeof(double))
    _gw_task(g, cb0, cb1, sb, GW_SUPER, 0, N, gyp, gwp, gbp, src_base, nstride, off, Cout, Cin, Cig,
             Cog, K, R, rowlen, Lout, gm, gc, nct, lanes, lanes + lsz,
             <double*>(lanes + lsz + tsz), True, True)
    free(lanes)


cdef void _gw_task_split(Py_ssize_t g, Py_ssize_t sb, Py_ssize_t tps, Py_ssize_t ncb,
                         Py_ssize_t N, const floating* xp, Py_ssize_t L, Py_ssize_t pl,
                         Py_ssize_t s,
                         Py_ssize_t Lq, const floating* gyp, floating* gwp, floating* gbp,
                         const Py_ssize_t* off, Py_ssize_t Cout, Py_ssize_t Cin, Py_ssize_t Cig,
                         Py_ssize_t Cog, Py_ssize_t K, Py_ssize_t R, Py_ssize_t Lout,
                         Py_ssize_t gm, Py_ssize_t gc, Py_ssize_t nct) noexcept nogil:
    """Stride > 1 or padding: every channel block of group g x the column tiles
    [sb*tps, ...).  Sample by sample, the task copies the x rows its columns read, zero
    padded (pl zeros first, rows of L elements) and split into their stride phases, into a
    task-local buffer (like the forward), then adds the sample to its partial sums."""
    cdef Py_ssize_t tb = sb * tps, te = min(tb + tps, nct), nts = te - tb
    cdef Py_ssize_t ci0 = (tb * gc) // K, ci1 = (min(te * gc, R) - 1) // K + 1
    cdef Py_ssize_t lsz = ncb * nts * gm * gc * (NNL_VB // sizeof(floating))
    cdef Py_ssize_t tsz = ncb * nts * gm * gc, gsz = ncb * NNL_GM * (GB_LANES + 1)
    cdef Py_ssize_t rowlen = s * Lq, n, ci, p, q, i
    cdef floating* lanes = <floating*>malloc((lsz + tsz + (ci1 - ci0) * rowlen) * sizeof(floating)
                                             + gsz * sizeof(double) + 64)
    cdef double* gbl = <double*>(lanes + lsz + tsz)
    cdef floating* buf = <floating*>(gbl + gsz)
    cdef const floating* xr
    cdef floating* bo
    for n in range(N):
        for ci in range(ci0, ci1):
            xr = xp + (n * Cin + g * Cig + ci) * L - pl
            for p in range(s):
                bo = buf + (ci - ci0) * rowlen + p * Lq
                if s == 1:
                    for q in range(pl):
                        bo[q] = 0
                    memcpy(bo + pl, xr + pl, L * sizeof(floating))
                    for q in range(pl + L, Lq):
                        bo[q] = 0
                elif s == 2 and pl == 0 and 2 * Lq <= L:
                    for q in range(Lq):
                        bo[q] = xr[2 * q + p]
                else:
                    for q in range(Lq):
                        i = q * s + p
                        bo[q] = xr[i] if pl <= i < pl + L else 0
        _gw_task(g, 0, ncb, sb, tps, n, n + 1, gyp, gwp, gbp,
                 buf - (g * Cig + ci0) * rowlen, 0, off, Cout, Cin, Cig, Cog, K, R, rowlen,
                 Lout, gm, gc, nct, lanes, lanes + lsz, gbl, n == 0, n == N - 1)
    free(lanes)


cdef void _gb_channel(const floating* gyp, floating* gbp, Py_ssize_t co, Py_ssize_t N,
                      Py_ssize_t Cout, Py_ssize_t Lout, Py_ssize_t gbe) noexcept nogil:
    cdef double acc[GB_LANES + 1]
    cdef double da
    cdef Py_ssize_t n, l, j
    for j in range(GB_LANES + 1):
        acc[j] = 0
    for n in range(N):
        _gb_rows(acc, gyp + (n * Cout + co) * Lout, 1, Lout, 0, gbe)
        da = acc[GB_LANES]
        for l in range(gbe, Lout):
            da = da + gyp[(n * Cout + co) * Lout + l]
        acc[GB_LANES] = da
    da = 0
    for j in range(GB_LANES + 1):
        da = da + acc[j]
    gbp[co] = <floating>da



# ------------------------------------------------------- grad weight, packed (GEMM) form
#
# gw[co, r] = sum_p gyT[p, co] * X[p, r] over p = (n, l), r = (c_in, k): the correlation
# tile of the forward with rows m = r (X packed per task, MR rows interleaved, zeros in
# the padding) and columns j = co read from a transposed copy of gy (each group's
# columns padded with zeros to a multiple of the tile width, stored as panels of one
# tile's width so that a tile reads contiguous memory: a row-major gyT made every step
# of the reduction touch a new cache line W floats away, 1.1-1.6x slower).  p is cut into fixed
# chunks of GW_PC (x packed one chunk at a time); the tile goes on from the task's
# accumulators chunk after chunk, so every element is summed in the order of p whatever the
# task grid or thread count.

DEF GW_PC = 256          # reduction columns (n, l) per chunk of the packed grad weight


cdef void _gw_pack(floating* wp, const floating* xg, Py_ssize_t Cin, Py_ssize_t L,
                   Py_ssize_t Lout, Py_ssize_t K, Py_ssize_t R, Py_ssize_t r0, Py_ssize_t s,
                   Py_ssize_t d, Py_ssize_t pl, Py_ssize_t p0, Py_ssize_t p1) noexcept nogil:
    """wp[(p - p0)*MR + m] = xp[n, ci, l*s + k*d] for r0 + m = ci*K + k, p = n*Lout + l in
    [p0, p1): xg's rows (the group's first channel) padded with pl zeros in front; rows
    past R are zero."""
    cdef Py_ssize_t m, r, e, p, n, l, l1, la, lb, q
    cdef const floating* xr
    cdef floating* o
    for m in range(NNL_MR):
        r = r0 + m
        if r >= R:
            for q in range(p1 - p0):
                wp[q * NNL_MR + m] = 0
            continue
        e = (r % K) * d - pl          # x index of column l is l*s + e
        la = (-e + s - 1) // s if e < 0 else 0
        lb = (L - 1 - e) // s + 1 if L - 1 - e >= 0 else 0
        p = p0
        while p < p1:
            n = p // Lout
            l = p - n * Lout
            l1 = min(Lout, l + p1 - p)
            xr = xg + (n * Cin + r // K) * L + e
            o = wp + (p - p0 - l) * NNL_MR + m    # o[q*MR] holds column q of sample n
            for q in range(l, min(l1, la)):
                o[q * NNL_MR] = 0
            for q in range(max(l, la), min(l1, lb)):
                o[q * NNL_MR] = xr[q * s]
            for q in range(max(l, lb), l1):
                o[q * NNL_MR] = 0
            p += l1 - l


cdef void _gy_transpose(const floating* gy, floating* gyT, floating* gbp, Py_ssize_t N,
                        Py_ssize_t Cout, Py_ssize_t Lout, Py_ssize_t Cog, Py_ssize_t Cpad,
                        Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """Padded columns [c0, c1) of gy transposed into panels of nr columns:
    gyT[(c // nr) * N*Lout*nr + (n*Lout + l) * nr + c % nr] = gy[n, g*Cog + j, l] for
    c = g*Cpad + j (0 for j >= Cog), so that a tile reads one contiguous panel; with gbp,
    also the bias gradient of those channels."""
    cdef Py_ssize_t nr = NNL_NV * NNL_VB // sizeof(floating), NL = N * Lout
    cdef Py_ssize_t n, l0, l1, c, l, j, co, gbe = (Lout // GB_LANES) * GB_LANES
    cdef const floating* gr
    cdef floating* o
    for n in range(N):
        for l0 in range(0, Lout, 64):
            l1 = min(Lout, l0 + 64)
            for c in range(c0, c1):
                j = c % Cpad
                o = gyT + (c // nr) * NL * nr + n * Lout * nr + c % nr
                if j >= Cog:
                    for l in range(l0, l1):
                        o[l * nr] = 0
                    continue
                gr = gy + (n * Cout + (c // Cpad) * Cog + j) * Lout
                for l in range(l0, l1):
                    o[l * nr] = gr[l]
    if gbp != NULL:
        for c in range(c0, c1):
            j = c % Cpad
            if j < Cog:
                _gb_channel(gy, gbp, (c // Cpad) * Cog + j, N, Cout, Lout, gbe)


cdef inline Py_ssize_t _packed_scratch(Py_ssize_t nrb, Py_ssize_t njt, Py_ssize_t nr) noexcept nogil:
    """Elements of one packed grad-weight task's scratch: packed x, accumulators, zeros."""
    return nrb * GW_PC * NNL_MR + nrb * NNL_MR * njt * nr + NNL_MR


cdef void _gw_packed_task(Py_ssize_t g, Py_ssize_t rb0, Py_ssize_t rb1, Py_ssize_t jt0,
                          Py_ssize_t jt1, const floating* xp, const floating* gyT,
                          floating* gwp, const Py_ssize_t* off, Py_ssize_t W, Py_ssize_t Cpad,
                          Py_ssize_t Cin, Py_ssize_t L, Py_ssize_t Lout, Py_ssize_t NL,
                          Py_ssize_t Cig, Py_ssize_t Cog, Py_ssize_t K, Py_ssize_t R,
                          Py_ssize_t s, Py_ssize_t d, Py_ssize_t pl,
                          floating* wp) noexcept nogil:
    """Rows (c_in, k) [rb0*MR, rb1*MR) x columns c_out [jt0*nr, jt1*nr) of group g.  `wp`:
    the task's scratch, _packed_scratch(rb1 - rb0, jt1 - jt0) elements."""
    cdef Py_ssize_t nr = NNL_NV * NNL_VB // sizeof(floating)
    cdef Py_ssize_t nrb = rb1 - rb0, ncols = (jt1 - jt0) * nr
    cdef Py_ssize_t p0, P, rb, jt, m, j, r, co
    cdef floating* acc = wp + nrb * GW_PC * NNL_MR
    cdef floating* zeros = acc + nrb * NNL_MR * ncols
    for m in range(NNL_MR):
        zeros[m] = 0
    for p0 in range(0, NL, GW_PC):
        P = min(GW_PC, NL - p0)
        for rb in range(nrb):
            _gw_pack(wp + rb * GW_PC * NNL_MR, xp + g * Cig * L, Cin, L, Lout, K, R,
                     (rb0 + rb) * NNL_MR, s, d, pl, p0, p0 + P)
        for jt in range(jt0, jt1):
            for rb in range(nrb):
                # the first chunk starts from zeros, the others go on from the sums in acc
                _tile(acc + rb * NNL_MR * ncols + (jt - jt0) * nr, ncols, NNL_MR,
                      gyT + ((g * Cpad) // nr + jt) * NL * nr + p0 * nr, off,
                      wp + rb * GW_PC * NNL_MR, P, zeros if p0 == 0 else NULL)
    for rb in range(nrb):
        for m in range(NNL_MR):
            r = (rb0 + rb) * NNL_MR + m
            if r >= R:
                break
            for j in range(ncols):
                co = jt0 * nr + j
                if co >= Cog:
                    break
                gwp[(g * Cog + co) * R + r] = acc[(rb * NNL_MR + m) * ncols + j]


cdef int _grad_weight_packed(const floating* xp, const floating* gyp, floating* gwp,
                             floating* gbp, Py_ssize_t N, Py_ssize_t Cin, Py_ssize_t L,
                             Py_ssize_t Cout, Py_ssize_t Lout, Py_ssize_t G, Py_ssize_t Cig,
                             Py_ssize_t K, Py_ssize_t s, Py_ssize_t d, Py_ssize_t pl,
                             int num_threads) except -1:
    cdef Py_ssize_t nr = NNL_NV * NNL_VB // sizeof(floating)
    cdef Py_ssize_t Cog = Cout // G, R = Cig * K, NL = N * Lout
    cdef Py_ssize_t Cpad = (Cog + nr - 1) // nr * nr, W = G * Cpad
    cdef Py_ssize_t nrb = (R + NNL_MR - 1) // NNL_MR, njt = Cpad // nr
    cdef Py_ssize_t rbt, jtt, nrg, njg, tasks, t, g, rg, jg, i, ncb
    cdef Py_ssize_t* off = <Py_ssize_t*>_alloc(GW_PC, sizeof(Py_ssize_t))
    cdef floating* gyT = NULL
    cdef floating* scratch = NULL
    cdef Py_ssize_t per
    cdef int nt
    try:
        gyT = <floating*>_alloc(NL * W, sizeof(floating))
        for i in range(GW_PC):
            off[i] = i * nr
        # gy transposed (and the bias gradient), GB_LANES padded columns per task
        ncb = (W + GB_LANES - 1) // GB_LANES
        nt = _nt(num_threads, ncb, NL * W)
        if nt == 1:
            with nogil:
                for t in range(ncb):
                    _gy_transpose(gyp, gyT, gbp, N, Cout, Lout, Cog, Cpad, t * GB_LANES,
                                  min(W, t * GB_LANES + GB_LANES))
        else:
            with nogil, parallel(num_threads=nt):
                for t in prange(ncb, schedule="static"):
                    _gy_transpose(gyp, gyT, gbp, N, Cout, Lout, Cog, Cpad, t * GB_LANES,
                                  min(W, t * GB_LANES + GB_LANES))
        # task grid: up to 4 row blocks (X reused from L1/L2 across the column tiles)
        # while that leaves about 4 tasks per thread, then column tiles split too;
        # the grid changes no result, only the traffic
        rbt = max(1, min(4, G * nrb // (4 * max(num_threads, 1))))
        nrg = (nrb + rbt - 1) // rbt
        jtt = njt
        if G * nrg < 4 * num_threads:
            jtt = max(1, njt * G * nrg // (4 * num_threads))
        njg = (njt + jtt - 1) // jtt
        tasks = G * nrg * njg
        nt = _nt(num_threads, tasks, NL * Cout * R)
        # every task's scratch, allocated here so that a failure raises MemoryError
        per = _packed_scratch(rbt, jtt, nr)
        scratch = <floating*>_alloc(tasks * per, sizeof(floating))
        if nt == 1:
            with nogil:
                for t in range(tasks):
                    g = t // (nrg * njg)
                    rg = (t // njg) % nrg
                    jg = t % njg
                    _gw_packed_task(g, rg * rbt, min(nrb, rg * rbt + rbt), jg * jtt,
                                    min(njt, jg * jtt + jtt), xp, gyT, gwp, off, W, Cpad, Cin,
                                    L, Lout, NL, Cig, Cog, K, R, s, d, pl, scratch + t * per)
        else:
            with nogil, parallel(num_threads=nt):
                for t in prange(tasks, schedule="static"):
                    g = t // (nrg * njg)
                    rg = (t // njg) % nrg
                    jg = t % njg
                    _gw_packed_task(g, rg * rbt, min(nrb, rg * rbt + rbt), jg * jtt,
                                    min(njt, jg * jtt + jtt), xp, gyT, gwp, off, W, Cpad, Cin,
                                    L, Lout, NL, Cig, Cog, K, R, s, d, pl, scratch + t * per)
    finally:
        free(off)
        free(gyT)
        free(scratch)
    return 0


@cython.boundscheck(False)
@cython.wraparound(False)
def grad_weight(const floating[:, :, ::1] x,    # IN  (N, C_in, Lp)
                const floating[:, :, ::1] gy,   # IN  (N, C_out, L_out)
                floating[:, :, ::1] gw,         # OUT (C_out, C_in/groups, K), overwritten
                int stride, int dilation, int groups, int num_threads,
                floating[::1] gbias=None,       # OUT (C_out,) or None: also the bias gradient
                Py_ssize_t pad_left=0, Py_ssize_t pad_right=0, int form=-1):
    """gw[o, c, k] = sum_{n, l} gy[n, o, l] * x[n, g*C_in/groups + c, l*stride + k*dilation]
    (and gbias[o] = sum_{n, l} gy[n, o, l] in the same pass over gy).

    Two forms: the lane form (vectors along l, below) and the packed form (the forward's
    tile over a transposed gy, see _grad_weight_packed).  `form` 0 or 1 forces one;
    -1 picks by shape: on AVX-512, packed for 64+ output channels per group, 256+ (c_in, k)
    rows and short rows (L_out <= 1024, N*L_out <= 16384), where the lane form's per-sample
    and per-row overheads dominate (measured 1.8-2.7x faster at N*L_out ~ 750, slower at
    N*L_out >= 8192 and below 64 channels); on AVX2 and the base build, packed for 2+ output
    channels per group (on Zen 3 the lane form's 3 x 3 tile ran 1.4-25x slower than the
    packed form on every shared benchmark shape and every zoo layer but depthwise).

    Lane form, stride > 1 or padding: each task splits the x rows it reads into their
    stride phases, sample by sample, in a task-local buffer (no full-size copy of x)."""
    cdef Py_ssize_t N = x.shape[0], Cin = x.shape[1], L = x.shape[2], pl = pad_left
    cdef Py_ssize_t Lp = L + pad_left + pad_right
    cdef Py_ssize_t Cout = gw.shape[0], Cig = gw.shape[1], K = gw.shape[2]
    cdef Py_ssize_t Lout = gy.shape[2], s = stride, d = dilation, G = groups
    cdef Py_ssize_t Cog = Cout // G, R = Cig * K
    cdef Py_ssize_t Lq = (Lp + s - 1) // s, rowlen = Lp
    cdef Py_ssize_t gm = NNL_GM if Cog > 1 else 1
    cdef Py_ssize_t gc = NNL_GC if Cog > 1 else NNL_GC1
    cdef Py_ssize_t ncb = (Cog + gm - 1) // gm, nct = (R + gc - 1) // gc
    cdef Py_ssize_t nsb = (nct + GW_SUPER - 1) // GW_SUPER
    # channel blocks per task: as many as keep ~8 tasks per thread (x rows reused across
    # the blocks of a task); the grouping changes no result, only the traffic
    cdef Py_ssize_t cbt = max(1, min(GW_CB, (G * ncb * nsb) // (8 * max(num_threads, 1))))
    cdef Py_ssize_t ncg = (ncb + cbt - 1) // cbt
    cdef Py_ssize_t tasks = G * ncg * nsb
    cdef Py_ssize_t t, ci, k, co, tps
    cdef Py_ssize_t lsz = cbt * GW_SUPER * NNL_ACC_GWMAX, tsz = cbt * GW_SUPER * NNL_GC1 * NNL_GM
    cdef Py_ssize_t gsz = cbt * NNL_GM * (GB_LANES + 1)
    cdef Py_ssize_t* off = NULL
    cdef floating* gbp = NULL
    cdef int nt
    if pad_left < 0 or pad_right < 0:
        raise ValueError("conv1d: negative padding")
    if N and Lout > 0 and Lout > (Lp - d * (K - 1) - 1) // s + 1:
        raise ValueError("conv1d: gy longer than the padded input allows")
    if gbias is not None:
        if gbias.shape[0] != Cout:
            raise ValueError("grad_weight: gbias must have C_out elements")
        if Cout:
            gbp = &gbias[0]
    if Cout == 0:
        return
    if N == 0 or Lout <= 0:
        with nogil:
            for co in range(Cout):
                if gbp != NULL:
                    gbp[co] = 0
                for ci in range(Cig):
                    for k in range(K):
                        gw[co, ci, k] = 0
        return
    if R == 0:
        return
    if form == 1 or (form < 0 and (
            (NNL_VB < 64 and Cog >= 2) or
            (Cog >= 64 and R >= 256 and Lout <= 1024 and N * Lout <= 16384))):
        _grad_weight_packed(&x[0, 0, 0], &gy[0, 0, 0], &gw[0, 0, 0], gbp, N, Cin, L, Cout, Lout,
                            G, Cig, K, s, d, pl, num_threads)
        return
    off = <Py_ssize_t*>_alloc(R, sizeof(Py_ssize_t))
    try:
        if s > 1 or Lp > L:
            rowlen = s * Lq
        for ci in range(Cig):
            for k in range(K):
                off[ci * K + k] = ci * rowlen + ((k * d) % s) * Lq + (k * d) // s
        nt = _nt(num_threads, tasks, N * Cout * Lout * Cig * K)
        if s == 1 and Lp == L:
            if nt == 1:  # no OpenMP region: starting one costs ~1 us
                with nogil:
                    for t in range(tasks):
                        _gw_task_local(t // (ncg * nsb), ((t // nsb) % ncg) * cbt,
                                       min(ncb, ((t // nsb) % ncg + 1) * cbt), t % nsb, N,
                                       &gy[0, 0, 0], &gw[0, 0, 0], gbp, &x[0, 0, 0], Cin * Lp,
                                       off, Cout, Cin, Cig, Cog, K, R, rowlen, Lout, gm, gc, nct,
                                       lsz, tsz, gsz)
            else:
                with nogil, parallel(num_threads=nt):
                    for t in prange(tasks, schedule="static"):
                        _gw_task_local(t // (ncg * nsb), ((t // nsb) % ncg) * cbt,
                                       min(ncb, ((t // nsb) % ncg + 1) * cbt), t % nsb, N,
                                       &gy[0, 0, 0], &gw[0, 0, 0], gbp, &x[0, 0, 0], Cin * Lp,
                                       off, Cout, Cin, Cig, Cog, K, R, rowlen, Lout, gm, gc, nct,
                                       lsz, tsz, gsz)
            return
        # every channel block in each task (x split once per task and sample); the
        # column tiles cut into about 4 tasks per thread
        tps = max(1, (nct + 4 * num_threads - 1) // (4 * max(num_threads, 1)))
        nsb = (nct + tps - 1) // tps
        tasks = G * nsb
        nt = _nt(num_threads, tasks, N * Cout * Lout * Cig * K)
        if nt == 1:  # no OpenMP region: starting one costs ~1 us
            with nogil:
                for t in range(tasks):
                    _gw_task_split(t // nsb, t % nsb, tps, ncb, N, &x[0, 0, 0], L, pl, s, Lq,
                                   &gy[0, 0, 0], &gw[0, 0, 0], gbp, off, Cout, Cin, Cig, Cog,
                                   K, R, Lout, gm, gc, nct)
        else:
            with nogil, parallel(num_threads=nt):
                for t in prange(tasks, schedule="static"):
                    _gw_task_split(t // nsb, t % nsb, tps, ncb, N, &x[0, 0, 0], L, pl, s, Lq,
                                   &gy[0, 0, 0], &gw[0, 0, 0], gbp, off, Cout, Cin, Cig, Cog,
                                   K, R, Lout, gm, gc, nct)
    finally:
        free(off)


# ---------------------------------------------------------------- grad bias

@cython.boundscheck(False)
@cython.wraparound(False)
def grad_bias(const floating[:, :, ::1] gy,   # IN  (N, C_out, L_out)
              floating[::1] gb,               # OUT (C_out,)
              int num_threads):
    """gb[o] = sum_{n, l} gy[n, o, l]: GB_LANES double lanes per channel, then a fixed-order
    horizontal sum; the same order as grad_weight's fused bias gradient (bitwise equal)."""
    cdef Py_ssize_t N = gy.shape[0], Cout = gy.shape[1], Lout = gy.shape[2]
    cdef Py_ssize_t gbe = (Lout // GB_LANES) * GB_LANES, co
    cdef int nt = _nt(num_threads, Cout, N * Cout * Lout // 4)
    if Cout == 0:
        return
    if N == 0 or Lout == 0:
        for co in range(Cout):
            gb[co] = 0
        return
    if nt == 1:  # no OpenMP region: starting one costs ~1 us
        with nogil:
            for co in range(Cout):
                _gb_channel(&gy[0, 0, 0], &gb[0], co, N, Cout, Lout, gbe)
    else:
        with nogil, parallel(num_threads=nt):
            for co in prange(Cout, schedule="static"):
                _gb_channel(&gy[0, 0, 0], &gb[0], co, N, Cout, Lout, gbe)
