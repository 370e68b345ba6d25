#!/usr/bin/env python3
"""The parameter server measured and modelled (issue: a sharded center).

Runs `easgd bench exchange` under mpirun for S servers and p workers on the CIFAR net's payload (each worker
sleeping one CIFAR step, 0.1245 s, before each exchange: tau = 1) and on the paper's ImageNet net's (61 M
parameters, back to back), calibrates the link model (latency + bytes/bandwidth per server) on p = 1, S = 1, and
prints the model's prediction beside each measurement. Usage: python3 benchmarks/exchange.py [--easgd PATH]
"""
import argparse, os, subprocess, sys

def bench(easgd, servers, workers, payload, requests, compute):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd = ["mpirun", "--oversubscribe", "-np", str(servers + workers), easgd, "bench", "exchange", "--servers", str(servers),
           "--payload", payload, "--requests", str(requests), "--compute-seconds", str(compute)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"easgd: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-400:]}")
    fields = r.stdout.strip().splitlines()[-1].split()
    return {"master": float(fields[4]) / 1000, "shards": fields[5], "round_trip": float(fields[6]) / 1000,
            "requests_per_s": float(fields[7]), "parameters": int(fields[2])}

def predict(easgd, payload, latency, bandwidth, compute, workers, servers):
    r = subprocess.run([easgd, "bench", "links", "--payload", payload, "--latency", repr(latency), "--bandwidth", repr(bandwidth),
                        "--compute-seconds", repr(compute), "--workers", str(workers), "--servers", str(servers), "--tau", "1",
                        "--steps", "200"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"easgd bench links failed: {r.stderr.strip()}")
    f = r.stdout.strip().splitlines()[-1].split()
    return {"master": float(f[3]), "steps_per_s": float(f[4]), "share": float(f[5]) / 100}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--easgd", default=".build/release/easgd")
    ap.add_argument("--servers", default="1,2,4")
    ap.add_argument("--workers", default="4,8,16")
    a = ap.parse_args()
    servers = [int(s) for s in a.servers.split(",")]
    workers = [int(p) for p in a.workers.split(",")]
    cifar_step = 0.1245
    # Calibration: one worker, one server, back to back; two payloads give the latency and the bandwidth.
    small = bench(a.easgd, 1, 1, "cifar", 300, 0)
    large = bench(a.easgd, 1, 1, "imagenet", 6, 0)
    n_small, n_large = small["parameters"], large["parameters"]
    per_byte = (large["master"] - small["master"]) / (8 * (n_large - n_small))
    bandwidth = 1 / per_byte
    latency = max(small["master"] - 8 * n_small * per_byte, 0)
    print(f"calibration (p = 1, S = 1): {n_small} parameters {1000 * small['master']:.2f} ms, {n_large} parameters "
          f"{1000 * large['master']:.1f} ms per request -> latency {1e3 * latency:.3f} ms, bandwidth {bandwidth / 1e9:.3f} GB/s per server")
    print()
    print("| payload | S | p | measured master ms/request (per shard) | model | measured requests/s | model steps/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for payload, requests, compute in [("cifar", 40, cifar_step), ("imagenet", 3, 0.0)]:
        for p in workers:
            for s in servers:
                m = bench(a.easgd, s, p, payload, requests, compute)
                model = predict(a.easgd, payload, latency, bandwidth, max(compute, 1e-9), p, s)
                print(f"| {payload} | {s} | {p} | {1000 * m['master']:.2f} ({m['shards']}) | {1000 * model['master']:.2f} | "
                      f"{m['requests_per_s']:.1f} | {model['steps_per_s']:.1f} |", flush=True)

if __name__ == "__main__":
    main()
