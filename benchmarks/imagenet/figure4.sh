#!/usr/bin/env bash
# The paper's Figure 4 on ImageNet, for a researcher with ILSVRC-2012 on disk and the time: EASGD and EAMSGD
# (τ = 10, EAMSGD δ = 0.99) and DOWNPOUR (τ = 1) at p = 4 and p = 8 with the paper's 11-layer net (--net imagenet),
# batch 128, and the paper's learning-rate rule ("decreased twice, by a factor of 5 and then 2, when the online
# predictive loss stagnates": --lr-schedule plateau:0.2,0.5:PATIENCE on the evaluations' training loss), beside
# sequential MSGD (δ = 0.99); then one figure per p (test error and training loss against the virtual clock).
#
# Every worker is a device of its own on the simulated backend's clock (each step costs COMPUTE_SECONDS, each
# exchange COMMUNICATION_SECONDS, as the CIFAR campaign), so the figure's time axis is the paper's parallel one
# whatever this machine has; the compute is real (every step of every worker is taken here, on THREADS threads).
#
# The learning rates are the CIFAR campaign's picks (benchmarks/experiments: EASGD 0.1, EAMSGD 0.016, DOWNPOUR
# 0.05, MSGD 0.008), not the paper's ImageNet values (not checked from this machine): search them first with a short
# STEPS. Finished runs are skipped and interrupted ones resumed from their checkpoints (Ctrl-C stops at one).
#
# Usage: make imagenet-figure4 IMAGENET=/data/ILSVRC2012   (or STORE=an existing store). Overridable: STORE, OUT,
#   STEPS (per worker, default 1000), TEST_SUBSET (default 10000 validation images per evaluation), EVALUATIONS
#   (per run, default 20), PATIENCE (default 2), COMPUTE_SECONDS (default: measured here by bench train),
#   COMMUNICATION_SECONDS (default 0.153: the master's time per ImageNet exchange, benchmarks/README.md), THREADS,
#   SEEDS (default "1"; a comparison a referee accepts needs three: SEEDS="1 2 3", three times the cost, drawn as
#   the mean with a min–max band), NET (default imagenet) and BATCH (default 128), for a dry run on a small store.
# Cost on this machine (AMD EPYC, 2 cores; the net trains at 75.8 img/s, bench train --batch 32 --threads 2): the
# import about 30 min (850 images/s on 2 threads) and about 350 GB (a 500 × 375 JPEG stores 341 × 256 × 3 bytes);
# per seed, STEPS steps of batch 128 at p = 1 and 3 × (4 + 8) × STEPS at p = 4 and 8: 37 × STEPS × 1.7 s, about
# 17 h at STEPS = 1000, plus the evaluations (20 per run of 10,000 images, about 45 s each: 1.8 h); linear in STEPS.
set -euo pipefail
cd "$(dirname "$0")/../.."
E=${EASGD:-.build/release/easgd}
STORE=${STORE:-.build/imagenet-256}
OUT=${OUT:-.build/figure4}
STEPS=${STEPS:-1000}
TEST_SUBSET=${TEST_SUBSET:-10000}
EVALUATIONS=${EVALUATIONS:-20}
PATIENCE=${PATIENCE:-2}
THREADS=${THREADS:-$(nproc)}
SEEDS=${SEEDS:-1}
NET=${NET:-imagenet}
BATCH=${BATCH:-128}
COMMUNICATION_SECONDS=${COMMUNICATION_SECONDS:-0.153}

if [ ! -f "$STORE/manifest.json" ]; then
  if [ -z "${IMAGENET:-}" ]; then
    echo "easgd: give IMAGENET=DIR (ILSVRC-2012's train/ and val/) or STORE=an image store made by easgd data import" >&2
    exit 64
  fi
  "$E" data import imagenet "$IMAGENET" --out "$STORE" ${VAL_LABELS:+--val-labels "$VAL_LABELS"}
fi
if [ -z "${COMPUTE_SECONDS:-}" ]; then
  rate=$("$E" bench train --net imagenet --batch 128 --threads "$THREADS" | grep -o '[0-9.,]* img/s' | head -1 | tr -d ', img/s')
  COMPUTE_SECONDS=$(python3 -c "import sys; print(round(128 / float(sys.argv[1]), 4))" "$rate")
  echo "a step of batch 128 takes $COMPUTE_SECONDS s here ($rate img/s on $THREADS threads)"
fi
mkdir -p "$OUT"
COMMON=(--net "$NET" --data "$STORE" --batch "$BATCH" --threads "$THREADS" --test-subset "$TEST_SUBSET"
        --lr-schedule "plateau:0.2,0.5:$PATIENCE" --backend simulated --compute-seconds "$COMPUTE_SECONDS"
        --checkpoint-every 10 --quiet)
run() {  # name, workers, arguments
  local name=$1 p=$2; shift 2
  local dir=$OUT/$name
  if grep -q '"completed"' "$dir/status.json" 2>/dev/null; then echo "$name: done"; return; fi
  echo "$name: $(date -u +%H:%M) starting"
  local status=0
  if [ -f "$dir/checkpoint.bin" ]; then
    "$E" train --resume "$dir" --quiet || status=$?
  else
    rm -rf "$dir"
    local comm=0; [ "$p" -gt 1 ] && comm=$COMMUNICATION_SECONDS
    "$E" train "$@" --workers "$p" --steps "$STEPS" --eval-every $((p * STEPS / EVALUATIONS)) \
      --communication-seconds "$comm" "${COMMON[@]}" --out "$dir" || status=$?
  fi
  # A run that diverges (exit 2) is a result; any other failure stops the campaign.
  [ $status -eq 0 ] || [ $status -eq 2 ] || { echo "easgd: $name failed (exit $status)" >&2; exit $status; }
}
for seed in $SEEDS; do
  run msgd-p1-s$seed 1 --method mdownpour --lr 0.008 --momentum 0.99 --seed "$seed"
  for p in 4 8; do
    run easgd-p$p-tau10-s$seed $p --method easgd --tau 10 --lr 0.1 --seed "$seed"
    run eamsgd-p$p-tau10-s$seed $p --method eamsgd --tau 10 --lr 0.016 --momentum 0.99 --seed "$seed"
    run downpour-p$p-tau1-s$seed $p --method downpour --tau 1 --lr 0.05 --seed "$seed"
  done
done
group=(); [ "$(wc -w <<< "$SEEDS")" -gt 1 ] && group=(--group-seeds)
for p in 4 8; do
  dirs=()
  for name in easgd-p$p-tau10 eamsgd-p$p-tau10 downpour-p$p-tau1 msgd-p1; do
    for seed in $SEEDS; do dirs+=("$OUT/$name-s$seed"); done
  done
  "$E" plot "${dirs[@]}" "${group[@]}" --label "EASGD τ=10" --label "EAMSGD τ=10" --label "DOWNPOUR τ=1" --label "MSGD" \
    --title "ImageNet, the paper's 11-layer net, p = $p (virtual clock)" --out "$OUT/figure4-p$p"
done
echo "figures: $OUT/figure4-p4.png, $OUT/figure4-p8.png"
