# The README's two commands: `make run` (the stability maps of the paper) and `make test`.
# Both install the Debian packages they need when missing (root, or sudo).

SWIFT   ?= swift
EASGD   := .build/release/easgd
DEBS    := pkg-config python3 iproute2 libopenblas-dev liblapacke-dev libdnnl-dev gnuplot-nox zlib1g-dev dataset-fashion-mnist libopenmpi-dev openmpi-bin libturbojpeg0-dev
GRID    ?= 400x400

# What only the tests need: a real browser for the explorer's browser test, TensorBoard's reader for the export's.
TEST_DEBS := chromium
TEST_PIPS := tensorboard pillow

.PHONY: deps test-deps build run test browser-test docs bench torch quality experiments validation imagenet-figure4 fuzz tsan clean

deps:
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(DEBS)"

test-deps: deps
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(TEST_DEBS)"
	@python3 -c "import tensorboard, PIL" 2>/dev/null || { echo "installing from PyPI: $(TEST_PIPS)"; python3 -m pip install -q $(TEST_PIPS); }

.PHONY: install-debs
install-debs:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

build: deps
	$(SWIFT) build -c release --product easgd

# Figure 1 of the paper (ADMM, p = 3 and 8) next to EASGD, the EASGD condition for odd and even p,
# and the chaotic ADMM run; then the analyses beyond it: synchronous EASGD's MSE (the appendix), EAMSGD,
# τ local steps, DOWNPOUR and random-order asynchrony. Figures into plots/ (their CSV/JSON are not committed).
run: build
	@mkdir -p plots
	$(EASGD) compare --workers 3,8 --grid $(GRID) --out plots/figure1
	$(EASGD) map --method easgd --workers 3 --eta 0.002:2.4 --alpha 0.002:1.2 --grid 300x300 --out plots/easgd-condition-p3
	$(EASGD) map --method easgd --workers 2 --eta 0.002:2.4 --alpha 0.002:1.2 --grid 300x300 --out plots/easgd-condition-p2
	$(EASGD) simulate --method admm --workers 3 --eta 0.001 --rho 2.5 --rounds 100000 --init 1000 --out plots/admm-chaos-p3
	@mkdir -p plots/variance plots/beyond
	$(EASGD) variance-map --out plots/variance/mse
	$(EASGD) compare --workers 8 --eta 0.001:2 --alpha 0.001:1 --variant "eamsgd delta=0" --variant "eamsgd delta=0.9" --variant "eamsgd delta=0.99" --out plots/beyond/eamsgd
	$(EASGD) compare --workers 8 --eta 0.001:2 --alpha 0.001:1 --variant easgd --variant "easgd tau=4" --variant "easgd tau=16" --variant "easgd tau=64" --out plots/beyond/easgd-tau
	$(EASGD) compare --workers 8 --variant admm --variant "admm tau=4" --variant "admm tau=16" --variant "admm tau=64" --out plots/beyond/admm-tau
	$(EASGD) map --method downpour --workers 8 --eta 0.001:2 --log-eta --tau-range 1:64 --grid 300x64 --out plots/beyond/downpour-p8
	$(EASGD) compare --workers 8 --eta 0.001:2 --alpha 0.001:1 --variant easgd --variant "easgd schedule=random" --out plots/beyond/easgd-random
	$(EASGD) compare --workers 8 --variant admm --variant "admm schedule=random" --out plots/beyond/admm-random
	@mkdir -p plots/outer
	$(EASGD) map --method diloco --workers 8 --tau 4 --eta 0.01:1.99 --outer-lr-range 0.05:2 --out plots/outer/diloco-h4
	$(EASGD) map --method diloco --workers 8 --tau 5 --eta 0.01:1.99 --outer-lr-range 0.05:2 --out plots/outer/diloco-h5
	$(EASGD) map --method diloco --workers 8 --tau 5 --eta 0.01:1.99 --outer-momentum-range 0:0.99 --out plots/outer/diloco-h5-momentum
	$(EASGD) map --method async-diloco --workers 4 --tau 4 --eta 0.001:1.99 --log-eta --outer-momentum-range 0:0.99 --out plots/outer/async-diloco-p4-h4-momentum
	$(EASGD) map --method async-diloco --workers 4 --tau 4 --eta 0.001:1.99 --log-eta --outer-lr-range 0.05:2 --out plots/outer/async-diloco-p4-h4-lr
	for m in easgd downpour diloco async-diloco; do $(EASGD) map --method $$m --workers 4 --eta 0.001:1.99 --log-eta --tau-range 1:64 --grid 200x64 --out plots/outer/equal-communication-$$m; done
	$(EASGD) compare --workers 4 --eta 0.001:1.99 --log-eta --tau-range 1:64 --grid 150x64 --variant easgd --variant diloco \
	  --variant "diloco outer=sgd outer-lr=1" --out plots/outer/family-local-sgd
	$(EASGD) compare --workers 4 --eta 0.001:1.99 --log-eta --tau-range 1:64 --grid 150x64 --variant "diloco outer=sgd outer-lr=0.5" \
	  --variant "diloco outer=heavy-ball outer-lr=1 outer-momentum=0.5 inner-momentum=0.9" --variant async-diloco --out plots/outer/family-slowmo

