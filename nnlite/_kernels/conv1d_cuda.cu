// Conv1d on the GPU: forward, input gradient, weight gradient, bias gradient.
//
// Compiled at run time by CuPy (NVRTC) as one RawModule; every kernel is a template over
// the element type T (float or double) and is named through CuPy's name_expressions,
// e.g. "conv1d_forward<float, 4>".  No standard headers: NVRTC has none by default.
//
// Layouts (C-contiguous, checked by conv1d_cuda.py before any launch):
//   x  (N, C_in, Lp)       the input, already padded
//   w  (C_out, Cg, K)      Cg = C_in / groups, Og = C_out / groups
//   y  (N, C_out, L_out)   L_out = (Lp - dilation*(K-1) - 1) / stride + 1
//
// The general kernels are implicit GEMMs, one output tile per block and 256 threads
// (16 x 16), each thread owning a TM x TN register tile of outputs:
//   forward      y[o, l]        = sum over (c, k)  w[o, (c, k)]  * x[c, l*s + k*d]
//   grad input   gx[c, p]       = sum over (o, k)  w[o, (c, k)]  * gy[o, (p - k*d) / s]
//   grad weight  gw[o, (c, k)]  = sum over (n, l)  gy[n, o, l]   * x[n, c, l*s + k*d]
// The operand tiles are staged in shared memory; the loads that walk along L are
// coalesced (consecutive threads read consecutive positions).  A tile's reduction runs
// in a fixed order, and reductions split across blocks (grad weight, grad bias, the
// depthwise grad weight) write per-split partial sums that conv1d_sum_splits adds in
// split order: no atomics anywhere, so every result is bitwise reproducible run to run.
//
// Sizes that can pass 2^31 (batch, lengths, element offsets) are 64-bit; channel
// counts, K, stride, dilation and groups are int (conv1d_cuda.py checks they fit, and
// that Cg*K and Og*K fit too).

#define NNL_THREADS 256

// q / s when q >= 0 and s divides q, else -1 (grad input: which output a tap came from).
__device__ __forceinline__ long long nnl_exact_div(long long q, int s)
{
    if (q < 0) return -1;
    if (s == 1) return q;
    if (q <= 0x7fffffffLL) {  // 32-bit division is several times cheaper than 64-bit
        const unsigned int uq = (unsigned int)q, us = (unsigned int)s;
        const unsigned int l = uq / us;
        return l * us == uq ? (long long)l : -1;
    }
    const long long l = q / s;
    return l * s == q ? l : -1;
}

// floor(a / s) for s > 0 and any sign of a.
__device__ __forceinline__ long long nnl_floor_div(long long a, int s)
{
    return a >= 0 ? a / s : -((-a + s - 1) / s);
}

// acc[i][j] += A[kk][ty*TM + i] * B[kk][tx + 16*j] over one staged reduction chunk.
template <typename T, int TM, int TN, int BK, int LDA, int LDB>
__device__ __forceinline__ void nnl_tile_fma(const T (*As)[LDA], const T (*Bs)[LDB], T (&acc)[TM][TN],
                                             int tx, int ty)
{
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
        T a[TM], b[TN];
#pragma unroll
        for (int i = 0; i < TM; ++i) a[i] = As[kk][ty * TM + i];
#pragma unroll
        for (int j = 0; j < TN; ++j) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
            for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
    }
}

