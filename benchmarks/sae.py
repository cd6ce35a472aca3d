"""superpos's SAE trainer against ARENA's toy SAE recipe, side by side in one run.

    python -m benchmarks.sae            # 16 SAEs on the 5/2 toy, reference 20,000 steps (a few minutes)
    python -m benchmarks.sae --quick    # reference cut to 2,000 steps, time extrapolated

Both train 16 ReLU + L1 SAEs (c = 0.2, 5 latents) on the same toy (n = 5, m = 2, p = 0.025, I = 1)
and are scored by the same metrics (superpos.sae_metrics): median MMCS features->latents and FVU.
Also times the view's default batch and a sweep of 8 settings x 4 seeds of each architecture.
Everything on one torch thread (superpos.train.TRAIN_THREADS) except the reference, which gets
whichever of 1 or 2 threads is faster right now. The batches' CPU seconds (this process's, on its
one thread) are printed beside their wall-clock seconds: on a shared machine the wall clock grows
with the load, the CPU time much less.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import superpos
from benchmarks.sae_reference import STEPS, train_reference_saes
from superpos.sae import SAEConfig, SAEResult, train_saes
from superpos.sae_metrics import evaluate_saes
from superpos.train import TRAIN_THREADS
from views.sae import SWEEP_SEEDS, sweep_settings

TOY = superpos.Config(n_features=5, n_hidden=2, sparsity=0.975, importance_decay=1.0)
SAES = 16


def reference_result(toy, decoder, encoder, encoder_bias, decoder_bias) -> SAEResult:
    """The reference's SAEs in superpos's layout, to be scored by the same metrics."""
    return SAEResult(
        kind="relu",
        encoder=np.swapaxes(encoder, 1, 2),
        encoder_bias=encoder_bias,
        decoder=np.swapaxes(decoder, 1, 2),
        decoder_bias=decoder_bias,
        threshold=np.zeros_like(encoder_bias),
        setting=np.full(SAES, 0.2),
        seed=np.arange(SAES),
        model=toy.model,
        toy_weights=toy.weights[0],
        probability=toy.probability[0],
        seconds=0.0,
    )


def fastest_threads(toy) -> int:
    timings = {}
    for threads in (1, 2, 1, 2):
        torch.set_num_threads(threads)
        seconds = train_reference_saes(toy.model, toy.weights[0], toy.probability[0], 5, SAES, steps=300)[-1]
        timings[threads] = min(timings.get(threads, seconds), seconds)
    return min(timings, key=timings.get)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="reference 2,000 steps, time extrapolated")
    arguments = parser.parse_args()
    torch.set_num_threads(TRAIN_THREADS)
    toy = superpos.train(TOY)
    train_saes(toy, SAEConfig(seeds=2, steps=100))  # warm-up
    threads = fastest_threads(toy)
    torch.set_num_threads(threads)
    steps = 2000 if arguments.quick else STEPS
    *weights, reference_seconds = train_reference_saes(toy.model, toy.weights[0], toy.probability[0], 5, SAES, steps)
    reference_seconds *= STEPS / steps
    reference = evaluate_saes(reference_result(toy, *weights))
    torch.set_num_threads(TRAIN_THREADS)
    ours = train_saes(toy, SAEConfig(seeds=SAES))
    scores = evaluate_saes(ours)
    print(f"torch {torch.__version__}; reference on {threads} thread(s), superpos on {TRAIN_THREADS}; {SAEConfig()}")
    print(
        "| | reference s | superpos s | ratio | median MMCS ref | median MMCS superpos | median FVU ref |"
        " median FVU superpos | seeds MMCS > 0.99 ref / superpos |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| 16 ReLU SAEs, 5/2 toy | {reference_seconds:.2f}{' (extrapolated)' if arguments.quick else ''} | "
        f"{ours.seconds:.2f} | {reference_seconds / ours.seconds:.0f} | {np.median(reference.mmcs_features):.4f} | "
        f"{np.median(scores.mmcs_features):.4f} | {np.median(reference.fvu):.4f} | {np.median(scores.fvu):.4f} | "
        f"{(reference.mmcs_features > 0.99).sum()} / {(scores.mmcs_features > 0.99).sum()} |"
    )
    print("\n| batch | seconds | CPU seconds | median MMCS | median FVU |\n|---|---|---|---|---|")
    batches = [(f"view default ({SAEConfig().seeds} ReLU SAEs)", SAEConfig(), None)]
    for kind in ("relu", "topk", "jumprelu"):
        settings = sweep_settings(kind, 5 if kind != "topk" else 8)
        config = SAEConfig(kind=kind, latents=8 if kind == "topk" else 5, seeds=SWEEP_SEEDS)
        batches.append((f"sweep {kind}: {len(settings)} settings x {SWEEP_SEEDS} seeds", config, settings))
    for label, config, settings in batches:
        started, cpu_started = time.perf_counter(), time.process_time()
        batch_scores = evaluate_saes(train_saes(toy, config, settings))
        print(
            f"| {label} | {time.perf_counter() - started:.2f} | {time.process_time() - cpu_started:.2f} | "
            f"{np.median(batch_scores.mmcs_features):.4f} | {np.median(batch_scores.fvu):.4f} |"
        )


if __name__ == "__main__":
    main()
