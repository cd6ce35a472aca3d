"""Features that are not alike: the structured sampler's cost, each view's retraining time at its
defaults, and the presets against the paper's recipe side by side.

1. Sampler: draws given x != 0 per step at n = 200, batch 1024, 10 instances, independent features
   against sets (100 correlated pairs; 100 anticorrelated pairs; 50 + 50 pairs and 100 independent).
2. Views at their defaults (superpos, one thread): each Correlated features preset, the Collapse
   sweep (9 densities) and One feature differs (17 relative densities x 6 runs), the trainings the
   views do on a cache miss.
3. The paper's recipe (benchmarks/reference.py: AdamW 1e-3, 10,000 steps, batch 1024) with the same
   structured inputs (superpos.data.sample_features, plain), for the pair presets: time, held-out loss
   (the same fixed sample for both) and whether the paper's finding holds.

Run: python -m benchmarks.structured   (about 2 minutes on 2 quiet CPUs)
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from benchmarks.reference import train_reference
from superpos import structured
from superpos.config import Config
from superpos.data import FeatureSets, NonzeroSampler, sample_features
from superpos.evaluate import heldout_loss
from superpos.train import TRAIN_THREADS, train

SAMPLER_FEATURES, SAMPLER_BATCH, SAMPLER_INSTANCES, SAMPLER_DRAWS = 200, 1024, 10, 200
SAMPLER_STRUCTURES = {
    "independent": FeatureSets(SAMPLER_FEATURES),
    "100 correlated pairs": FeatureSets(SAMPLER_FEATURES, (2,) * 100),
    "100 anticorrelated pairs": FeatureSets(SAMPLER_FEATURES, (), (2,) * 100),
    "50 + 50 pairs, 100 independent": FeatureSets(SAMPLER_FEATURES, (2,) * 50, (2,) * 50),
}
REFERENCE_PRESETS = ("2 correlated pairs, m = 2", "2 anticorrelated pairs, m = 2")


def median_seconds(run, repeats: int = 3) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def sampler_table() -> None:
    print(
        f"| sampler, n = {SAMPLER_FEATURES}, batch {SAMPLER_BATCH} x {SAMPLER_INSTANCES} "
        "| ms per draw | × independent |"
    )
    print("|---|---|---|")
    base = None
    for name, sets in SAMPLER_STRUCTURES.items():
        probability = torch.tensor(sets.marginals(np.full((SAMPLER_INSTANCES, len(sets.groups())), 0.05)))
        sampler = NonzeroSampler(probability.float(), sets)
        generator = torch.Generator().manual_seed(0)
        seconds = median_seconds(lambda s=sampler, g=generator: [s(SAMPLER_BATCH, g) for _ in range(SAMPLER_DRAWS)])
        per_draw = 1000 * seconds / SAMPLER_DRAWS
        base = base or per_draw
        print(f"| {name} | {per_draw:.2f} | {per_draw / base:.2f} |")


def views_table() -> None:
    print("\n| view at its defaults (a cache miss) | models | seconds |")
    print("|---|---|---|")
    for name, preset in structured.PRESETS.items():
        config = preset.config(Config())
        print(f"| Correlated features: {name} | 1 | {median_seconds(lambda c=config: train(c)):.2f} |")
    print(
        f"| Training dynamics (default model, D_i over training) | 1 | {median_seconds(lambda: train(Config())):.2f} |"
    )
    print(
        f"| Collapse sweep | {len(structured.COLLAPSE_DENSITIES)} | "
        f"{median_seconds(lambda: structured.collapse_sweep(Config())):.2f} |"
    )
    runs = len(structured.DIFFERS_RATIOS) * structured.DIFFERS_RESTARTS
    print(f"| One feature differs | {runs} | {median_seconds(lambda: structured.differs_sweep(Config())):.2f} |")


def reference_table() -> None:
    print("\n| preset | reference s | superpos s | reference loss | superpos loss | finding: reference / superpos |")
    print("|---|---|---|---|---|---|")
    for name in REFERENCE_PRESETS:
        preset = structured.PRESETS[name]
        config = preset.config(Config())
        sets = config.sets
        probability = config.probabilities()[None]
        importance = config.importances()[None]
        marginals = torch.tensor(probability, dtype=torch.float32)
        generator = torch.Generator().manual_seed(0)

        def sample(batch: int, marginals=marginals, sets=sets, generator=generator) -> torch.Tensor:
            return sample_features(marginals, batch, generator, sets).permute(2, 0, 1)

        weights, bias, reference_seconds = train_reference(
            "relu", preset.n_hidden, probability, importance, sample=sample
        )
        reference_loss = heldout_loss("relu", weights, bias, probability, importance, sets=sets)[0]
        started = time.perf_counter()
        ours = train(config)
        ours_seconds = time.perf_counter() - started
        agrees = [
            "✓" if structured.set_checks(w, sets, preset.expect)["agrees"].all() else "✗"
            for w in (weights[0], ours.weights[0])
        ]
        print(
            f"| {name} | {reference_seconds:.2f} | {ours_seconds:.2f} | {reference_loss:.3g} | {ours.heldout[0]:.3g} "
            f"| {agrees[0]} / {agrees[1]} |"
        )


def main() -> None:
    torch.set_num_threads(TRAIN_THREADS)
    sampler_table()
    views_table()
    reference_table()


if __name__ == "__main__":
    main()
