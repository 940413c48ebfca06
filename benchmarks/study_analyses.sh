#!/usr/bin/env bash
# The study's analyses (docs/analysis.md: the authors' definitions) of the study-profile networks in
# docs/results/study/, one report per network and a table pooled over networks. Networks whose run kept no
# checkpoints are trained again from their cell (same seed; see docs/reproduce.md for when that is the recorded
# network) into the run directory's checkpoints/. Resumable: a task already pooled is skipped.
#
#   nice -n 15 bash benchmarks/study_analyses.sh [RESULTS_DIR]      (default docs/results/study)
set -euo pipefail
results="${1:-docs/results/study}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
analyze() { cbreservoir analyze --conditions cbrnn full_reservoir "$@"; }
# one task: skipped when its pooled figure against N exists, which only analyses with the study's definitions
# write (delete it to analyse the task again); the seeds are the networks analysed
task() {
    local name="$1" runs="$2" out="$results/analysis/$3"
    shift 3
    [ -f "$out/against_level.png" ] || analyze --task "$name" --runs "$runs" --output-dir "$out" --seeds "$@"
}

task multitask "$results/multitask" multitask 0 1 2 3
task switching "$results/switching" switching 0 1 2 3
task mod3 "$results/mod3" mod3 0 1 2 3
# the headline's 8 networks per condition; seeds 4-7 kept their checkpoints (the recorded networks)
task dms "$results" dms 0 1 2 3 4 5 6 7
task parity "$results/parity300" parity300 0 1 2 3
