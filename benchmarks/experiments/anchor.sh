#!/usr/bin/env bash
# The anchor (issue 33, item 2; notebook 02 states the question and the rule before the runs): can this pipeline —
# the paper's CIFAR net on the JPEG copy of CIFAR-10, MSGD with Nesterov δ = 0.99, batch 128, weight decay 1e-4 —
# reach the paper's ~21 % test error at all? Stage A: η ∈ {0.002, 0.004, 0.008, 0.016} for 8 epochs (seed 1); the rate
# with the lowest mean of its last two test errors goes on. Stage B: that η, constant, 60 epochs, seeds 1, 2, 3
# from one initialisation (--init-seed 1, the paper's "3 times independently from the same initialization"), and
# stage C, for contrast: seed 1 with η divided by 10 at epochs 30 and 45 (CONTRAST=0 leaves it out). One evaluation per epoch on all
# 10,000 test images. Resumable: finished runs are kept, interrupted ones resumed from their checkpoints; runs go
# JOBS at a time, one thread each. Then the group's statistics and times to 30, 25 and 21 % (easgd runs), and the
# figure (easgd plot).
# Usage: benchmarks/experiments/anchor.sh   (CONTRAST=0 leaves stage C out; OUT, JOBS, DATA, EPOCHS, SEARCH_EPOCHS, RATES, EVAL_EVERY can be
# overridden; EXTRA adds options to every run, e.g. EXTRA="--train-subset 256 --test-subset 256" for a dry run)
set -euo pipefail
cd "$(dirname "$0")/../.."
E=${EASGD:-.build/release/easgd}
OUT=${OUT:-.build/experiments/anchor}
JOBS=${JOBS:-2}
DATA=${DATA:-../shared/data/cifar10-jpeg}
EPOCHS=${EPOCHS:-60}
SEARCH_EPOCHS=${SEARCH_EPOCHS:-8}
RATES=${RATES:-0.002 0.004 0.008 0.016}
mkdir -p "$OUT"
common=(--method msgd --momentum 0.99 --net cifar --data "$DATA" --batch 128 --threads 1 --eval-every "${EVAL_EVERY:-391}" --quiet ${EXTRA:-})

. benchmarks/experiments/runs.sh

echo "stage A: eta in {$RATES}, $SEARCH_EPOCHS epochs, seed 1"
for eta in $RATES; do run "search-lr$eta" --lr "$eta" --seed 1 --init-seed 1 --epochs "$SEARCH_EPOCHS"; done | go
# The rate whose last two test errors have the lowest mean (one evaluation per epoch).
best=$(for eta in $RATES; do
  python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; e=[x["test_error"] for x in r[-2:]]; print(sum(e)/len(e), sys.argv[2])' \
    "$OUT/search-lr$eta/metrics.jsonl" "$eta"
done | sort -g | head -1 | cut -d' ' -f2)
echo "stage A chose eta = $best"
echo "$best" > "$OUT/chosen-eta"

echo "stage B and C: eta = $best, $EPOCHS epochs"
{
  for seed in 1 2 3; do run "msgd-s$seed" --lr "$best" --seed "$seed" --init-seed 1 --epochs "$EPOCHS"; done
  if [ "${CONTRAST:-1}" = 1 ]; then
    run "msgd-step-s1" --lr "$best" --lr-schedule "step:$((EPOCHS / 2)),$((EPOCHS * 3 / 4)):0.1" --seed 1 --init-seed 1 --epochs "$EPOCHS"
  fi
} | go

contrast=(); labels=(--label "MSGD, constant η = $best (3 seeds)")
if [ -d "$OUT/msgd-step-s1" ]; then
  contrast=("$OUT/msgd-step-s1"); labels+=(--label "MSGD, η ÷ 10 at epochs $((EPOCHS / 2)) and $((EPOCHS * 3 / 4)) (seed 1)")
fi
$E runs "$OUT"/search-lr*[0-9] "$OUT"/msgd-s? "${contrast[@]}" --group-seeds --targets 30,25,21
$E plot "$OUT"/msgd-s1 "$OUT"/msgd-s2 "$OUT"/msgd-s3 "${contrast[@]}" --group-seeds --targets 30,25,21 --x epochs "${labels[@]}" \
  --title "The anchor: MSGD on the paper's CIFAR net, batch 128, δ = 0.99" --out "$OUT/anchor"
