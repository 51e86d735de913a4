#!/usr/bin/env bash
# Ingest at a GPU's pace, measured on a CUDA machine in under 5 minutes.
#
#   bash benchmarks/gpu.sh          # on a CUDA GPU machine, from the repository root
#   bash benchmarks/gpu.sh --cpu    # a quick dry run on a CPU machine: every step, tiny sizes
#
# Steps: find or make a Python environment (offline: it never downloads unless nothing local
# works, then `make install`), build the full-size random ViT-B/32 and the 640-px test JPEGs,
# then print:
#   1. pixels and vectors of each preprocessing path against the processor's (check);
#   2. images/s of the encoder alone, the pipeline with the resize on the GPU, the pipeline with
#      the resize on the CPU workers, and the seed's way (SentenceTransformer.encode on PIL
#      images, CPU resize) -- target >= 5,000 images/s per GPU;
#   3. everything but the model per CPU core (null encoder) -- target >= 350 images/s per core.
# Each step has its own time limit, so that one slow step cannot eat the others' time.
set -uo pipefail

cd "$(dirname "$0")/.."
MODE=gpu
[[ "${1:-}" == "--cpu" || "${1:-}" == "--dry-run" ]] && MODE=cpu

if [[ $MODE == gpu ]]; then
    DEVICE=cuda IMAGES=4096 CHECK=64 BATCH=256 NULL_IMAGES=2048 SOURCES=folder,http
    LIMIT_CHECK=60 LIMIT_SPEED=150 LIMIT_NULL=60
else
    # The GPU path's code runs too (the device resize on CPU torch), with a tiny random CLIP:
    # this checks that every step starts and ends, not speed.
    DEVICE=cpu IMAGES=32 CHECK=4 BATCH=8 NULL_IMAGES=32 SOURCES=folder,http EXTRA="--both-resizes --tiny-model"
    LIMIT_CHECK=300 LIMIT_SPEED=600 LIMIT_NULL=600  # a busy shared CPU machine is slow
fi
EXTRA=${EXTRA:-}
started=$SECONDS
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

# Python: $PYTHON if given; else a .venv that already has the project; else a new venv on top
# of a system Python that has torch (its CUDA build, with the site packages); else make install.
# Found without importing them (sentence-transformers alone takes seconds to import).
needs='torch transformers sentence_transformers qdrant_client qdrant_edge PIL httpx pydantic_settings tenacity photoseek'
works() {
    "$1" -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in '$needs'.split()))" \
        >/dev/null 2>&1
}
PY=${PYTHON:-}
if [[ -z $PY ]]; then
    for candidate in .venv/bin/python .venv-gpu/bin/python; do
        if [[ -x $candidate ]] && works "$candidate"; then PY=$candidate; break; fi
    done
fi
if [[ -z $PY ]]; then
    for system in python3.11 python3.12 python3; do
        command -v "$system" >/dev/null || continue
        "$system" -c 'import torch' 2>/dev/null || continue
        echo "making .venv-gpu on $(command -v "$system") (system site packages, no download)"
        "$system" -m venv --system-site-packages .venv-gpu &&
            .venv-gpu/bin/python -m pip install -q --no-deps --no-build-isolation -e . &&
            works .venv-gpu/bin/python && PY=.venv-gpu/bin/python && break
    done
fi
if [[ -z $PY ]]; then
    echo "no local Python with the project's packages; trying make install (needs a package index)"
    make install && works .venv/bin/python && PY=.venv/bin/python
fi
if [[ -z $PY ]]; then
    echo "FAILED: no Python environment with torch and the project's dependencies" >&2
    exit 1
fi
echo "python: $PY ($("$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'))"
if [[ $MODE == gpu ]]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
    if ! "$PY" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
        echo "FAILED: torch sees no CUDA GPU here; run with --cpu for a dry run" >&2
        exit 1
    fi
fi
echo "cores: $(nproc)"

status=0
step() {  # step NAME SECONDS COMMAND...: run with a time limit, report its time and status
    local name=$1 limit=$2
    shift 2
    echo
    echo "== $name (limit ${limit} s)"
    local begun=$SECONDS
    timeout --kill-after=10 "$limit" "$@"
    local rc=$?
    [[ $rc == 124 || $rc == 137 ]] && echo "!! $name ran past ${limit} s and was stopped"
    [[ $rc != 0 ]] && status=1
    echo "== $name: exit $rc in $((SECONDS - begun)) s"
}

step "pixels and vectors against the processor" "$LIMIT_CHECK" \
    "$PY" benchmarks/ingest.py --part check --check-images "$CHECK" --device "$DEVICE" ${EXTRA/--both-resizes/}
step "encoder alone, pipeline (GPU resize, CPU resize), seed" "$LIMIT_SPEED" \
    "$PY" benchmarks/ingest.py --encoder clip --width 640 --images "$IMAGES" --batch-size "$BATCH" \
    --rounds 1 --device "$DEVICE" $EXTRA
step "everything but the model, per core" "$LIMIT_NULL" \
    "$PY" benchmarks/ingest.py --encoder null --images "$NULL_IMAGES" --rounds 1 --sources "$SOURCES"

echo
echo "gpu.sh ($MODE): done in $((SECONDS - started)) s, status $status"
exit $status
