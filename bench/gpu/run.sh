#!/usr/bin/env bash
# The GPU check of mmaux, one script for a bare GPU machine (PyTorch 2.x with CUDA and NCCL from
# Python wheels, CMake, Ninja, a C++ compiler; no MPI, HDF5, Boost... and no network):
#
#   bash bench/gpu/run.sh [--quick] [--bundle DIR] [--torch cmake|python|auto] OUT_DIR
#   bash bench/gpu/run.sh --cpu-dry-run [--bundle DIR] OUT_DIR     (here, on a CPU machine)
#
#  1. env        GPU, driver, PyTorch, CUDA, compiler, CMake and Ninja versions
#  2. unpack     the dependency bundle (cmake/bundle_deps.sh; default DIR: .gpu-bundle in the
#                repository) into a prefix (cmake/unpack_bundle.sh)
#  3. configure  the GPU subset (-DMMAUX_GPU_SUBSET=ON) against the prefix and PyTorch's
#                libtorch: its CMake package (Torch_DIR from torch.utils.cmake_prefix_path) when
#                an nvcc is present, else -DMMAUX_TORCH_FROM_PYTHON=ON (headers and libraries of
#                the torch package, CUDA and NCCL from the nvidia wheels); the other when the
#                first fails. NCCL is required (MMAUX_WITH_NCCL=ON) except in the dry run.
#  4. build      Ninja on all cores, what the later stages run (the rest of the subset is built
#                last in a full run, when time is left: build_rest)
#  5. gpu_tests  ctest -L gpu: NCCL communicator (world 1; world 2 only with two GPUs),
#                all_gather_with_grad on CUDA, a float64 CE + ITC + ITM step on CUDA equal to
#                the CPU's to 1e-10, bf16 autocast
#  6. train      synthetic shards (bench/gpu/make_shards), then `mmaux train` of `small` (300
#                steps) and of `ber-vit-base` (200; random weights), CE + ITC + ITM, batch 32, in
#                float32 and with --train.bf16: per-step losses (--quick: 100 and 60 steps)
#  7. bench      bench_gpu_model (mmaux, bf16 autocast) and bench/model/python_loop.py (plain
#                PyTorch, eager and SDPA attention) on tiny, small, ber-vit-base, vilt-b32
#  8. summary    bench/gpu/summarize.py: OUT_DIR/results.json and summary.txt
#
# Every stage is logged in $MMAUX_GPU_WORK/logs/<stage>.log and timed in .../logs/stages.tsv; a
# failed stage does not stop the later ones that do not need it. OUT_DIR receives three files,
# rewritten after every stage: results.json (bench/gpu/summarize.py), summary.txt and
# logs.tar.gz (all logs and per-step losses). Time budget: 570 s (--quick:
# 230 s; MMAUX_GPU_BUDGET overrides); a stage that would not fit is skipped and says so. Large
# files (prefix, build, shards, checkpoints) go to $MMAUX_GPU_WORK (default /tmp/mmaux-gpu-work;
# it must lie outside the repository: CMake refuses a prefix inside the source tree in the
# include directories of an exported target), not under OUT_DIR; a second run on the same machine
# reuses the unpacked bundle and the build when nothing they depend on changed.
# --cpu-dry-run runs every stage on the CPU with one-step benchmarks and a few training steps
# (no time budget), so that the GPU run meets no surprise but the GPU itself. PYTHON selects the
# interpreter with torch (default: the first of python3, /usr/bin/python3, /usr/local/bin/python3
# and python that imports torch).
set -uo pipefail

