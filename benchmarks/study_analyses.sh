#!/usr/bin/env bash
# The study's analyses (docs/analysis.md: the authors' definitions) of the study-profile networks in
# docs/results/study/, one report per network and a table pooled over networks. Networks whose run kept no
# checkpoints are trained again from their cell (same seed, same trajectory) into the run directory's
# checkpoints/. Resumable: re-run after an interruption.
#
#   nice -n 15 bash benchmarks/study_analyses.sh [RESULTS_DIR]      (default docs/results/study)
set -euo pipefail
results="${1:-docs/results/study}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
analyze() { cbreservoir analyze --seeds 0 1 2 3 --conditions cbrnn full_reservoir "$@"; }

analyze --task multitask --runs "$results/multitask" --output-dir "$results/analysis/multitask"
analyze --task switching --runs "$results/switching" --output-dir "$results/analysis/switching"
analyze --task mod3 --runs "$results/mod3" --output-dir "$results/analysis/mod3"
analyze --task dms --runs "$results" --output-dir "$results/analysis/dms"
analyze --task parity --runs "$results/parity300" --output-dir "$results/analysis/parity300"
