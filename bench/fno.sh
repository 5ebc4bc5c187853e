#!/usr/bin/env bash
# The 1-D Fourier neural operator (Li et al. 2021) in sci and in JAX, side by side, in one
# run on this machine:
#   bench/fno.sh                 # 5 epochs each: the epoch time (and the errors so far)
#   EPOCHS=500 bench/fno.sh      # the paper's schedule: the test error target (hours)
# builds sci (release), installs the JAX peer (pinned in bench/requirements.txt, into
# target/bench/venv), draws the data with `sci dataset burgers` (1,200 pairs at 256 points
# and the same functions at 512), trains examples/burgers_fno.sci and bench/fno_jax.py on
# the same files with the same hyperparameters (batch 20, Adam 1e-3, weight decay 5e-6 on
# the batch's mean error, the rate halved every 100 epochs), evaluates both trained
# operators zero-shot at 512 points, and writes docs/fno-benchmark.md. THREADS=N gives
# both N cores (default: all).
# Weight decay: Li et al.'s 1e-4 is added to the gradient of the batch's *summed* error
# (LpLoss(size_average=False)); both tools here minimise the mean over the batch of 20,
# whose gradient is 20 times smaller, so the same decay relative to it is 1e-4/20 = 5e-6
# (Adam is otherwise invariant to the gradient's scale). WEIGHT_DECAY=λ overrides it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1
out=target/bench/fno
epochs=${EPOCHS:-5}
threads=${THREADS:-0}
wd=${WEIGHT_DECAY:-5e-6}
mkdir -p "$out"
source bench/python-env.sh
cargo build --release --locked --bin sci
sci=target/release/sci

# The same functions at two resolutions (the seed fixes them).
$sci dataset burgers --samples 1200 --grid 256 --seed 0 --out "$out/burgers"
$sci dataset burgers --samples 1200 --grid 512 --seed 0 --out "$out/burgers512"

load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
sci_threads=()
if [ "$threads" -gt 0 ]; then sci_threads=(--threads "$threads"); fi
$sci train examples/burgers_fno.sci "${sci_threads[@]}" --batch 20 --epochs "$epochs" \
    --lr 1e-3 --weight-decay "$wd" --lr-step 100 \
    --data "burgers=$out/burgers_a.npy,$out/burgers_u.npy" \
    --out "$out/sci.json" --losses "$out/sci_losses.csv" --plot "$out/sci_losses.svg" \
    | tee "$out/sci_train.txt"
$sci train examples/burgers_fno.sci --init "$out/sci.json" --steps 0 --param s=512 \
    --data "burgers=$out/burgers512_a.npy,$out/burgers512_u.npy" | tee "$out/sci_512.txt"

THREADS=$threads bench/fno_jax.sh --a "$out/burgers_a.npy" --u "$out/burgers_u.npy" \
    --test 200 --epochs "$epochs" --weight-decay "$wd" --eval-a "$out/burgers512_a.npy" \
    --eval-u "$out/burgers512_u.npy" --json "$out/jax.json" | tee "$out/jax_train.txt"

"$py" bench/fno_report.py --dir "$out" --epochs "$epochs" --load "$load_before" \
    --out docs/fno-benchmark.md
