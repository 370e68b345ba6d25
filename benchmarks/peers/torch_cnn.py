#!/usr/bin/env python3
"""PyTorch peer for `easgd bench train`: the same CNN, batch and thread count, one training step =
forward + backward + SGD with Nesterov momentum (0.99) and weight decay (1e-4), on random input.

Needs the CPU build of PyTorch: pip install torch==2.13.0+cpu
Prints one JSON line: {"images_per_second": ..., "torch": ..., "threads": ..., ...}.

The network is built from the paper's notation with the same rules as easgd (see
Sources/Training/NetSpec.swift): C = valid conv (smallest stride s with s <= k <= 7) + ReLU,
P = non-overlapping max pool, D = linear + ReLU + dropout 0.5, S = linear (softmax in the loss)."""
import argparse
import json
import re
import statistics
import time

import torch
import torch.nn as nn


def build(spec):
    tokens = re.findall(r"([CPDS]?)\((\d+),(\d+)\)", spec.replace(" ", ""))
    c, y = int(tokens[0][1]), int(tokens[0][2])
    layers, flat = [], False
    for letter, cs, ys in tokens[1:]:
        co, yo = int(cs), int(ys)
        if letter == "C":
            for s in range(1, 8):
                k = y - s * (yo - 1)
                if s <= k <= 7:
                    break
            layers += [nn.Conv2d(c, co, k, stride=s), nn.ReLU()]
        elif letter == "P":
            layers.append(nn.MaxPool2d(y // yo))
        else:
            if not flat:
                layers.append(nn.Flatten())
                flat = True
            layers.append(nn.Linear(c * y * y, co))
            if letter == "D":
                layers += [nn.ReLU(), nn.Dropout(0.5)]
        c, y = co, yo
    return nn.Sequential(*layers), int(tokens[0][1]), int(tokens[0][2]), c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default="(3,28)C(64,24)P(64,12)C(128,8)P(128,4)C(64,2)D(256,1)S(10,1)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net, channels, size, classes = build(a.spec)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.99, nesterov=True, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(a.batch, channels, size, size)
    t = torch.randint(0, classes, (a.batch,))
    net.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), t)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    rates = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        rates.append(a.steps * a.batch / (time.perf_counter() - t0))
    print(json.dumps({"images_per_second": statistics.median(rates), "torch": torch.__version__,
                      "threads": a.threads, "batch": a.batch, "spec": a.spec,
                      "rates": rates}))


if __name__ == "__main__":
    main()
