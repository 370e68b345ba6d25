#!/usr/bin/env bash
# The elastic edge-of-stability law, its decisive sweep (issue 32, item 1; notebook 05, section 7, which states the
# hypotheses and the rule that decides between them before these runs were made): full-batch EASGD, p = 4, τ = 1,
# η = 0.04, round-robin on the simulated backend, α ∈ {0.05, 0.225, 0.5, 0.7, 0.85} — the round map's threshold h*
# spreads 3.6× over them (48.7 → 13.7) where GD's 2/η is a flat 50 — three seeds each (the seed draws the
# initialisation and the 1,000-image subset). The center's sharpness every 37 worker steps: an odd interval, so a
# period-2 cycle shows both of its phases. Then eos_law.py fits the plateau against h* and scores the rivals.
# Runs go JOBS at a time (one thread each); finished runs are skipped, interrupted ones resumed from their checkpoints.
# Usage: benchmarks/validation/elastic-eos-law.sh   (OUT, STEPS, JOBS, SEEDS, ALPHAS can be overridden)
set -euo pipefail
cd "$(dirname "$0")/../.."
E=${EASGD:-.build/release/easgd}
OUT=${OUT:-.build/validation/eos-law}
STEPS=${STEPS:-500}           # per worker
JOBS=${JOBS:-2}
SEEDS=${SEEDS:-1 2 3}
ALPHAS=${ALPHAS:-0.05 0.225 0.5 0.7 0.85}
NET="(1,28)C(8,24)P(8,12)D(64,1)S(10,1)"
mkdir -p "$OUT"
jobs_file=$(mktemp)
trap 'rm -f "$jobs_file"' EXIT
total=$((4 * STEPS))
for alpha in $ALPHAS; do
  for seed in $SEEDS; do
    name=easgd-a$alpha-s$seed
    if grep -q '"completed"\|"diverged"' "$OUT/$name/status.json" 2>/dev/null; then continue; fi
    if [ -f "$OUT/$name/checkpoint.bin" ]; then
      echo "$E train --resume $(printf '%q' "$OUT/$name") --quiet > $(printf '%q' "$OUT/$name.log") 2>&1" >> "$jobs_file"
    else
      rm -rf "$OUT/$name"
      echo "$E train $(printf '%q ' --method easgd --workers 4 --tau 1 --lr 0.04 --alpha "$alpha" --seed "$seed" \
        --steps "$STEPS" --backend simulated --compute-seconds 0.01 --schedule round-robin --eval-every $((total / 4)) \
        --sharpness-every 37 --train-subset 1000 --full-batch --net "$NET" --threads 1 --quiet --out "$OUT/$name") \
        > $(printf '%q' "$OUT/$name.log") 2>&1" >> "$jobs_file"
    fi
  done
done
echo "$(wc -l < "$jobs_file") runs to do in $OUT ($JOBS at a time)"
# A run that diverges exits 2: that is a result here, not a failure of the sweep.
xargs -d '\n' -P "$JOBS" -I{} sh -c '{}; s=$?; [ $s -eq 0 ] || [ $s -eq 2 ] || { echo "failed ($s): {}" >&2; exit 255; }' < "$jobs_file"
python3 benchmarks/validation/eos_law.py "$E" "$OUT"
