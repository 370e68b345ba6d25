#!/usr/bin/env bash
# Figure 2 and Figure 3 of the paper, budget-limited, on the CIFAR-10 copy, with the simulated backend: the time
# axis is the virtual wall-clock of p devices. Each step is charged the measured single-thread step time of the
# paper's net at batch 128 (easgd bench train --threads 1: 966 img/s, so 0.1325 s) and each exchange 0.01 s.
# Runs go two at a time (one core each); runs that already finished are skipped.
#   Figure 2: p = 4, τ ∈ {1, 4, 16, 64}: EASGD, EAMSGD, DOWNPOUR; MDOWNPOUR (τ = 1); MSGD (p = 1) as reference.
#   Figure 3: EASGD and DOWNPOUR, τ = 10, p ∈ {4, 8, 16}, the same number of steps per worker.
#   A learning-rate check: each method of Figure 2 at p = 4 (τ = 4) over a range of η, and MSGD too (in the
#   summary only; notebook 02 tabulates it).
# Usage: benchmarks/experiments/run.sh   (or make experiments); STEPS, DATA, OUT and JOBS can be overridden.
set -euo pipefail
cd "$(dirname "$0")/../.."
E=${EASGD:-.build/release/easgd}
DATA=${DATA:-../shared/data/cifar10-jpeg}
OUT=${OUT:-.build/experiments}
STEPS=${STEPS:-200}
JOBS=${JOBS:-2}
COSTS="--compute-seconds 0.1325 --communication-seconds 0.01"
COMMON="--backend simulated --data $DATA --net cifar --batch 128 --quiet"
mkdir -p "$OUT"

jobs_file=$(mktemp)
add() {  # name, arguments
  local name=$1; shift
  if [ -f "$OUT/$name/checkpoint.bin" ]; then return; fi
  rm -rf "$OUT/$name"
  echo "$E train $* $COMMON --out $OUT/$name > $OUT/$name.log 2>&1" >> "$jobs_file"
}

# MSGD reference, p = 1, on the same virtual clock: MDOWNPOUR with one worker and free communication is exactly
# MSGD (the worker's gradient at the look-ahead x + δv, Nesterov's step at the "master"), and its steps are
# charged like one device's.
add msgd-p1 --method mdownpour --workers 1 --lr 0.002 --momentum 0.99 --steps "$STEPS" --eval-every $((STEPS / 4)) \
  --compute-seconds 0.1325 --communication-seconds 0
for tau in 1 4 16 64; do
  add easgd-p4-tau$tau --method easgd --workers 4 --tau $tau --lr 0.05 --steps "$STEPS" --eval-every "$STEPS" $COSTS
  add eamsgd-p4-tau$tau --method eamsgd --workers 4 --tau $tau --lr 0.002 --momentum 0.99 --steps "$STEPS" --eval-every "$STEPS" $COSTS
  add downpour-p4-tau$tau --method downpour --workers 4 --tau $tau --lr 0.05 --steps "$STEPS" --eval-every "$STEPS" $COSTS
done
add mdownpour-p4-tau1 --method mdownpour --workers 4 --lr 0.002 --momentum 0.99 --steps "$STEPS" --eval-every "$STEPS" $COSTS
for p in 4 8 16; do
  add easgd-p$p-tau10 --method easgd --workers $p --tau 10 --lr 0.05 --steps "$STEPS" --eval-every $((p * STEPS / 4)) $COSTS
  add downpour-p$p-tau10 --method downpour --workers $p --tau 10 --lr 0.05 --steps "$STEPS" --eval-every $((p * STEPS / 4)) $COSTS
done
# A learning-rate check at p = 4, τ = 4 (τ = 1 for MDOWNPOUR): each method also at smaller and larger η than its
# guess above, and MSGD at twice its η, to see whether the ranking is an artefact of one guess.
for eta in 0.02 0.1 0.2; do
  add lr-easgd-p4-tau4-eta$eta --method easgd --workers 4 --tau 4 --lr $eta --steps "$STEPS" --eval-every "$STEPS" $COSTS
done
for eta in 0.001 0.004 0.008; do
  add lr-eamsgd-p4-tau4-eta$eta --method eamsgd --workers 4 --tau 4 --lr $eta --momentum 0.99 --steps "$STEPS" --eval-every "$STEPS" $COSTS
  add lr-mdownpour-p4-tau1-eta$eta --method mdownpour --workers 4 --lr $eta --momentum 0.99 --steps "$STEPS" --eval-every "$STEPS" $COSTS
done
for eta in 0.005 0.02; do
  add lr-downpour-p4-tau4-eta$eta --method downpour --workers 4 --tau 4 --lr $eta --steps "$STEPS" --eval-every "$STEPS" $COSTS
done
for eta in 0.016 0.032 0.064; do
  add lr-eamsgd-p4-tau4-eta$eta --method eamsgd --workers 4 --tau 4 --lr $eta --momentum 0.99 --steps "$STEPS" --eval-every "$STEPS" $COSTS
done
for eta in 0.004 0.008 0.016; do
  add lr-msgd-p1-eta$eta --method mdownpour --workers 1 --lr $eta --momentum 0.99 --steps "$STEPS" --eval-every "$STEPS" \
    --compute-seconds 0.1325 --communication-seconds 0
done

echo "$(wc -l < "$jobs_file") runs to do, $JOBS at a time, into $OUT"
xargs -P "$JOBS" -I{} sh -c '{}' < "$jobs_file" || true
rm -f "$jobs_file"

# Figures: one per τ (Figure 2) and one for the p sweep (Figure 3), against virtual time.
mkdir -p plots/experiments
for tau in 1 4 16 64; do
  runs="$OUT/msgd-p1 $OUT/easgd-p4-tau$tau $OUT/eamsgd-p4-tau$tau $OUT/downpour-p4-tau$tau"
  labels=(--label "MSGD p=1" --label "EASGD" --label "EAMSGD" --label "DOWNPOUR")
  if [ $tau = 1 ]; then runs="$runs $OUT/mdownpour-p4-tau1"; labels+=(--label "MDOWNPOUR"); fi
  $E plot $runs "${labels[@]}" --title "CIFAR-10 copy, p = 4, tau = $tau (virtual time; $STEPS steps per worker)" \
    --log-y --out plots/experiments/figure2-tau$tau
done
$E plot $OUT/easgd-p4-tau10 $OUT/easgd-p8-tau10 $OUT/easgd-p16-tau10 $OUT/downpour-p4-tau10 $OUT/downpour-p8-tau10 $OUT/downpour-p16-tau10 \
  --label "EASGD p=4" --label "EASGD p=8" --label "EASGD p=16" --label "DOWNPOUR p=4" --label "DOWNPOUR p=8" --label "DOWNPOUR p=16" \
  --title "CIFAR-10 copy, tau = 10 (virtual time; $STEPS steps per worker)" --log-y --out plots/experiments/figure3
# The summary table: settings, best and final test error, virtual time and status of every run.
$E runs "$OUT"/*/ | tee "$OUT/summary.txt"
