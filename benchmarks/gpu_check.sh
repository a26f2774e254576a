#!/usr/bin/env bash
# The GPU check for a machine with an NVIDIA GPU, CuPy and PyTorch (CUDA build); run from the repo root:
#
#     bash benchmarks/gpu_check.sh            # or: RESULTS=/some/dir SKIP_BUILD=1 bash benchmarks/gpu_check.sh
#
# 1. builds nnlite in place (pip install --no-build-isolation -e .);
# 2. runs every GPU test: the tests marked `gpu` across tests/ (the shared CPU/GPU test bodies and the
#    CUDA-only ones in tests/test_conv1d_cuda_source.py), then the rest of that CUDA file (nvcc and
#    NVRTC compile checks, launch-argument checks);
# 3. times nnlite against PyTorch (benchmarks/conv1d_gpu.py, at most ~4 minutes by its own budget).
# Logs go to $RESULTS (default $OUT when set, else /tmp/nnlite_gpu_check); SKIP_BUILD=1 skips step 1
# where nnlite is already built.  Exit status: 0 when everything passed, else the
# first failing step's status; 2 when CuPy or a GPU is missing.
set -u -o pipefail
cd "$(dirname "$0")/.."
RESULTS=${RESULTS:-${OUT:-/tmp/nnlite_gpu_check}}
status=0

python - <<'PY' || exit 2
import sys
try:
    import cupy
    n = cupy.cuda.runtime.getDeviceCount()
except Exception as exc:
    sys.exit(f"gpu_check.sh needs CuPy and a CUDA GPU ({type(exc).__name__}: {exc}); "
             "pip install nnlite[cuda12] or nnlite[cuda13]")
if n < 1:
    sys.exit("gpu_check.sh: CuPy sees no CUDA GPU")
print("CuPy", cupy.__version__, "devices:", n)
PY
mkdir -p "$RESULTS"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | tee "$RESULTS/gpu.txt"

step() {  # step NAME COMMAND...: run, log, remember the first failure
    local name=$1; shift
    echo "== $name: $*"
    "$@" 2>&1 | tee "$RESULTS/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc"
    [ "$status" -eq 0 ] && status=$rc
    return 0
}

[ "${SKIP_BUILD:-0}" = 1 ] || step build python -m pip install --no-build-isolation -e .
step gpu_tests env NNLITE_TEST_GPU=1 timeout 1200 python -m pytest -q -m gpu tests/
step cuda_source_tests env NNLITE_TEST_GPU=1 timeout 600 python -m pytest -q tests/test_conv1d_cuda_source.py
step benchmark timeout 300 python benchmarks/conv1d_gpu.py --json "$RESULTS/conv1d_gpu.json"
echo "gpu_check.sh: exit $status (logs in $RESULTS/)"
exit "$status"
