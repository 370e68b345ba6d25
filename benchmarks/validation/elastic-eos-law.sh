#!/usr/bin/env bash
# The elastic edge-of-stability law, its sweeps (issue 32, item 1; notebook 05 states the hypotheses and the rules that
# decide between them before the runs were made: section 6 for α, section 8 for τ, p, δ and DOWNPOUR). Full batch on a
# 1,000-image Fashion-MNIST subset, the small net, η = 0.04, round-robin on the simulated backend, 500 steps per
# worker, three seeds per setting (the seed draws the initialisation and the subset). The center's sharpness every 37
# total steps: an odd interval, so a period-2 cycle shows both of its phases. Then eos_law.py measures each run's
# plateau, reads the round map's h* and the rivals' predictions, and applies each sweep's stated rule.
# Runs go JOBS at a time (one thread each); finished runs are skipped, interrupted ones resumed from their checkpoints.
# Usage: benchmarks/validation/elastic-eos-law.sh   (OUT, STEPS, JOBS, SEEDS, SETTINGS, SHARPNESS_EVERY, EVAL_EVERY and
# ANALYSIS can be overridden; catapult.sh runs section 9's catapults through it)
set -euo pipefail
cd "$(dirname "$0")/../.."
E=${EASGD:-.build/release/easgd}
OUT=${OUT:-.build/validation/eos-law}
STEPS=${STEPS:-500}           # per worker
JOBS=${JOBS:-2}
SEEDS=${SEEDS:-1 2 3}
# One setting per line: method workers tau alpha momentum [eta [outer_lr]] ("-" where the method has none; η 0.04 if
# absent; DiLoCo's outer step is Nesterov with β = 0.9 at outer_lr, H = tau).
SETTINGS=${SETTINGS:-"
easgd 4 1 0.05 -
easgd 4 1 0.225 -
easgd 4 1 0.5 -
easgd 4 1 0.7 -
easgd 4 1 0.85 -
easgd 4 4 0.7 -
easgd 4 16 0.7 -
easgd 2 1 0.5 -
easgd 8 1 0.5 -
eamsgd 4 1 0.7 0
eamsgd 4 1 0.7 0.5
eamsgd 4 1 0.7 0.9
downpour 4 1 - -
downpour 4 2 - -
downpour 4 4 - -
downpour 2 1 - -
downpour 8 1 - -
diloco 4 1 - - 0.04 1.0
diloco 4 2 - - 0.04 1.0
diloco 4 3 - - 0.04 1.0
"}
SHARPNESS_EVERY=${SHARPNESS_EVERY:-37}   # total steps; odd
EVAL_EVERY=${EVAL_EVERY:-}               # total steps; default a quarter of the run
ANALYSIS=${ANALYSIS:-benchmarks/validation/eos_law.py}
NET="(1,28)C(8,24)P(8,12)D(64,1)S(10,1)"
mkdir -p "$OUT"
jobs_file=$(mktemp)
trap 'rm -f "$jobs_file"' EXIT
while read -r method workers tau alpha momentum eta outer_lr; do
  [ -n "$method" ] || continue
  for seed in $SEEDS; do
    name=$method-p$workers-t$tau
    args=(--method "$method" --workers "$workers" --tau "$tau")
    if [ "$alpha" != - ]; then name=$name-a$alpha; args+=(--alpha "$alpha"); fi
    if [ "$momentum" != - ]; then name=$name-d$momentum; args+=(--momentum "$momentum"); fi
    # η in the name only where the setting gave one (the sweeps at η = 0.04 keep their names; DiLoCo's lines give
    # η to reach the outer rate's column); $eta itself stays as read, for the next seed of the same line.
    if [ -n "$eta" ] && [ "$method" != diloco ]; then name=$name-lr$eta; fi
    if [ -n "$outer_lr" ]; then name=$name-olr$outer_lr; args+=(--outer nesterov --outer-lr "$outer_lr" --outer-momentum 0.9); fi
    name=$name-s$seed
    total=$((workers * STEPS))
    if grep -q '"completed"\|"diverged"' "$OUT/$name/status.json" 2>/dev/null; then continue; fi
    if [ -f "$OUT/$name/checkpoint.bin" ]; then
      echo "$E train --resume $(printf '%q' "$OUT/$name") --quiet > $(printf '%q' "$OUT/$name.log") 2>&1" >> "$jobs_file"
    else
      rm -rf "$OUT/$name"
      echo "$E train $(printf '%q ' "${args[@]}" --lr "${eta:-0.04}" --seed "$seed" --steps "$STEPS" --backend simulated \
        --compute-seconds 0.01 --schedule round-robin --eval-every "${EVAL_EVERY:-$((total / 4))}" --sharpness-every "$SHARPNESS_EVERY" \
        --train-subset 1000 --full-batch --net "$NET" --threads 1 --quiet --out "$OUT/$name") \
        > $(printf '%q' "$OUT/$name.log") 2>&1" >> "$jobs_file"
    fi
  done
done <<< "$SETTINGS"
echo "$(wc -l < "$jobs_file") runs to do in $OUT ($JOBS at a time)"
# A run that diverges exits 2: that is a result here, not a failure of the sweep.
xargs -d '\n' -P "$JOBS" -I{} sh -c '{}; s=$?; [ $s -eq 0 ] || [ $s -eq 2 ] || { echo "failed ($s): {}" >&2; exit 255; }' < "$jobs_file"
python3 "$ANALYSIS" "$E" "$OUT"
