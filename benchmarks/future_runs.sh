#!/usr/bin/env bash
# The study-profile runs of the study's future work (issue 36; docs/future-work.md), after those of
# benchmarks/study_runs.sh: one job, each step resumable (re-run this script after an interruption: finished
# runs are read back, a run in progress continues from its last epoch checkpoint; the noise step reruns).
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

# 1. the adaptive schedule against end to end, full reservoir, interleaved and RNN-only on DMS and parity
#    (150 epochs, 4 networks each); the networks are kept for step 2
run --task dms parity --conditions cbrnn full_reservoir interleaved rnn adaptive --keep-checkpoints \
    --output-dir "$results/adaptive"
# 2. accuracy against noise (input bit flips, cortical state, cerebellar output) at a fixed N of the
#    CB-RNN, full reservoir and RNN-only networks of step 1, cerebellum on and off
for task in dms parity; do
    cbreservoir noise --runs "$results/adaptive" --task "$task" --conditions cbrnn full_reservoir rnn \
        --output-dir "$results/noise/$task"
done
# 3. continual dms -> parity -> dms (savings ratio, forgetting, epochs to criterion per phase) with the
#    adaptive schedule: waits for the continual protocol of the study issue, which cbreservoir does not
#    have yet (no "continual" task in `cbreservoir reproduce`); add it here once it exists.
