#!/usr/bin/env bash
# The edge of stability (Cohen et al., ICLR 2021) reproduced, and asked of elastic averaging. Full-batch training
# on a fixed 1,000-image Fashion-MNIST subset (--train-subset 1000 --full-batch: no shuffling, crops, flips or
# dropout) of the small net, the sharpness h_max of the full-batch loss measured along the way
# (--sharpness-every), and each run's threshold h* from its map:
#   GD (sgd) at η ∈ {0.01, 0.02, 0.04, 0.08}: h* = 2/η;
#   Nesterov (msgd) at (η, δ) ∈ {(0.01, 0.9), (0.02, 0.5)}: h* = 2(1 + δ)/(η(1 + 2δ));
#   EASGD, EAMSGD (δ = 0.5) and DOWNPOUR with p = 4, τ = 1, η = 0.04 on the simulated backend (round-robin), the
#   center's and every worker's sharpness: h* is the root along h of
#   ρ(F(h)) = 1 of the round-robin map at the run's (η, α, τ, p, δ).
# Runs go two at a time (one thread each); finished runs are skipped and interrupted ones resumed from their
# checkpoints, so the campaign can run in parts. Then `plateau.py` summarises (median and quartiles of the last
# third of each run's sharpness, relative to h* and to 2/η) and `easgd plot --sharpness` draws the figures.
# Usage: benchmarks/validation/edge-of-stability.sh   (or make validation); OUT, STEPS, JOBS can be overridden.
set -euo pipefail
cd "$(dirname "$0")/../.."
E=${EASGD:-.build/release/easgd}
OUT=${OUT:-.build/validation/eos}
STEPS=${STEPS:-1500}          # sequential runs; each parallel worker takes STEPS / 3
JOBS=${JOBS:-2}
NET="(1,28)C(8,24)P(8,12)D(64,1)S(10,1)"
COMMON="--train-subset 1000 --full-batch --net $NET --threads 1 --quiet"
mkdir -p "$OUT"

jobs_file=$(mktemp)
trap 'rm -f "$jobs_file"' EXIT
add() {  # name, arguments
  local name=$1; shift
  if grep -q '"completed"' "$OUT/$name/status.json" 2>/dev/null; then return; fi
  if [ -f "$OUT/$name/checkpoint.bin" ]; then
    echo "$E train --resume $OUT/$name --quiet > $OUT/$name.log 2>&1" >> "$jobs_file"
  else
    rm -rf "$OUT/$name"
    # Quoted for the shell that runs the line: a net notation holds parentheses.
    echo "$E train $(printf '%q ' "$@" $COMMON)--out $OUT/$name > $OUT/$name.log 2>&1" >> "$jobs_file"
  fi
}
# The sharpness every STEPS/50 steps made odd (31 for 1,500): GD at its edge alternates with period 2, and an even
# interval samples one phase only (every 30 steps showed η = 0.02 at 1.22 × 2/η, the upper phase of a cycle whose
# other phase sits at 2/η).
every=$(( (STEPS / 50) | 1 )); eval_every=$((STEPS / 10))
for lr in 0.01 0.02 0.04 0.08; do
  add gd-lr$lr --method sgd --lr $lr --steps "$STEPS" --eval-every $eval_every --sharpness-every $every
done
add nesterov-lr0.01-d0.9 --method msgd --lr 0.01 --momentum 0.9 --steps "$STEPS" --eval-every $eval_every --sharpness-every $every
add nesterov-lr0.02-d0.5 --method msgd --lr 0.02 --momentum 0.5 --steps "$STEPS" --eval-every $eval_every --sharpness-every $every
p=4; worker_steps=$((STEPS / 3)); total=$((p * worker_steps))
PAR="--workers $p --tau 1 --lr 0.04 --steps $worker_steps --backend simulated --compute-seconds 0.01 --eval-every $((total / 10)) --sharpness-every $((total / 20)) --sharpness-of workers"
# (Clock order with equal compute costs and free communication is round-robin order: an EASGD run in clock order
# gave records identical to these, wall seconds aside, for its first 1,200 steps, so it is not repeated here.)
add easgd-p4-rr --method easgd $PAR --schedule round-robin
add eamsgd-p4-rr --method eamsgd --momentum 0.5 $PAR --schedule round-robin
add downpour-p4-rr --method downpour $PAR --schedule round-robin

echo "$(wc -l < "$jobs_file") runs to do in $OUT ($JOBS at a time)"
# A run that diverges exits 2: that is a result here, not a failure of the campaign.
xargs -d '\n' -P "$JOBS" -I{} sh -c '{}; s=$?; [ $s -eq 0 ] || [ $s -eq 2 ] || { echo "failed ($s): {}" >&2; exit 255; }' < "$jobs_file"
python3 benchmarks/validation/plateau.py "$E" "$OUT"
