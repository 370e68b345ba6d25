#!/usr/bin/env bash
# Issue 33, item 4, second half (notebook 02 states the questions and rules before the runs):
#  1. Figure 3 at p = 16 run with the master's queue on, at the GPU-era clock the re-timing used (15 ms a step, the link
#     model's one server moving an exchange in 2.5 ms, one request at a time): EAMSGD τ = 10 (η = 0.016) and DOWNPOUR
#     τ = 1 (η = 0.05), 4 epochs per worker, seed 1 as the re-timed records; does the re-timing's prediction hold once
#     the queue can reorder arrivals?
#  2. The τ = 1 comparison in random order next to round-robin: DOWNPOUR (η = 0.05), p = 4, 8 epochs per worker, seeds
#     1-3 in each order (the order's draws come from the seed).
# Resumable: finished runs are kept, interrupted ones resumed from their checkpoints; JOBS at a time, one thread each.
# Usage: benchmarks/experiments/clock-order.sh   (OUT, JOBS, DATA, EXTRA can be overridden)
set -euo pipefail
cd "$(dirname "$0")/../.."
E=${EASGD:-.build/release/easgd}
OUT=${OUT:-.build/experiments/clock-order}
JOBS=${JOBS:-2}
DATA=${DATA:-../shared/data/cifar10-jpeg}
mkdir -p "$OUT"
common=(--backend simulated --net cifar --data "$DATA" --batch 128 --init-seed 1 --compute-seconds 0.015 --checkpoint-every 5 --quiet ${EXTRA:-})

. benchmarks/experiments/runs.sh

queue=(--link-bandwidth 1.12623e9 --steps 1563 --eval-every 782 --seed 1)
{
  run fig3q-eamsgd-p16-tau10 --method eamsgd --workers 16 --tau 10 --momentum 0.99 --lr 0.016 "${queue[@]}"
  run fig3q-downpour-p16-tau1 --method downpour --workers 16 --tau 1 --lr 0.05 "${queue[@]}"
  # The same without the queue (a fixed 2.5 ms an exchange), on this machine and build: the queue's own effect, and
  # the record the re-timing's prediction is made from.
  run fig3nq-downpour-p16-tau1 --method downpour --workers 16 --tau 1 --lr 0.05 --communication-seconds 0.0025 \
    --steps 1563 --eval-every 782 --seed 1
  for seed in 1 2 3; do
    for order in round-robin random; do
      run "order-downpour-p4-$order-s$seed" --method downpour --workers 4 --tau 1 --lr 0.05 --schedule "$order" \
        --communication-seconds 0.0025 --steps 3125 --eval-every 391 --seed "$seed"
    done
  done
} | go

$E runs "$OUT"/fig3q-*[0-9] "$OUT"/fig3nq-*[0-9] --targets 40,35,30
python3 benchmarks/experiments/retime.py "$OUT"/fig3nq-downpour-p16-tau1 --compute 0.015 --exchange 0.0025 --targets 40,35,30
$E runs "$OUT"/order-downpour-p4-round-robin-s? --group-seeds --targets 40,35,30
$E runs "$OUT"/order-downpour-p4-random-s? --group-seeds --targets 40,35,30
