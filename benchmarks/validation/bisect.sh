#!/usr/bin/env bash
# Real-net boundaries by bisection (issue 32, item 2; notebook 05, section 7): `easgd validate --bisect` at p = 4,
# round-robin, full batch on a 500-image Fashion-MNIST subset with the small net of sections 3–5, the map read at
# the common starting point's h_max: EASGD along α ∈ {0.05, 0.25, 0.45, 0.65, 0.85}, EAMSGD along δ ∈ {0, 0.3, 0.6,
# 0.9}, DOWNPOUR along τ ∈ {1, 2, 3}; and EASGD on the paper's CIFAR net (256-image CIFAR-10 subset) along α ∈
# {0.1, 0.5}. η within 0.01:10, bisected to 5 %. Budgets: 500 steps per worker on Fashion (500 rounds at τ = 1: a
# radius of 1.01 grows 100× in 463), 1,400 for DOWNPOUR (467 rounds at τ = 3), 100 on the CIFAR net (fewer than
# the rule asks: each step there costs 20 times more). Resumable: each validate finds its finished runs again.
# Usage: benchmarks/validation/bisect.sh   (OUT, JOBS, CIFAR can be overridden)
set -euo pipefail
cd "$(dirname "$0")/../.."
E=${EASGD:-.build/release/easgd}
OUT=${OUT:-.build/validation/bisect}
JOBS=${JOBS:-2}
CIFAR=${CIFAR:-../shared/data/cifar10-jpeg}
NET="(1,28)C(8,24)P(8,12)D(64,1)S(10,1)"
COMMON=(--workers 4 --eta 0.01:10 --bisect --tolerance 1.05 --train-subset 500 --full-batch --net "$NET" --jobs "$JOBS")
mkdir -p "$OUT"
"$E" validate --method easgd --alpha 0.05:0.85 --grid 1x5 --steps 500 "${COMMON[@]}" --out "$OUT/fashion-easgd"
"$E" validate --method eamsgd --momentum-range 0:0.9 --grid 1x4 --steps 500 "${COMMON[@]}" --out "$OUT/fashion-eamsgd"
"$E" validate --method downpour --tau-range 1:3 --grid 1x3 --steps 1400 "${COMMON[@]}" --out "$OUT/fashion-downpour"
if [ -d "$CIFAR" ]; then
  "$E" validate --method easgd --alpha 0.1:0.5 --grid 1x2 --steps 100 --workers 4 --eta 0.001:10 --bisect --tolerance 1.05 \
    --net cifar --data "$CIFAR" --train-subset 256 --full-batch --jobs "$JOBS" --out "$OUT/cifar-easgd"
fi
