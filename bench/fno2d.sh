#!/usr/bin/env bash
# The 2-D Fourier neural operator (Li et al. 2021, fourier_2d.py, without its padding) on
# Darcy flow in sci and in JAX, side by side, in one run on this machine:
#   bench/fno2d.sh                 # 2 epochs each: the epoch time (and the errors so far)
#   EPOCHS=500 bench/fno2d.sh      # the paper's schedule: the test error target (hours;
#                                  # an epoch of sci takes about 35 s on 2 cores)
#   SCI=path/to/sci bench/fno2d.sh # use this sci binary instead of building one
# builds sci (release), installs the JAX peer (pinned in bench/requirements.txt, into
# target/bench/venv), draws the data with `sci dataset darcy` (1,200 pairs on an 85 x 85
# grid, solved on 421 x 421: about a minute), trains examples/darcy_fno.sci and
# bench/fno_jax.py (its 2-D network: the NPY files are [N, 85, 85]) on the same files
# with the same hyperparameters (batch 20, Adam 1e-3, weight decay 5e-6, the rate halved
# every 100 epochs; 1,000 rows to train, the last 200 to test), and writes
# docs/fno2d-benchmark.md. THREADS=N gives both N cores (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1
out=target/bench/fno2d
epochs=${EPOCHS:-2}
threads=${THREADS:-0}
# Li et al.'s 1e-4 on the batch's summed error is 5e-6 on its mean (bench/fno.sh).
wd=${WEIGHT_DECAY:-5e-6}
mkdir -p "$out"
source bench/python-env.sh
if [ -n "${SCI:-}" ]; then
    sci=$SCI
else
    cargo build --release --locked --bin sci
    sci=target/release/sci
fi

# The data: the seed fixes the fields, whatever the thread count.
$sci dataset darcy --samples 1200 --grid 85 --seed 0 --out "$out/darcy"

load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
sci_threads=()
if [ "$threads" -gt 0 ]; then sci_threads=(--threads "$threads"); fi
$sci train examples/darcy_fno.sci "${sci_threads[@]}" --batch 20 --epochs "$epochs" \
    --lr 1e-3 --weight-decay "$wd" --lr-step 100 \
    --data "darcy=$out/darcy_a.npy,$out/darcy_u.npy" \
    --out "$out/sci.json" --losses "$out/sci_losses.csv" --plot "$out/sci_losses.svg" \
    | tee "$out/sci_train.txt"

# The peer's defaults for [N, s1, s2] files are the model's: modes 12, width 32, 4 layers,
# the input normalised as (a - 7.5)/4.5.
THREADS=$threads bench/fno_jax.sh --a "$out/darcy_a.npy" --u "$out/darcy_u.npy" \
    --test 200 --epochs "$epochs" --batch 20 --lr 1e-3 --weight-decay "$wd" --step-size 100 \
    --json "$out/jax.json" | tee "$out/jax_train.txt"

"$py" bench/fno_report.py --problem darcy --sci "$sci" --dir "$out" --epochs "$epochs" \
    --load "$load_before" --out docs/fno2d-benchmark.md
