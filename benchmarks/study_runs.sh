#!/usr/bin/env bash
# The study-profile runs of docs/results/study/ beyond the DMS/parity headline, in the order they were
# started: one reproduction at a time, each resumable (re-run this script after an interruption: finished
# runs are read back, a run in progress continues from its last epoch checkpoint).
#
#   nice -n 15 bash benchmarks/study_runs.sh [RESULTS_DIR]      (default docs/results/study)
#
# Every command is `cbreservoir reproduce --profile study --ensemble 4 --n-jobs 1` (150 epochs, 4 networks
# per condition unless --seeds says more); see docs/reproduce.md for what each directory holds.
set -euo pipefail
results="${1:-docs/results/study}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
run() { cbreservoir reproduce --profile study --ensemble 4 --n-jobs 1 "$@"; }

# 1. multitask and task switching, frozen-core conditions with the authors' regime (only W_h, b_h frozen)
run --task multitask --keep-checkpoints --output-dir "$results/multitask"
run --task switching --conditions cbrnn full_reservoir rnn --keep-checkpoints --output-dir "$results/switching"
# 2. mod-3 (the study's extension)
run --task mod3 --conditions cbrnn full_reservoir rnn --keep-checkpoints --output-dir "$results/mod3"
# 3. continual learning DMS -> parity -> DMS (task cue, switch pulse, 100 epochs per phase at N = 3)
run --task continual --conditions cbrnn full_reservoir rnn --keep-checkpoints --output-dir "$results/continual"
# 4. controls: GRU with and without the cerebellar bias, the recurrent auxiliary module (the CB-RNN and RNN-only
#    records of seeds 0-3 are copies of the headline's, the same cells, so the summary compares against them)
run --task dms parity --conditions gru gru_cb rnn_aux cbrnn rnn --output-dir "$results/controls"
# 5. the granule sweep G = 64/128/256/512 against the authors' matched RNN-only sizes 128/160/202/272
run --task dms parity --conditions cbrnn rnn --scaling --output-dir "$results/scaling"
# 6. the headline with the study's 8 networks per condition (seeds 4-7 added to the committed 0-3)
run --task dms parity --seeds 8 --keep-checkpoints --output-dir "$results"
