#!/usr/bin/env bash
# The study-profile runs of the study's future work (issue 36; docs/future-work.md), to run after
# benchmarks/study_runs.sh, whose directories they extend: one job, each step resumable (re-run this script
# after an interruption: finished runs are read back, a run in progress continues from its last epoch
# checkpoint; the noise steps are rerun whole, in minutes).
#
#   nice -n 15 bash benchmarks/future_runs.sh [RESULTS_DIR]      (default docs/results/study)
#
# PROFILE_ARGS replaces "--profile study" (a smoke test: PROFILE_ARGS="--profile study --set n_epochs=3").
set -euo pipefail
results="${1:-docs/results/study}"
profile_args="${PROFILE_ARGS:---profile study}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
# shellcheck disable=SC2086  # the profile arguments split into words on purpose
run() { cbreservoir reproduce $profile_args --ensemble 4 --n-jobs 1 "$@"; }

# 1. the adaptive schedule beside end to end, full reservoir, interleaved and RNN-only on DMS and parity, in the
#    headline directory: its 8 networks per condition are read back (study_runs.sh step 6), 8 adaptive
#    networks per task are trained; the summary gains the adaptive row and the compute table
run --task dms parity --seeds 8 --conditions cbrnn full_reservoir interleaved rnn adaptive --keep-checkpoints \
    --output-dir "$results"
# 2. continual dms -> parity -> dms with the adaptive schedule beside the runs of study_runs.sh step 3
run --task continual --conditions cbrnn full_reservoir rnn adaptive --keep-checkpoints \
    --output-dir "$results/continual"
# 3. accuracy against noise (input bit flips, cortical state, cerebellar output) at a fixed N, cerebellum on
#    and off, of the CB-RNN, full reservoir and RNN-only networks whose checkpoints the headline kept
#    (seeds 4-7 of study_runs.sh step 6: 4 networks each), each with the weights that passed N
for task in dms parity; do
    cbreservoir noise --runs "$results" --task "$task" --conditions cbrnn full_reservoir rnn --seeds 4 5 6 7 \
        --output-dir "$results/noise/$task"
done