// ---------------------------------------------------------------------------------------
// Forward.  Tile: BM = 16*TM output channels (of one group) x 128 output positions of one
// sample; reduction over (c, k) in chunks of 16.  Grid-stride loop over the tiles.
// ---------------------------------------------------------------------------------------
template <typename T, int TM>
__global__ void __launch_bounds__(NNL_THREADS)
conv1d_forward(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
               T* __restrict__ y, long long n_batch, int c_in, int c_out, long long lp, long long l_out,
               int k_size, int stride, int dilation, int groups, int has_bias)
{
    constexpr int TN = 8, BM = 16 * TM, BN = 16 * TN, BK = 16;
    __shared__ T As[BK][BM + 1];         // weights, transposed; odd row length: no bank conflicts
    __shared__ T Bs[BK][BN];             // input, im2col'd: Bs[kk][j] = x[c, (l0+j)*s + k*d]
    __shared__ long long xoff[BK];       // (c, k) of each reduction row -> c*Lp + k*d, or -1

    const int cg = c_in / groups, og = c_out / groups, red = cg * k_size;
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const long long m_tiles = (og + BM - 1) / BM, l_tiles = (l_out + BN - 1) / BN;
    const long long n_tiles = n_batch * groups * m_tiles * l_tiles;

    for (long long tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
        long long t = tile;
        const long long l0 = (t % l_tiles) * BN; t /= l_tiles;
        const int o0 = (int)(t % m_tiles) * BM; t /= m_tiles;
        const int g = (int)(t % groups);
        const long long n = t / groups;
        const T* xg = x + (n * c_in + (long long)g * cg) * lp;
        const T* wg = w + (long long)g * og * red;

        T acc[TM][TN];
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
            for (int j = 0; j < TN; ++j) acc[i][j] = T(0);

        const int j_own = tid % BN;      // every Bs element this thread loads is in column j_own
        const long long l_own = l0 + j_own;
        for (int r0 = 0; r0 < red; r0 += BK) {
            if (tid < BK) {
                const int r = r0 + tid, c = r / k_size, k = r - c * k_size;
                xoff[tid] = r < red ? (long long)c * lp + (long long)k * dilation : -1;
            }
            __syncthreads();
#pragma unroll
            for (int e = tid; e < BM * BK; e += NNL_THREADS) {
                const int m = e / BK, kk = e % BK, o = o0 + m, r = r0 + kk;
                As[kk][m] = (o < og && r < red) ? wg[(long long)o * red + r] : T(0);
            }
#pragma unroll
            for (int e = tid; e < BN * BK; e += NNL_THREADS) {
                const int kk = e / BN;
                const long long off = xoff[kk];
                Bs[kk][j_own] = (off >= 0 && l_own < l_out) ? xg[off + l_own * stride] : T(0);
            }
            __syncthreads();
            nnl_tile_fma<T, TM, TN, BK, BM + 1, BN>(As, Bs, acc, tx, ty);
            // no third barrier: the next chunk writes only xoff before its first barrier,
            // and nothing reads xoff after this chunk's second barrier
        }
        __syncthreads();  // the next tile's loads must not overwrite As/Bs still being read

#pragma unroll
        for (int i = 0; i < TM; ++i) {
            const int o = o0 + ty * TM + i;
            if (o >= og) continue;
            const long long oc = (long long)g * og + o;
            const T b = has_bias ? bias[oc] : T(0);
            T* yrow = y + (n * c_out + oc) * l_out;
#pragma unroll
            for (int j = 0; j < TN; ++j) {
                const long long l = l0 + tx + 16 * j;
                if (l < l_out) yrow[l] = acc[i][j] + b;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Input gradient.  Tile: BM = 16*TM input channels (of one group) x 128 padded positions
// of one sample; reduction over (o, k) in chunks of 16.  Every element of gx is written
// (positions no output reads get 0).
// ---------------------------------------------------------------------------------------
template <typename T, int TM>
__global__ void __launch_bounds__(NNL_THREADS)
conv1d_grad_input(const T* __restrict__ gy, const T* __restrict__ w, T* __restrict__ gx,
                  long long n_batch, int c_in, int c_out, long long lp, long long l_out,
                  int k_size, int stride, int dilation, int groups)
{
    constexpr int TN = 8, BM = 16 * TM, BN = 16 * TN, BK = 16;
    __shared__ T As[BK][BM + 1];         // As[kk][m] = w[o, c0 + m, k]
    __shared__ T Bs[BK][BN];             // Bs[kk][j] = gy[o, (p0 + j - k*d) / s] or 0
    __shared__ long long gyoff[BK];      // o*L_out, or -1 past the reduction
    __shared__ long long kd[BK];         // k*d
    __shared__ long long woff[BK];       // o*Cg*K + k

    const int cg = c_in / groups, og = c_out / groups, red = og * k_size;
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const long long m_tiles = (cg + BM - 1) / BM, p_tiles = (lp + BN - 1) / BN;
    const long long n_tiles = n_batch * groups * m_tiles * p_tiles;

    for (long long tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
        long long t = tile;
        const long long p0 = (t % p_tiles) * BN; t /= p_tiles;
        const int c0 = (int)(t % m_tiles) * BM; t /= m_tiles;
        const int g = (int)(t % groups);
        const long long n = t / groups;
        const T* gyg = gy + (n * c_out + (long long)g * og) * l_out;
        const T* wg = w + (long long)g * og * cg * k_size;

        T acc[TM][TN];
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
            for (int j = 0; j < TN; ++j) acc[i][j] = T(0);

        const int j_own = tid % BN;
        const long long p_own = p0 + j_own;
        for (int r0 = 0; r0 < red; r0 += BK) {
            if (tid < BK) {
                const int r = r0 + tid, o = r / k_size, k = r - o * k_size;
                gyoff[tid] = r < red ? (long long)o * l_out : -1;
                kd[tid] = (long long)k * dilation;
                woff[tid] = (long long)o * cg * k_size + k;
            }
            __syncthreads();
#pragma unroll
            for (int e = tid; e < BM * BK; e += NNL_THREADS) {
                const int m = e / BK, kk = e % BK, c = c0 + m;
                As[kk][m] = (c < cg && gyoff[kk] >= 0) ? wg[woff[kk] + (long long)c * k_size] : T(0);
            }
#pragma unroll
            for (int e = tid; e < BN * BK; e += NNL_THREADS) {
                const int kk = e / BN;
                T v = T(0);
                if (gyoff[kk] >= 0 && p_own < lp) {
                    const long long l = nnl_exact_div(p_own - kd[kk], stride);
                    if (l >= 0 && l < l_out) v = gyg[gyoff[kk] + l];
                }
                Bs[kk][j_own] = v;
            }
            __syncthreads();
            nnl_tile_fma<T, TM, TN, BK, BM + 1, BN>(As, Bs, acc, tx, ty);
        }
        __syncthreads();

#pragma unroll
        for (int i = 0; i < TM; ++i) {
            const int c = c0 + ty * TM + i;
            if (c >= cg) continue;
            T* gxrow = gx + (n * c_in + (long long)g * cg + c) * lp;
#pragma unroll
            for (int j = 0; j < TN; ++j) {
                const long long p = p0 + tx + 16 * j;
                if (p < lp) gxrow[p] = acc[i][j];
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Weight gradient.  Tile: BM = 16*TM output channels (of one group) x 64 (c, k) pairs;
// reduction over r = n*L_out + l in chunks of 32, restricted to this block's split
// [split*chunk, min(R, (split+1)*chunk)).  Writes out[split, g*Og + o, pair], which is gw
// itself when there is one split, else the partial sums for conv1d_sum_splits.
// ---------------------------------------------------------------------------------------
template <typename T, int TM>
__global__ void __launch_bounds__(NNL_THREADS)
conv1d_grad_weight(const T* __restrict__ x, const T* __restrict__ gy, T* __restrict__ out,
                   long long n_batch, int c_in, int c_out, long long lp, long long l_out,
                   int k_size, int stride, int dilation, int groups, long long splits, long long chunk)
{
    constexpr int TN = 4, BM = 16 * TM, BN = 16 * TN, BK = 32;
    __shared__ T As[BK][BM + 1];         // As[kk][m] = gy[n, o0 + m, l]
    __shared__ T Bs[BK][BN + 1];         // Bs[kk][jj] = x[n, c, l*s + k*d] for pair p0 + jj

    const int cg = c_in / groups, og = c_out / groups, pairs = cg * k_size;
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const int lane = tid & 31, warp = tid >> 5;   // this thread always loads reduction row kk = lane
    const long long r_total = n_batch * l_out;
    const long long m_tiles = (og + BM - 1) / BM, q_tiles = (pairs + BN - 1) / BN;
    const long long n_tiles = (long long)groups * m_tiles * q_tiles * splits;

    for (long long tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
        long long t = tile;
        const long long split = t % splits; t /= splits;
        const int q0 = (int)(t % q_tiles) * BN; t /= q_tiles;
        const int o0 = (int)(t % m_tiles) * BM;
        const int g = (int)(t / m_tiles);
        const long long r_beg = split * chunk;
        const long long r_end = r_beg + chunk < r_total ? r_beg + chunk : r_total;

        // Per-thread constants: the pair column offsets (c*Lp + k*d) and channel rows it loads.
        constexpr int BLOADS = BN * BK / NNL_THREADS, ALOADS = BM * BK / NNL_THREADS;
        long long boff[BLOADS];
#pragma unroll
        for (int s = 0; s < BLOADS; ++s) {
            const int q = q0 + warp + 8 * s, c = q / k_size, k = q - c * k_size;
            boff[s] = q < pairs ? ((long long)g * cg + c) * lp + (long long)k * dilation : -1;
        }
        long long aoff[ALOADS];
#pragma unroll
        for (int s = 0; s < ALOADS; ++s) {
            const int o = o0 + warp + 8 * s;
            aoff[s] = o < og ? ((long long)g * og + o) * l_out : -1;
        }

        T acc[TM][TN];
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
            for (int j = 0; j < TN; ++j) acc[i][j] = T(0);

        // (n, l) of this thread's reduction row, advanced without a division per step
        long long r = r_beg + lane, n = r / l_out, l = r - n * l_out;
        for (long long r0 = r_beg; r0 < r_end; r0 += BK) {
            const bool live = r < r_end;
            const T* gyn = gy + n * c_out * l_out;
            const T* xn = x + n * c_in * lp + l * stride;
#pragma unroll
            for (int s = 0; s < ALOADS; ++s)
                As[lane][warp + 8 * s] = (live && aoff[s] >= 0) ? gyn[aoff[s] + l] : T(0);
#pragma unroll
            for (int s = 0; s < BLOADS; ++s)
                Bs[lane][warp + 8 * s] = (live && boff[s] >= 0) ? xn[boff[s]] : T(0);
            __syncthreads();
            nnl_tile_fma<T, TM, TN, BK, BM + 1, BN + 1>(As, Bs, acc, tx, ty);
            __syncthreads();
            r += BK;
            l += BK;
            if (l >= l_out) {
                n += l / l_out;
                l %= l_out;
            }
        }

        T* dst = out + split * (long long)c_out * pairs;
#pragma unroll
        for (int i = 0; i < TM; ++i) {
            const int o = o0 + ty * TM + i;
            if (o >= og) continue;
            T* row = dst + ((long long)g * og + o) * pairs;
#pragma unroll
            for (int j = 0; j < TN; ++j) {
                const int q = q0 + tx + 16 * j;
                if (q < pairs) row[q] = acc[i][j];
            }
        }
    }
}

// out[i] = sum over s of partial[s, i], s = 0, 1, ... in order (the deterministic second pass).
template <typename T>
__global__ void __launch_bounds__(NNL_THREADS)
conv1d_sum_splits(const T* __restrict__ partial, T* __restrict__ out, long long splits, long long count)
{
    const long long i = (long long)blockIdx.x * NNL_THREADS + threadIdx.x;
    if (i >= count) return;
    T s = partial[i];
    for (long long k = 1; k < splits; ++k) s += partial[k * count + i];
    out[i] = s;
}

// Fixed-order tree sum of red[0..255] (each of KC rows) into red[kc][0]; all threads call it.
template <typename T, int KC>
__device__ __forceinline__ void nnl_block_tree_sum(T (*red)[NNL_THREADS], int tid)
{
    __syncthreads();
#pragma unroll
    for (int h = NNL_THREADS / 2; h > 0; h >>= 1) {
        if (tid < h) {
#pragma unroll
            for (int kc = 0; kc < KC; ++kc) red[kc][tid] += red[kc][tid + h];
        }
        __syncthreads();
    }
}

// ---------------------------------------------------------------------------------------
// Bias gradient: gb[o] = sum over (n, l) of gy[n, o, l].  One block per (o, split); each
// thread sums a fixed, strided subset of the split, then a shared-memory tree.
// ---------------------------------------------------------------------------------------
template <typename T>
__global__ void __launch_bounds__(NNL_THREADS)
conv1d_grad_bias(const T* __restrict__ gy, T* __restrict__ out, long long n_batch, int c_out,
                 long long l_out, long long splits, long long chunk)
{
    __shared__ T red[1][NNL_THREADS];
    const int tid = threadIdx.x;
    const long long r_total = n_batch * l_out, n_blocks = (long long)c_out * splits;
    for (long long blk = blockIdx.x; blk < n_blocks; blk += gridDim.x) {
        const long long split = blk % splits, o = blk / splits;
        const long long r_beg = split * chunk;
        const long long r_end = r_beg + chunk < r_total ? r_beg + chunk : r_total;
        long long r = r_beg + tid, n = r / l_out, l = r - n * l_out;
        T acc = T(0);
        for (; r < r_end; r += NNL_THREADS) {
            acc += gy[(n * c_out + o) * l_out + l];
            l += NNL_THREADS;
            if (l >= l_out) {
                n += l / l_out;
                l %= l_out;
            }
        }
        red[0][tid] = acc;
        nnl_block_tree_sum<T, 1>(red, tid);
        if (tid == 0) out[split * c_out + o] = red[0][0];
        __syncthreads();
    }
}

// ---------------------------------------------------------------------------------------
// Depthwise (Cg == Og == 1): one channel per row, 4 positions per thread (1024 per block).
// With use_smem the block stages its input span (and the K weights) in dynamic shared
// memory; conv1d_cuda.py turns it off when the span would not fit, and the same loops then
// read global memory (through the L1 cache) instead.
// ---------------------------------------------------------------------------------------
#define NNL_DW_PER_THREAD 4
#define NNL_DW_TILE (NNL_THREADS * NNL_DW_PER_THREAD)

template <typename T>
__global__ void __launch_bounds__(NNL_THREADS)
conv1d_dw_forward(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                  T* __restrict__ y, long long n_batch, int channels, long long lp, long long l_out,
                  int k_size, int stride, int dilation, int has_bias, int use_smem)
{
    extern __shared__ __align__(16) unsigned char nnl_dyn[];
    T* ws = reinterpret_cast<T*>(nnl_dyn);   // [K] weights, then the input span
    T* xs = ws + k_size;
    const int tid = threadIdx.x;
    const long long l_tiles = (l_out + NNL_DW_TILE - 1) / NNL_DW_TILE;
    const long long n_tiles = n_batch * channels * l_tiles;
    const long long span = (long long)(NNL_DW_TILE - 1) * stride + (long long)(k_size - 1) * dilation + 1;

    for (long long tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
        const long long row = tile / l_tiles, l0 = (tile % l_tiles) * NNL_DW_TILE;
        const int c = (int)(row % channels);
        const T* xrow = x + row * lp + l0 * stride;
        const T* wc = w + (long long)c * k_size;
        const T* wp = wc;
        const T* xp = xrow;
        if (use_smem) {
            for (int k = tid; k < k_size; k += NNL_THREADS) ws[k] = wc[k];
            const long long avail = lp - l0 * stride;
            for (long long i = tid; i < span; i += NNL_THREADS) xs[i] = i < avail ? xrow[i] : T(0);
            __syncthreads();
            wp = ws;
            xp = xs;
        }
        T acc[NNL_DW_PER_THREAD];
#pragma unroll
        for (int j = 0; j < NNL_DW_PER_THREAD; ++j) acc[j] = T(0);
        for (int k = 0; k < k_size; ++k) {
            const T wk = wp[k];
            const long long kofs = (long long)k * dilation;
#pragma unroll
            for (int j = 0; j < NNL_DW_PER_THREAD; ++j) {
                const long long jl = tid + NNL_THREADS * j;
                if (l0 + jl < l_out) acc[j] += wk * xp[jl * stride + kofs];
            }
        }
        const T b = has_bias ? bias[c] : T(0);
        T* yrow = y + row * l_out;
#pragma unroll
        for (int j = 0; j < NNL_DW_PER_THREAD; ++j) {
            const long long l = l0 + tid + NNL_THREADS * j;
            if (l < l_out) yrow[l] = acc[j] + b;
        }
        if (use_smem) __syncthreads();
    }
}

// gx[n, c, p] = sum over k of w[c, k] * gy[n, c, (p - k*d) / s] (when exact and in range).
// With use_smem the gy span [lbase, lbase + span) is staged, zero outside [0, L_out).
template <typename T>
__global__ void __launch_bounds__(NNL_THREADS)
conv1d_dw_grad_input(const T* __restrict__ gy, const T* __restrict__ w, T* __restrict__ gx,
                     long long n_batch, int channels, long long lp, long long l_out,
                     int k_size, int stride, int dilation, int use_smem)
{
    extern __shared__ __align__(16) unsigned char nnl_dyn[];
    T* ws = reinterpret_cast<T*>(nnl_dyn);
    T* gs = ws + k_size;
    const int tid = threadIdx.x;
    const long long p_tiles = (lp + NNL_DW_TILE - 1) / NNL_DW_TILE;
    const long long n_tiles = n_batch * channels * p_tiles;
    const long long reach = (long long)(k_size - 1) * dilation;
    const long long span = (NNL_DW_TILE - 1 + reach) / stride + 2;

    for (long long tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
        const long long row = tile / p_tiles, p0 = (tile % p_tiles) * NNL_DW_TILE;
        const int c = (int)(row % channels);
        const T* gyrow = gy + row * l_out;
        const T* wc = w + (long long)c * k_size;
        T acc[NNL_DW_PER_THREAD];
#pragma unroll
        for (int j = 0; j < NNL_DW_PER_THREAD; ++j) acc[j] = T(0);
        if (use_smem) {
            // every tap of every position of this tile reads gy[lbase .. lbase + span - 1]
            const long long lbase = nnl_floor_div(p0 - reach, stride);
            for (int k = tid; k < k_size; k += NNL_THREADS) ws[k] = wc[k];
            for (long long i = tid; i < span; i += NNL_THREADS) {
                const long long l = lbase + i;
                gs[i] = (l >= 0 && l < l_out) ? gyrow[l] : T(0);
            }
            __syncthreads();
            for (int k = 0; k < k_size; ++k) {
                const T wk = ws[k];
                const long long kofs = (long long)k * dilation + lbase * stride;
#pragma unroll
                for (int j = 0; j < NNL_DW_PER_THREAD; ++j) {
                    const long long q = p0 + tid + NNL_THREADS * j - kofs;   // >= 0 by lbase
                    const long long i = stride == 1 ? q : nnl_exact_div(q, stride);
                    if (i >= 0) acc[j] += wk * gs[i];
                }
            }
            __syncthreads();
        } else {
            for (int k = 0; k < k_size; ++k) {
                const T wk = wc[k];
                const long long kofs = (long long)k * dilation;
#pragma unroll
                for (int j = 0; j < NNL_DW_PER_THREAD; ++j) {
                    const long long l = nnl_exact_div(p0 + tid + NNL_THREADS * j - kofs, stride);
                    if (l >= 0 && l < l_out) acc[j] += wk * gyrow[l];
                }
            }
        }
        T* gxrow = gx + row * lp;
#pragma unroll
        for (int j = 0; j < NNL_DW_PER_THREAD; ++j) {
            const long long p = p0 + tid + NNL_THREADS * j;
            if (p < lp) gxrow[p] = acc[j];
        }
    }
}

// Depthwise weight gradient: one block per (c, chunk of 8 taps, split); each thread sums a
// fixed strided subset of the split's (n, l), then a fixed-order shared-memory tree.
#define NNL_DW_TAPS 8
template <typename T>
__global__ void __launch_bounds__(NNL_THREADS)
conv1d_dw_grad_weight(const T* __restrict__ x, const T* __restrict__ gy, T* __restrict__ out,
                      long long n_batch, int channels, long long lp, long long l_out,
                      int k_size, int stride, int dilation, long long splits, long long chunk)
{
    __shared__ T red[NNL_DW_TAPS][NNL_THREADS];
    const int tid = threadIdx.x;
    const int k_chunks = (k_size + NNL_DW_TAPS - 1) / NNL_DW_TAPS;
    const long long r_total = n_batch * l_out;
    const long long n_blocks = (long long)channels * k_chunks * splits;
    for (long long blk = blockIdx.x; blk < n_blocks; blk += gridDim.x) {
        long long t = blk;
        const long long split = t % splits; t /= splits;
        const int k0 = (int)(t % k_chunks) * NNL_DW_TAPS;
        const long long c = t / k_chunks;
        const long long r_beg = split * chunk;
        const long long r_end = r_beg + chunk < r_total ? r_beg + chunk : r_total;
        T acc[NNL_DW_TAPS];
#pragma unroll
        for (int kc = 0; kc < NNL_DW_TAPS; ++kc) acc[kc] = T(0);
        long long r = r_beg + tid, n = r / l_out, l = r - n * l_out;
        for (; r < r_end; r += NNL_THREADS) {
            const long long row = n * channels + c;
            const T g = gy[row * l_out + l];
            const T* xp = x + row * lp + l * stride + (long long)k0 * dilation;
#pragma unroll
            for (int kc = 0; kc < NNL_DW_TAPS; ++kc)
                if (k0 + kc < k_size) acc[kc] += g * xp[(long long)kc * dilation];
            l += NNL_THREADS;
            if (l >= l_out) {
                n += l / l_out;
                l %= l_out;
            }
        }
#pragma unroll
        for (int kc = 0; kc < NNL_DW_TAPS; ++kc) red[kc][tid] = acc[kc];
        nnl_block_tree_sum<T, NNL_DW_TAPS>(red, tid);
        if (tid < NNL_DW_TAPS && k0 + tid < k_size)
            out[split * (long long)channels * k_size + c * k_size + k0 + tid] = red[tid][0];
        __syncthreads();
    }
}
