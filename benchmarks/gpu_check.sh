#!/usr/bin/env bash
# One short GPU check (at most about 8 minutes): the CUDA tests, the speed table with --device cuda and a
# paper-profile ensemble of 8 CB-RNNs (DMS, 100 steps + 50 test batches per epoch) for 3 epochs on the GPU.
# Writes its results and a summary table under OUT (default gpu_check/). Run it where a GPU is available,
# never in CI. Without CUDA it stops at once with exit code 2 and a message.
#
# Usage: bash benchmarks/gpu_check.sh [OUT]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-gpu_check}"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
if ! python -c "import torch" 2>/dev/null; then
    echo "gpu_check: python cannot import torch (activate the project's environment first)" >&2
    exit 2
fi
if ! python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: CUDA is not available on this machine (torch.cuda.is_available() is False)" >&2
    exit 2
fi
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$out/gpu.txt" 2>/dev/null || true
# 1. the tests that need CUDA (they skip elsewhere)
timeout 120 python -m pytest -q -p no:xdist -k cuda "$root/tests/numerics/test_fused.py" \
    "$root/tests/training/test_fused.py" | tee "$out/tests.txt"
# 2. the speed table, ensemble rows on the GPU
timeout 300 python -m cbreservoir.cli bench --device cuda --json > "$out/speed.json"
python -c 'import json, sys; print(json.load(open(sys.argv[1]))["table"])' "$out/speed.json" | tee "$out/speed.md"
# 3. a paper-profile ensemble of 8 CB-RNNs through 3 curriculum epochs on the GPU
timeout 120 python -m cbreservoir.cli train --model cbrnn --task dms --epochs 3 --steps 100 --test-batches 50 \
    --ensemble 8 --seed 0 --device cuda --json > "$out/ensemble.json"
python - "$out" <<'PY' | tee "$out/table.md"
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
ensemble = json.loads((out / "ensemble.json").read_text())
gpu = (out / "gpu.txt").read_text().strip() if (out / "gpu.txt").exists() else "unknown GPU"
print(f"GPU: {gpu}\n")
print("| paper-profile ensemble on the GPU | value |")
print("|---|---|")
print(f"| members x epochs (100 steps + 50 test batches each) | 8 x {len(ensemble['levels'][0])} |")
print(f"| wall seconds, whole command | {ensemble['wall_seconds']:.1f} |")
print(f"| member epochs per second | {8 * len(ensemble['levels'][0]) / ensemble['wall_seconds']:.2f} |")
print(f"| levels reached (per member) | {ensemble['max_level']} |")
print("\nSpeed table (--device cuda):\n")
print((out / "speed.md").read_text())
PY
