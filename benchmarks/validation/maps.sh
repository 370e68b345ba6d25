#!/usr/bin/env bash
# The stability maps tested on real training (`easgd validate`): at p = 4, round-robin, one deterministic
# full-batch run per grid point, DOWNPOUR over (η, τ), EASGD over (η, α) and EAMSGD over (η, δ), each on
#   the quadratic ½h(x − 1)² (h = 1; the engine and the map are the same system there; also p = 8),
#   the edge-of-stability net (1,28)C(8,24)P(8,12)D(64,1)S(10,1) on a 500-image Fashion-MNIST subset (100 steps
#   per worker),
#   the paper's CIFAR net on a 256-image CIFAR-10 subset (a 3 × 3 grid, 30 steps per worker),
# the map read at h_max of the full-batch loss at the runs' common starting point. Points already run are kept
# (each is a run directory under OUT/NAME/points), so the script can run in parts.
# Usage: benchmarks/validation/maps.sh   (or make validation); OUT, CIFAR, JOBS can be overridden.
set -euo pipefail
cd "$(dirname "$0")/../.."
E=${EASGD:-.build/release/easgd}
OUT=${OUT:-.build/validation/maps}
CIFAR=${CIFAR:-../shared/data/cifar10-jpeg}
JOBS=${JOBS:-2}
NET="(1,28)C(8,24)P(8,12)D(64,1)S(10,1)"
mkdir -p "$OUT"
run() {  # name, arguments (p = 4 unless they give --workers)
  local name=$1; shift
  echo "== $name"
  "$E" validate --workers 4 "$@" --jobs "$JOBS" --out "$OUT/$name" || [ $? -eq 3 ]
}
AXES_DOWNPOUR="--method downpour --tau-range 1:16"
AXES_EASGD="--method easgd --alpha 0.02:0.9"
AXES_EAMSGD="--method eamsgd --momentum-range 0:0.95 --beta 0.9"
for m in DOWNPOUR EASGD EAMSGD; do
  axes=AXES_$m; name=$(echo $m | tr A-Z a-z)
  run quadratic-$name ${!axes} --objective quadratic --h 1 --eta 0.005:3 --grid 16x10 --steps 2000
  run quadratic-p8-$name ${!axes} --objective quadratic --h 1 --eta 0.005:3 --grid 16x10 --steps 2000 --workers 8
  run fashion-$name ${!axes} --net "$NET" --eta 0.002:2 --grid 6x5 --steps 100 --train-subset 500 --full-batch
done
# The CIFAR net last: each of its points takes minutes here.
if [ -d "$CIFAR" ]; then
  for m in DOWNPOUR EASGD EAMSGD; do
    axes=AXES_$m; name=$(echo $m | tr A-Z a-z)
    run cifar-$name ${!axes} --net cifar --data "$CIFAR" --eta 0.001:1 --grid 3x3 --steps 30 --train-subset 256 --full-batch
  done
fi