test: test-deps
	$(SWIFT) build
	$(SWIFT) test
	EASGD=.build/debug/easgd python3 -m unittest discover -s benchmarks/experiments -p 'test_*.py'
	EASGD=.build/debug/easgd python3 -m unittest discover -s Tests/python -p 'test_*.py'
	$(MAKE) --no-print-directory browser-test
	$(MAKE) --no-print-directory docs

# The explorer in headless Chromium (about 12 s): the map drawn where the API says, a drag, a click, a live run.
browser-test: test-deps
	$(SWIFT) build --product easgd
	python3 Tests/browser/explorer_browser.py --easgd .build/debug/easgd

# The reference (Sources/easgd/Easgd.docc) as static HTML in .build/docs, with the curated figures of plots/
# (copied into a build copy of the catalog, named by their path: plots/beyond/eamsgd/compare.png is
# beyond-eamsgd-compare.png); DocC's warnings are errors.
DOCS    ?= .build/docs
docs:
	@rm -rf .build/docs-catalog && mkdir -p .build/docs-catalog/Easgd.docc/Resources
	@cp -R Sources/easgd/Easgd.docc/. .build/docs-catalog/Easgd.docc/
	@cd plots && find . -name '*.png' | while read -r f; do \
	  cp "$$f" "../.build/docs-catalog/Easgd.docc/Resources/$$(printf '%s' "$${f#./}" | tr / -)"; done
	docc convert .build/docs-catalog/Easgd.docc --output-path $(DOCS) --transform-for-static-hosting \
	  --fallback-display-name easgd --fallback-bundle-identifier org.easgd.toolkit --fallback-bundle-version 0.2.0 \
	  --warnings-as-errors
	@echo "docs: open $(DOCS)/documentation/easgd/index.html (or serve $(DOCS) over HTTP)"

# ADMM p = 8 on a 1000x1000 grid, then the numpy peer on the same grid (checks agreement, prints the ratio);
# then training steps of the paper's CIFAR net against PyTorch with 1 and 2 threads (and 1 against 2 threads in
# alternating blocks, --scaling); then the parallel engine
# (img/s of 1, 2, 4 workers, exchange share) and the MPI backend against the threads backend; and the codecs of
# compressed exchanges against a memory copy of the same bytes; the ImageNet import against Pillow + NumPy and the
# store's read rate.
bench: build torch
	@mkdir -p .build/bench
	$(EASGD) bench map --method admm --workers 8 --grid 1000x1000 --out .build/bench/admm-p8
	python3 benchmarks/peers/numpy_map.py .build/bench/admm-p8
	$(EASGD) bench train --net cifar --batch 128 --threads 1 --peer benchmarks/peers/torch_cnn.py
	$(EASGD) bench train --net cifar --batch 128 --threads 2 --scaling --peer benchmarks/peers/torch_cnn.py
	$(EASGD) bench engine --net cifar --batch 128 --workers 1,2,4 --steps 60
	python3 benchmarks/exchange.py --easgd $(EASGD)
	$(MAKE) --no-print-directory test-deps
	python3 benchmarks/explorer_latency.py --easgd $(EASGD)
	python3 benchmarks/imagenet_import.py --easgd $(EASGD)
	$(EASGD) bench codec
	EASGD=$(EASGD) benchmarks/mpi-vs-threads.sh

# The CPU build of PyTorch for the training peer (installs offline on these machines).
torch:
	@python3 -c "import torch" 2>/dev/null || pip install torch==2.13.0+cpu

# The training quality bars (benchmarks/README.md): Fashion-MNIST, small net, MSGD, 5 epochs; the paper's
# CIFAR-10 net on the CIFAR-10 copy, MSGD, 10 epochs. Runs into .build/quality/, figures into plots/.
CIFAR   ?= ../shared/data/cifar10-jpeg
quality: build
	@rm -rf .build/quality && mkdir -p .build/quality
	$(EASGD) train --method msgd --net small --data fashion-mnist --lr 0.02 --momentum 0.9 --batch 64 --epochs 5 --out .build/quality/fashion-msgd
	$(EASGD) plot .build/quality/fashion-msgd --label "MSGD, lr 0.02, momentum 0.9, batch 64" --title "Fashion-MNIST, small net" --x epochs --out plots/fashion-mnist-msgd
	$(EASGD) train --method msgd --net cifar --data $(CIFAR) --lr 0.002 --momentum 0.99 --epochs 10 --out .build/quality/cifar-msgd
	$(EASGD) plot .build/quality/cifar-msgd --label "MSGD, lr 0.002, momentum 0.99" --title "CIFAR-10 copy, the paper's 7-layer net" --out plots/cifar-msgd

# The paper's CIFAR claims (notebook 02): the anchor (can MSGD reach the paper's error; about 2 core-hours), then the
# decisive campaign of claims (a)-(c) (p = 4, 24 epochs per worker, three seeds, every rate searched at the horizon;
# about 21 core-hours). Both are resumable: stop with Ctrl-C at any moment and run again to continue; progress and
# ETA as they go; decisive.py --plan and --report. Then notebook 06 section 9 on the CIFAR net: DiLoCo against
# synchronous training and elastic averaging, and what each codec costs (family.py; 13.5 core-hours when it ran, resumable,
# --plan, --report and --figures). Last, claim (d): EAMSGD and EASGD at p = 4, 8, 16 (decisive.py --claims d; about 45
# core-hours, more if runs go on past 24 epochs). The earlier 8-epoch campaign (its appendix) is
# `python3 benchmarks/experiments/campaign.py`.
experiments: build
	benchmarks/experiments/anchor.sh
	python3 benchmarks/experiments/decisive.py --claims abc
	python3 benchmarks/experiments/family.py
	python3 benchmarks/experiments/decisive.py --claims d

# Theory against training (notebook 05): the edge of stability of GD, Nesterov and the elastic methods on full-batch
# Fashion-MNIST, the round-robin maps validated point by point on the quadratic, the small net and the CIFAR net,
# the elastic edge-of-stability law over α, τ, p, δ and for DOWNPOUR (51 runs), the catapults (27 runs) and the
# real-net boundaries by bisection.
# Resumable (finished runs and points are kept in .build/validation); the curated figures go to plots/validation.
validation: build
	benchmarks/validation/edge-of-stability.sh
	benchmarks/validation/maps.sh
	benchmarks/validation/elastic-eos-law.sh
	benchmarks/validation/catapult.sh
	benchmarks/validation/bisect.sh
	@mkdir -p plots/validation
	for g in gd nesterov elastic; do cp .build/validation/eos/figures/$$g-sharpness.png plots/validation/eos-$$g.png; done
	for d in .build/validation/maps/*/; do cp $$d/validation.png plots/validation/map-$$(basename $$d).png; done
	cp .build/validation/eos-law/eos-law.png plots/validation/eos-law-alpha.png
	cp .build/validation/eos-law/eos-law-sweeps.png plots/validation/eos-law-sweeps.png
	cp .build/validation/catapult/catapult.png plots/validation/catapult.png
	for d in .build/validation/bisect/*/; do cp $$d/validation.png plots/validation/bisect-$$(basename $$d).png; done

# The paper's Figure 4 on ImageNet, for those with ILSVRC-2012 and the time (about 18 hours per seed here at the
# defaults): imports IMAGENET=DIR once into STORE (default .build/imagenet-256), then EASGD, EAMSGD and DOWNPOUR at
# p = 4 and 8 and MSGD with the paper's plateau rule, resumable; see benchmarks/imagenet/figure4.sh for the settings
# (STEPS, SEEDS, STORE, ...; given on the make command line, they reach the script through its environment).
imagenet-figure4: build
	EASGD=$(EASGD) benchmarks/imagenet/figure4.sh

clean:
	rm -rf .build

# The seeded mutation fuzzer over every reader of outside input (IDX, CIFAR-10, checkpoints, config.json, the net
# notation, JPEG and PNG files, an image store's index and manifest): FUZZ_SECONDS per target (default 60), FUZZ_SEED (default 1). A crash leaves its input in
# /tmp/easgd-fuzz-PID/crash-TARGET; keep it as a regression test.
FUZZ_SECONDS ?= 60
FUZZ_SEED ?= 1
fuzz: deps
	$(SWIFT) build -c release --product easgd-fuzz
	.build/release/easgd-fuzz $(FUZZ_SECONDS) $(FUZZ_SEED)

# The engine's tests (the threads backend's shared master and lock included) under the thread sanitizer, in a
# build directory of their own; any data race fails them.
tsan: deps
	TSAN_OPTIONS=halt_on_error=1 $(SWIFT) test --sanitize=thread --scratch-path .build-tsan --filter EngineTests