quick=0 dry=0 bundle="" torch_mode=auto
while [[ ${1:-} == --* ]]; do
  case $1 in
    --quick) quick=1; shift ;;
    --cpu-dry-run) dry=1; shift ;;
    --bundle) bundle=$2; shift 2 ;;
    --torch) torch_mode=$2; shift 2 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $# == 1 ]] || { echo "usage: run.sh [--quick] [--cpu-dry-run] [--bundle DIR] [--torch cmake|python|auto] OUT_DIR" >&2; exit 2; }
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${MMAUX_GPU_WORK:-${TMPDIR:-/tmp}/mmaux-gpu-work}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
[[ $WORK/ == "$SRC"/* ]] && { echo "run.sh: MMAUX_GPU_WORK=$WORK is inside the repository $SRC; choose a directory outside it (CMake refuses the bundle's prefix there)" >&2; exit 2; }
PREFIX=$WORK/prefix
BUILD=$WORK/build
LOG=$WORK/logs  # every log and measurement; OUT_DIR gets results.json, summary.txt, logs.tar.gz
rm -rf "$LOG"
mkdir -p "$LOG/train"
JOBS=$(nproc)
if [[ -z ${PYTHON:-} ]]; then  # the first interpreter that has torch
  PYTHON=python3
  for p in python3 /usr/bin/python3 /usr/local/bin/python3 python; do
    if command -v "$p" > /dev/null && "$p" -c 'import torch' 2> /dev/null; then
      PYTHON=$(command -v "$p")
      break
    fi
  done
fi
[[ -n $bundle ]] || bundle=$SRC/.gpu-bundle
T0=$(date +%s)
BUDGET=${MMAUX_GPU_BUDGET:-$((quick ? 230 : 570))}
((dry)) && BUDGET=${MMAUX_GPU_BUDGET:-100000}
export OUT SRC WORK PREFIX BUILD LOG JOBS PYTHON bundle torch_mode quick dry
: > "$LOG/stages.tsv"

# ---- stage machinery ---------------------------------------------------------------------------
left() { echo $((BUDGET - ($(date +%s) - T0))); }
# stage NAME MIN_SECONDS CAP_SECONDS FUNCTION: runs FUNCTION under a time limit, logs and times it.
stage() {
  local name=$1 need=$2 cap=$3 fn=$4 t rc limit
  limit=$(($(left) - 15))
  ((limit > cap)) && limit=$cap
  if ((limit < need)); then
    printf '%s\tskipped\t0\tnot enough time left (%ss, needs %ss)\n' "$name" "$(left)" "$need" >> "$LOG/stages.tsv"
    echo "== $name: skipped (time budget)"
    return 1
  fi
  echo "== $name (up to ${limit}s)"
  t=$(date +%s.%N)
  timeout -k 10 "$limit" bash -c "$fn" > "$LOG/$name.log" 2>&1
  rc=$?
  local secs
  secs=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  local status=ok note=""
  ((rc == 0)) || { status=failed; note="exit $rc$( ((rc == 124)) && echo ' (time limit)')"; }
  printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$secs" "$note" >> "$LOG/stages.tsv"
  tail -n 4 "$LOG/$name.log" | sed 's/^/   /'
  finalize
  return $rc
}

# OUT_DIR after every stage (a run cut short still returns what it had): the device tool brings
# back at most 8 files, so everything else travels in one archive.
finalize() {
  "$PYTHON" "$SRC/bench/gpu/summarize.py" "$LOG" "$OUT/results.json" > "$OUT/summary.txt" 2>&1
  tar -czf "$OUT/logs.tar.gz" -C "$WORK" logs 2> /dev/null
}

# No LD_LIBRARY_PATH for the build or the programs: the programs built against the bundle carry
# its library directories as their run path (DT_RPATH), which also serves the bundle libraries'
# own dependencies once cmake/unpack_bundle.sh has turned their Debian DT_RUNPATH into a relative
# DT_RPATH (cmake/bundle_runpaths.py); ctest gives the tests the Open MPI environment
# (cmake/MmauxDepsPrefix.cmake). The machine's compiler, CMake and Python keep their own
# libraries.

# ---- stages ------------------------------------------------------------------------------------
env_info() {
  "$PYTHON" - "$LOG/env.json" << 'EOF'
import json, os, platform, shutil, subprocess, sys
def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:
        return f"unavailable ({e.__class__.__name__})"
env = dict(mode="cpu-dry-run" if os.environ["dry"] == "1" else ("quick" if os.environ["quick"] == "1" else "full"),
           revision=os.environ.get("MMAUX_REVISION", "unknown"), host=platform.node(), cpus=os.cpu_count(),
           python=sys.version.split()[0], cmake=run("cmake", "--version").split("\n")[0],
           ninja=run("ninja", "--version"), cxx=run("c++", "--version").split("\n")[0],
           glibc=platform.libc_ver()[1], nvcc=shutil.which("nvcc") or ("/usr/local/cuda/bin/nvcc" if os.path.exists("/usr/local/cuda/bin/nvcc") else None),
           nvidia_smi=run("nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit", "--format=csv,noheader"))
try:
    import torch, torch.utils
    env.update(torch=torch.__version__, torch_cuda=torch.version.cuda, torch_cxx11_abi=int(torch._C._GLIBCXX_USE_CXX11_ABI),
               torch_dir=os.path.dirname(torch.__file__), torch_cmake_prefix=torch.utils.cmake_prefix_path,
               cuda_available=torch.cuda.is_available(),
               nccl=".".join(map(str, torch.cuda.nccl.version())) if torch.cuda.is_available() else None)
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        env.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1), gpu_capability=f"{p.major}.{p.minor}",
                   gpu_count=torch.cuda.device_count())
except Exception as e:
    env["torch_error"] = repr(e)
json.dump(env, open(sys.argv[1], "w"), indent=2)
print(json.dumps(env, indent=2))
if env.get("torch_cxx11_abi") == 0:
    sys.exit("PyTorch uses the pre-C++11 string ABI; the bundle's C++ libraries (Boost, fmt, GoogleTest) use the C++11 ABI")
EOF
}

unpack() {
  if [[ ! -f $bundle/SHA256SUMS ]]; then
    if ((dry)); then
      bash "$SRC/cmake/bundle_deps.sh" "$bundle" || return 1
    else
      echo "no dependency bundle at $bundle: run 'bash cmake/bundle_deps.sh $bundle' on the CPU machine and carry it" >&2
      return 1
    fi
  fi
  local sums  # the bundle and how it is unpacked
  sums=$(cat "$bundle/SHA256SUMS" "$SRC/cmake/unpack_bundle.sh" "$SRC/cmake/bundle_runpaths.py" | sha256sum)
  if [[ -f $PREFIX/.bundle-sums && $(cat "$PREFIX/.bundle-sums") == "$sums" ]]; then
    echo "reusing $PREFIX (the same bundle is unpacked there)"
    return 0
  fi
  rm -rf "$PREFIX"
  PYTHON=$PYTHON bash "$SRC/cmake/unpack_bundle.sh" "$bundle" "$PREFIX" && echo "$sums" > "$PREFIX/.bundle-sums"
}

# The directories of the nvidia wheels (include/ and lib/ each), for the python mode.
nvidia_roots() {
  "$PYTHON" -c '
import importlib.util, os
spec = importlib.util.find_spec("nvidia")
roots = []
for base in (spec.submodule_search_locations if spec else []):
    for name in sorted(os.listdir(base)):
        d = os.path.join(base, name)
        if os.path.isdir(os.path.join(d, "include")) or os.path.isdir(os.path.join(d, "lib")):
            roots.append(d)
print(";".join(roots))' 2> /dev/null
}
export -f nvidia_roots

configure_with() {  # configure_with cmake|python
  local mode=$1 nvcc cuda_root args=()
  args=(-S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE="${MMAUX_GPU_BUILD_TYPE:-Release}" -DMMAUX_GPU_SUBSET=ON
    -DMMAUX_DEPS_PREFIX="$PREFIX" -DMMAUX_WITH_NCCL="$( ((dry)) && echo AUTO || echo ON)")
  command -v ccache > /dev/null && ((dry)) && args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  nvcc=$(command -v nvcc || true)
  [[ -z $nvcc && -x /usr/local/cuda/bin/nvcc ]] && nvcc=/usr/local/cuda/bin/nvcc
  if [[ $mode == cmake ]]; then
    args+=(-DCMAKE_PREFIX_PATH="$("$PYTHON" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')")
    if [[ -n $nvcc ]]; then
      cuda_root=$(dirname "$(dirname "$(readlink -f "$nvcc")")")
      args+=(-DCUDAToolkit_ROOT="$cuda_root" -DCMAKE_CUDA_COMPILER="$nvcc")
    fi
  else
    local roots nccl
    roots=$(nvidia_roots)
    [[ -n $nvcc ]] && roots="$(dirname "$(dirname "$(readlink -f "$nvcc")")")${roots:+;$roots}"
    nccl=$(tr ';' '\n' <<< "$roots" | grep -m1 '/nccl$' || true)
    args+=(-DMMAUX_TORCH_FROM_PYTHON=ON -DMMAUX_PYTHON="$PYTHON" -DMMAUX_CUDA_ROOTS="$roots")
    [[ -n $nccl ]] && args+=(-DNCCL_ROOT="$nccl")
  fi
  # A second run on a warm machine reuses a build configured the same way (Ninja then rebuilds
  # what changed only).
  if [[ -f $BUILD/CMakeCache.txt && -f $WORK/configure.args && $(cat "$WORK/configure.args") == "${args[*]}" ]]; then
    echo "reusing the build in $BUILD (configured with the same arguments)"
    echo "$mode" > "$WORK/torch_mode"
    return 0
  fi
  rm -rf "$BUILD" "$WORK/configure.args"
  echo "+ cmake ${args[*]}"
  cmake "${args[@]}" || return 1
  echo "$mode" > "$WORK/torch_mode"
  echo "${args[*]}" > "$WORK/configure.args"
}
export -f configure_with

configure() {
  local first=$torch_mode second=""
  if [[ $torch_mode == auto ]]; then
    if command -v nvcc > /dev/null || [[ -x /usr/local/cuda/bin/nvcc ]] || ((dry)); then
      first=cmake second=python
    else
      first=python second=cmake
    fi
  fi
  configure_with "$first" && return 0
  [[ -n $second ]] || return 1
  echo "== configuring with libtorch from '$first' failed; trying '$second'"
  configure_with "$second"
}

# What the later stages run: built first. The rest of the subset (the other tests and
# benchmarks) is built at the end of a full run, keep-going, its failures listed.
needed_targets() {
  echo mmaux make_shards bench_gpu_model test_gpu_step test_gpu_step_compare
  grep -q '^build test_dist_nccl:' "$BUILD/build.ninja" 2> /dev/null && echo test_dist_nccl
}
export -f needed_targets

build() {
  ninja -C "$BUILD" -j "$JOBS" $(needed_targets) && return 0
  # A libtorch CMake package that configures but does not build: the other way, once.
  [[ $torch_mode == auto && $(cat "$WORK/torch_mode" 2> /dev/null) == cmake ]] || return 1
  echo "== the build with libtorch's CMake package failed; configuring with MMAUX_TORCH_FROM_PYTHON"
  configure_with python && ninja -C "$BUILD" -j "$JOBS" $(needed_targets)
}

build_rest() {
  ninja -C "$BUILD" -j "$JOBS" -k 0 && return 0
  grep -o '^FAILED: .*' "$LOG/build_rest.log" | sort -u > "$LOG/build_failures.txt"
  return 1
}

gpu_tests() {
  local label=(-L gpu)
  # Two NCCL ranks need two GPUs: on one, that test can only skip.
  [[ $(nvidia-smi -L 2> /dev/null | grep -c '^GPU') -lt 2 ]] && label+=(-E '_np2$')
  # The dry run also runs the CPU side of the comparison the GPU test relies on.
  ((dry)) && label=(-R 'test_gpu_step|test_dist_nccl')
  cd "$BUILD" && ctest "${label[@]}" -V --timeout 240 > "$LOG/ctest_gpu.log" 2>&1
  local rc=$?
  grep -E "Test +#|tests passed|max relative difference|bf16 autocast|SKIPPED|FAILED|Failure" "$LOG/ctest_gpu.log" | head -60
  return $rc
}

train_one() {  # train_one PRESET IMAGE TEXT BATCH STEPS DEVICE
  local preset=$1 image=$2 text=$3 batch=$4 steps=$5 device=$6 shards=$WORK/shards-$1 p
  rm -rf "$shards"
  "$BUILD/bench/gpu/make_shards" --out "$shards" --train $((batch * steps)) \
    --validation $((2 * batch)) --test $((2 * batch)) --image "$image" --text "$text" --seed 7 || return 1
  for p in fp32 bf16; do
    rm -rf "$WORK/run-$preset-$p"
    echo "+ mmaux train $preset $p"
    "$BUILD/bin/mmaux" train --data.dir "$shards" --train.out "$WORK/run-$preset-$p" \
      --model.name ber-vit-concat --model.preset "$preset" --train.device "$device" \
      --train.bf16 "$([[ $p == bf16 ]] && echo true || echo false)" --train.seed 1 \
      --train.epochs 1 --train.max-steps "$steps" --train.log-every 1 --data.batch-size "$batch" \
      --data.eval-batch-size "$batch" --data.loader-threads 4 --data.prefetch 8 \
      --loss.itc 0.1 --loss.itm 0.1 --train.lr 1e-4 --train.schedule linear --train.warmup 0.1 \
      --train.clip-norm 1 --train.keep-last 1 --log.level info || return 1
    cp "$WORK/run-$preset-$p/metrics.jsonl" "$LOG/train/$preset-$p.jsonl"
    cp "$WORK/run-$preset-$p/results.json" "$LOG/train/$preset-$p.results.json"
  done
  rm -rf "$shards" "$WORK/run-$preset-"*
}
export -f train_one

train() {
  local rc=0
  if ((dry)); then
    train_one small 128 64 4 3 cpu || rc=1
  elif ((quick)); then
    train_one small 128 64 32 100 cuda || rc=1
    train_one ber-vit-base 224 128 32 60 cuda || rc=1
  else
    train_one small 128 64 32 300 cuda || rc=1
    train_one ber-vit-base 224 128 32 200 cuda || rc=1
  fi
  return $rc
}

bench() {
  local runs steps warmup device=cuda attn rc=0 r model preset batch
  runs="ber-vit-concat:tiny:256,ber-vit-concat:small:256,ber-vit-concat:ber-vit-base:128,vilt:vilt-b32:128"
  steps=30 warmup=5
  ((quick)) && runs="ber-vit-concat:ber-vit-base:128" steps=15 warmup=3
  ((dry)) && runs="ber-vit-concat:tiny:2,ber-vit-concat:small:2,ber-vit-concat:ber-vit-base:2,vilt:vilt-b32:2" \
    steps=1 warmup=0 device=cpu
  "$BUILD/bench/gpu/bench_gpu_model" --device "$device" --bf16 1 --runs "$runs" \
    --steps "$steps" --warmup "$warmup" > "$LOG/bench_mmaux.jsonl" || rc=1
  cat "$LOG/bench_mmaux.jsonl"
  : > "$LOG/bench_pytorch.jsonl"
  for r in ${runs//,/ }; do
    IFS=: read -r model preset batch <<< "$r"
    # The FLOP count of both implementations must be the same formula.
    local mine theirs
    mine=$(grep "\"preset\": \"$preset\"" "$LOG/bench_mmaux.jsonl" | grep -o '"train_flops_per_sample": [0-9.e+]*' | awk '{print $2}')
    theirs=$("$PYTHON" "$SRC/bench/model/python_loop.py" --model "$model" --preset "$preset" --print-flops)
    awk -v a="$mine" -v b="$theirs" 'BEGIN {exit !(a > 0 && (a - b) / b < 1e-6 && (b - a) / b < 1e-6)}' ||
      { echo "FLOP counts differ for $model $preset: mmaux $mine, python_loop $theirs"; rc=1; }
    for attn in sdpa eager; do
      [[ $device == cpu && $attn == sdpa ]] && ! "$PYTHON" -c 'import torch.nn.functional as F; F.scaled_dot_product_attention' 2> /dev/null && continue
      "$PYTHON" "$SRC/bench/model/python_loop.py" --device "$device" --bf16 1 --adamw 1 \
        --model "$model" --preset "$preset" --batch "$batch" --steps "$steps" --warmup "$warmup" \
        --attention "$attn" --threads "$JOBS" --json >> "$LOG/bench_pytorch.jsonl" || rc=1
    done
  done
  cat "$LOG/bench_pytorch.jsonl"
  return $rc
}

export -f env_info unpack configure build build_rest gpu_tests train bench finalize

# ---- the run -----------------------------------------------------------------------------------
stage env 5 60 env_info
if stage unpack 10 120 unpack && stage configure 20 180 configure; then
  if stage build 30 480 build; then
    stage gpu_tests 30 300 gpu_tests
    stage train 60 240 train
    stage bench 30 200 bench
    ((quick)) || stage build_rest 20 300 build_rest
  fi
fi
finalize
cat "$OUT/summary.txt"
echo "total $(($(date +%s) - T0)) s; results in $OUT/results.json, logs in $OUT/logs.tar.gz"
