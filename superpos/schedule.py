"""How to train: steps, batch, peak learning rate and restarts from n, m and S, and what that costs.

The automatic schedule (`automatic_schedule`) is the rule the app and the command line use when
the user sets only n, m, S, r and the model. It was fitted against the paper's recipe (AdamW
1e-3, 10,000 steps, batch 1024) over n = 5 ... 1000 (benchmarks/convergence.py):
- the peak learning rate falls as m^-0.75: W's entries are about 1/sqrt(m) in size, and a
  first Adam step of that size scrambles the geometry (lr 0.15 suits m = 2, not m = 30);
- sparse features need lower rates, larger batches and more steps: a feature active with
  probability p gets a gradient from about batch x p inputs per step, and Adam's step is only
  as good as that average (at n = 400, m = 30, S = 0.99 a rate of 0.02 leaves the loss 7% high,
  0.005 3%);
- steps grow with n / m: with many features per dimension the geometry needs longer to settle;
  and with a low rate: wide hidden layers (m = 100) need steps x rate >= TRAVEL;
- a long batch trains on two threads (`workers`), so its time is its larger half's;
- the start matters as much: W starts small (superpos.train.initial_std), as in the paper's
  notebook; from the textbook Xavier start dense models settle far from the optimum;
- restarts escape the local minima that small models fall into (4 of 5 features at n = 5,
  m = 2); with many features the loss of one run barely depends on its start, so large models
  train once.

The time model (`predicted_seconds`) is calibrated on measurements (benchmarks/calibrate.py,
one CPU thread) and is what the work limit checks: `check_time` refuses a training predicted
to take more than MAX_SECONDS for one model, BATCH_FACTOR times that for a batch of several (a
sweep); `resolve` stops automatic steps there instead, and the training then says it has not
converged (superpos.train).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from superpos import absolute
from superpos.config import SETTINGS, ConfigError
from superpos.evaluate import heldout_samples

# Restarts train side by side for this fraction of the steps, then only the best run of each
# model goes on (superpos.train), so they cost far less than `restarts` full trainings.
PRUNE_FRACTION = 0.2
# Small neuron models go on longer before the cut: at n = 5, m = 2, S = 0.99, runs that look best after a
# fifth of the steps may end in a worse minimum; 2 seeds of 16 ended over 10% above the recipe's loss with
# the cut at 20%, none at 35% (and 1 of 16 with 12 or 16 restarts cut at 20%), for 15% more time.
LATE_PRUNE_FRACTION = 0.35
# The learning rate rises linearly over this fraction of the steps, then decays as a cosine.
WARMUP_FRACTION = 0.05
MIN_STEPS = int(SETTINGS["steps"].low)
LR_MAX = 0.15
LR_SCALE = 0.25
BASE_STEPS = 400
# From W's small start the contest for the m dimensions takes a while: with fewer steps, or restarts
# pruned at a tenth, n = 20, m = 5 dense kept the wrong five features for 2 seeds of 6.
MIN_AUTOMATIC_STEPS = 500
# Dense neuron models need a fifth of the rate: n = 100, m = 20, S = 0 ends 11% above the recipe's
# loss at the full rate, 1.4% at a fifth (400/30: 0.4%); from p = 0.1 down the full rate is right.
NEURON_DENSE_FACTOR = 0.2
NEURON_DENSE_LR = 0.005  # but no lower than this: at n = 1000, m = 100 a fifth (0.002) ends 8% above, 0.004-0.008 4%
# Steps x base rate at least this: at m = 100 (base rate 0.008) 1,000 steps left the middle of a sweep
# (p = 0.2-0.5) 3% above 1,600 steps and the sparse neuron model 5% above 2,000; m <= 30 is unchanged.
TRAVEL = 13.0
SMALL_MODEL = 400  # n m up to this: several restarts (and the neuron model's full rate)
P_SPARSE = 0.1  # below this feature probability the peak rate falls (as p^0.25, to half at most)
MAX_SECONDS = 10.0  # the work limit: predicted seconds of training one model
BATCH_FACTOR = 2.0  # a batch of several models (a sweep) may take this many times MAX_SECONDS
# The products' factors are rounded to bfloat16 (superpos.models.product) from this n m up, on CPUs
# with bfloat16 instructions: there the products run 4-5x faster, and a ten-model sweep at n = 1000,
# m = 100 took 0.65x the time with the same held-out losses to 0.3%; at n = 100, m = 20 the
# products are too small for it to pay. Elsewhere float32 throughout.
LOW_PRECISION_FROM = 10_000
BFLOAT16_FAST = bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())
# A long training of several models uses up to TRAIN_WORKERS threads, one chunk of instances each:
# a second core nearly halves a sweep at n = 1000 (49.6 -> 25.9 s). Below PARALLEL_SECONDS of one
# thread's work the threads take turns more than they run side by side, and the time is hard to
# predict: the app's sweep at n = 20, m = 5 (0.41 s on one thread) took 0.26-0.34 s on two, where
# half the work predicts 0.22 s, and one model at n = 400, m = 30 took 0.45 s in halves, 0.32 s alone.
TRAIN_WORKERS = 2
PARALLEL_SECONDS = 0.5
# Half of one model's batch on each of two threads takes this much longer than alone (the halves meet
# at every step, share the memory bus and take turns at Python's lock): a 1000/100 model predicted at
# 4.96 s trains in 4.7-5.2 s. A chunk of several models per thread runs on its own until the end:
# the ten-model sweep at 1000/100 took 18.4-19.8 s in three runs, against 18.8 s predicted with no
# overhead for chunks (22.2 s with this one), and a five-model chunk of the calibration matched too.
THREAD_OVERHEAD = 1.2
LONG_TRAINING_STEPS = 10**6  # surely past PARALLEL_SECONDS: where max_steps reads a long training's cost per step

# training_seconds = steps x (runs x (B n (PRODUCT m + VALUE) + RUN) + B n UNIFORM + STEP) on one
#                    thread, with LOW_PRODUCT for PRODUCT where the products are in bfloat16
#                    (product_dtype); UNIFORM: the step's uniforms, shared by its runs;
# predicted_seconds = training_seconds of the largest chunk (workers), and of a dense start as one model
#                     + instances x samples x n x (EVALUATE_PRODUCT m + EVALUATE_VALUE) + START,
#                     samples = superpos.evaluate.heldout_samples(n) (scored on two threads, as in use).
# Fitted by benchmarks/calibrate.py --wall (wall seconds, training on one thread, on the 2-core machine,
# whose speed varies by up to 1.5x between runs; the fit predicts 0.81-1.14 x the measured time over the
# 23 settings in benchmarks/calibration.json).
PRODUCT_SECONDS = 7.87e-11  # per multiply-add of the five batched products, per hidden dimension
LOW_PRODUCT_SECONDS = 3.31e-11  # the same in bfloat16 (product_dtype)
VALUE_SECONDS = 3.99e-09  # per sampled feature value: masks, the loss (element-wise work)
UNIFORM_SECONDS = 1.16e-09  # per uniform drawn (one per feature value of a step, for all its runs)
RUN_SECONDS = 4.24e-06  # per run and step, whatever its size
STEP_SECONDS = 4.36e-05  # per step: Python and kernel launches, the schedule, bookkeeping
EVALUATE_PRODUCT_SECONDS = 1.05e-10  # held-out evaluation per input, feature and hidden dimension
EVALUATE_VALUE_SECONDS = 1.06e-09  # held-out evaluation per input and feature
START_SECONDS = 0.0136  # per training: threads, evaluation set-up
# The abs model's element-wise work per value, relative to the models above: with 1 the paper's abs
# batch was predicted at 0.71x its time. benchmarks/calibrate.py --wall fits it on five abs settings:
# 1.59 in a run whose storage-model times were up to 1.75x those of the fit above (a busy machine),
# about 2 measured by hand on a quiet one; at 1.8 the predictions were 0.8-1.2x the measured times in both.
ABSOLUTE_VALUE_WORK = 1.8


@dataclass(frozen=True)
class Schedule:
    """How one batch of models trains: `restarts` runs per model for the fraction `prune` of the
    steps, then each model's best run for the rest; Adam with warm-up over the fraction `warmup` of
    the steps and cosine decay from each model's peak rate `lr` (the automatic rate depends on the
    model's sparsity)."""

    steps: int
    batch_size: int
    lr: tuple[float, ...]  # one peak rate per model (instance)
    restarts: int
    warmup: float = WARMUP_FRACTION
    prune: float = PRUNE_FRACTION
    # A dense start (the larger abs models, superpos.absolute): before its `steps`, each run trains
    # `dense_steps` steps on dense inputs (p = 1) at `dense_lr`, the rate held after its warm-up
    # (superpos.train.dense_start); 0: a small random start.
    dense_steps: int = 0
    dense_lr: float = 0.0
    decay: bool = True  # the rate decays as a cosine after the warm-up; False: held at its peak
    # The time model's element-wise work per sampled value, relative to the storage models'
    # (the abs model's is ABSOLUTE_VALUE_WORK: signed inputs, |x|, untied weights).
    value_work: float = 1.0

    def of_model(self, index: int) -> dict:
        """Model `index`'s schedule as plain values, with its own peak rate."""
        return {
            "steps": self.steps,
            "batch_size": self.batch_size,
            "lr": self.lr[index],
            "restarts": self.restarts,
            "warmup": self.warmup,
            "prune": self.prune,
            "dense_steps": self.dense_steps,
            "dense_lr": self.dense_lr,
        }


def effective_probability(probability: np.ndarray) -> np.ndarray:
    """Per instance, the smallest P(x_i != 0 | x != 0) = p_i / (1 - prod_j (1 - p_j)).

    The trainer draws inputs given at least one active feature, so in a very sparse model each
    input still carries a feature: what a feature sees per step is batch x this.
    """
    probability = np.atleast_2d(np.asarray(probability, dtype=np.float64))
    nonzero = 1.0 - np.prod(1.0 - probability, axis=-1)
    return np.min(probability, axis=-1) / np.maximum(nonzero, 1e-12)


def automatic_schedule(model: str, n_features: int, n_hidden: int, probability) -> Schedule:
    """The schedule that converges for these models (instances x n feature probabilities).

    Per model i, with p_i its smallest P(x_j != 0 | x != 0) (effective_probability):
        lr_i = min(LR_MAX, LR_SCALE / m^0.75) x clip((p_i / P_SPARSE)^0.25, 1/2, 1)
                (x clip((P_SPARSE / p_i)^0.6, NEURON_DENSE_FACTOR, 1) for neuron models with n m > SMALL_MODEL,
                 but not below min(lr_i, NEURON_DENSE_LR))
    Shared by the batch, which trains as its most demanding model needs (p = min_i p_i):
        batch = 256, 512 below p = 0.02, 1024 below p = 0.005
        steps = max(MIN_AUTOMATIC_STEPS, BASE_STEPS x max(clip(n / (4 m), 1, 4), clip((P_SPARSE / p)^(1/3), 1, 2)),
                    TRAVEL / min(LR_MAX, LR_SCALE / m^0.75))
        restarts = 8 if n m <= SMALL_MODEL / 4, 6 if n m <= SMALL_MODEL, else 1; linear models 1,
                   neuron models with n m <= SMALL_MODEL / 4 cut to their best run at LATE_PRUNE_FRACTION
                   of the steps, the others at PRUNE_FRACTION.
    """
    p_given_active = effective_probability(probability)
    if model == "abs":  # its own rule, fitted on its own benchmark
        return Schedule(**absolute.schedule_rule(n_features, n_hidden, p_given_active), value_work=ABSOLUTE_VALUE_WORK)
    sparsest = float(p_given_active.min())
    sparse_factor = np.clip((p_given_active / P_SPARSE) ** 0.25, 0.5, 1.0)
    lr = min(LR_MAX, LR_SCALE / n_hidden**0.75) * sparse_factor
    small = n_features * n_hidden <= SMALL_MODEL
    if model == "neuron" and not small:  # dense inputs: big early steps kill hidden ReLUs for good
        lowered = lr * np.clip((P_SPARSE / p_given_active) ** 0.6, NEURON_DENSE_FACTOR, 1.0)
        lr = np.maximum(lowered, np.minimum(lr, NEURON_DENSE_LR))
    batch_size = 256 if sparsest >= 0.02 else 512 if sparsest >= 0.005 else 1024
    # More features per dimension take longer to settle; sparser ones need more inputs per feature.
    # Either is enough reason for more steps (n = 400, m = 30, S = 0.99: 1,000 steps of 512 were
    # within 3% of the recipe, 2,000 within 2%).
    crowding = np.clip(n_features / (4 * n_hidden), 1.0, 4.0)
    scarcity = np.clip((P_SPARSE / sparsest) ** (1 / 3), 1.0, 2.0)
    # And a low rate (wide hidden layers) needs steps to travel: at least TRAVEL / the base rate.
    travel = TRAVEL / min(LR_MAX, LR_SCALE / n_hidden**0.75)
    steps = int(round(max(MIN_AUTOMATIC_STEPS, BASE_STEPS * max(crowding, scarcity), travel)))
    # Small models have several starts, which escape dead neurons and the local minima of a few features.
    # A linear model's loss has no such minima (every local minimum of a linear autoencoder is global,
    # Baldi & Hornik 1989): at n = 5 and 20 one start was within 0.5-1% of eight in mean loss, in 63-75% of the time.
    tiny = n_features * n_hidden <= SMALL_MODEL / 4
    restarts = 1 if model == "linear" else 8 if tiny else 6 if small else 1
    prune = LATE_PRUNE_FRACTION if model == "neuron" and tiny else PRUNE_FRACTION
    return Schedule(steps=steps, batch_size=batch_size, lr=tuple(lr.tolist()), restarts=restarts, prune=prune)


def budget(schedule: Schedule, automatic: Schedule) -> np.ndarray:
    """Per model, the share of the automatic schedule's training that `schedule` gives:
    min(steps x batch / automatic's (inputs seen), steps x lr_i / automatic's (distance Adam can
    travel)). Below 1 the rule's evidence of convergence does not cover the training."""
    inputs = schedule.steps * schedule.batch_size / (automatic.steps * automatic.batch_size)
    travel = schedule.steps * np.asarray(schedule.lr) / (automatic.steps * np.asarray(automatic.lr))
    return np.minimum(inputs, travel)


def resolve(
    model: str, n_features: int, n_hidden: int, probability, max_seconds: float | None = None, **given
) -> Schedule:
    """The automatic schedule with any of steps, batch_size, lr, restarts given (not None) instead.

    Automatic steps stop at what fits in `max_seconds` (None: no limit): where the budget runs
    out first the training says so through its convergence diagnostic (superpos.train), instead
    of refusing. Steps given explicitly are never changed (check_time refuses them if too many).
    """
    automatic = automatic_schedule(model, n_features, n_hidden, probability)
    if given.get("lr") is not None:
        given["lr"] = (float(given["lr"]),) * len(automatic.lr)
    schedule = dataclasses.replace(automatic, **{name: value for name, value in given.items() if value is not None})
    if given.get("steps") is None and max_seconds is not None:
        instances = np.atleast_2d(probability).shape[0]
        fits = max_steps(n_features, n_hidden, instances, schedule, seconds_allowed(instances, max_seconds))
        schedule = dataclasses.replace(schedule, steps=max(MIN_STEPS, min(schedule.steps, fits)))
    return schedule


def seconds_allowed(instances: int, max_seconds: float) -> float:
    """The work limit for a batch: max_seconds for one model, BATCH_FACTOR x that for several."""
    return max_seconds if instances == 1 else BATCH_FACTOR * max_seconds


def runs_per_step(instances: int, restarts: int, prune: float = PRUNE_FRACTION) -> float:
    """Runs trained per step, on average: instances x (1 + (restarts - 1) x prune)."""
    return instances * (1.0 + (restarts - 1) * prune)


def training_seconds(n_features: int, n_hidden: int, instances: int, schedule: Schedule) -> float:
    """Seconds the training steps of `instances` models take on one thread (the calibrated model above)."""
    runs = runs_per_step(instances, schedule.restarts, schedule.prune)
    values = schedule.batch_size * n_features
    product = LOW_PRODUCT_SECONDS if product_dtype(n_features, n_hidden) == torch.bfloat16 else PRODUCT_SECONDS
    per_run = values * (product * n_hidden + VALUE_SECONDS * schedule.value_work) + RUN_SECONDS
    return schedule.steps * (runs * per_run + values * UNIFORM_SECONDS + STEP_SECONDS)


def dense_phase(schedule: Schedule, profiles: int = 1) -> Schedule:
    """The schedule of a dense start (superpos.train.dense_start): `restarts` runs of each of
    `profiles` importance profiles, dense_steps steps at dense_lr, the rate held after the warm-up,
    never pruned (each run is a start)."""
    return dataclasses.replace(
        schedule, steps=schedule.dense_steps, lr=(schedule.dense_lr,) * profiles, prune=1.0, dense_steps=0, decay=False
    )


def dense_workers(n_features: int, n_hidden: int, schedule: Schedule) -> int:
    """Threads a dense start uses (`workers` of its one run)."""
    return workers(n_features, n_hidden, 1, dense_phase(schedule))


def product_dtype(n_features: int, n_hidden: int) -> torch.dtype:
    """The dtype of the trainer's products' factors: bfloat16 for n m >= LOW_PRECISION_FROM on a CPU
    with bfloat16 instructions (BFLOAT16_FAST), else float32."""
    return torch.bfloat16 if BFLOAT16_FAST and n_features * n_hidden >= LOW_PRECISION_FROM else torch.float32


def workers(n_features: int, n_hidden: int, instances: int, schedule: Schedule) -> int:
    """Threads a training uses: TRAIN_WORKERS when one thread would take PARALLEL_SECONDS or more
    (superpos.train: several models in chunks of instances, one model in halves of each batch);
    below that, the threads' handovers cost more than a second core gives."""
    alone = training_seconds(n_features, n_hidden, instances, schedule)
    return TRAIN_WORKERS if alone >= PARALLEL_SECONDS else 1


def threaded_seconds(n_features: int, n_hidden: int, instances: int, schedule: Schedule, threads: int) -> float:
    """Seconds of a training's steps on `threads` threads: its largest share on one thread (a chunk
    of the models, or half of one model's batch)."""
    if threads == 1:
        return training_seconds(n_features, n_hidden, instances, schedule)
    if instances >= threads:
        return training_seconds(n_features, n_hidden, math.ceil(instances / threads), schedule)
    share = dataclasses.replace(schedule, batch_size=math.ceil(schedule.batch_size / threads))
    return THREAD_OVERHEAD * training_seconds(n_features, n_hidden, instances, share)


def predicted_seconds(n_features: int, n_hidden: int, instances: int, schedule: Schedule) -> float:
    """Seconds one training takes: its steps on its threads (a dense start first, as one model: the
    models of a batch share one importance profile), then the held-out evaluation of every model
    and the fixed start (the calibrated model above)."""
    threads = workers(n_features, n_hidden, instances, schedule)
    training = threaded_seconds(n_features, n_hidden, instances, schedule, threads)
    if schedule.dense_steps:
        dense_threads = dense_workers(n_features, n_hidden, schedule)
        training += threaded_seconds(n_features, n_hidden, 1, dense_phase(schedule), dense_threads)
    inputs = instances * heldout_samples(n_features) * n_features
    evaluation = inputs * (EVALUATE_PRODUCT_SECONDS * n_hidden + EVALUATE_VALUE_SECONDS * schedule.value_work)
    return training + evaluation + START_SECONDS


def max_steps(n_features: int, n_hidden: int, instances: int, schedule: Schedule, max_seconds: float) -> int:
    """The most steps that fit in `max_seconds` with this batch, restarts and size.

    The prediction is linear in the steps on either side of the switch to several threads
    (workers): try the slope of a long training first, then a short one's."""
    predicted = lambda steps: predicted_seconds(  # noqa: E731
        n_features, n_hidden, instances, dataclasses.replace(schedule, steps=steps)
    )
    fixed = predicted(0)
    for probe in (LONG_TRAINING_STEPS, 1):
        most = max(0, int((max_seconds - fixed) // ((predicted(probe) - fixed) / probe)))
        if predicted(most) <= max_seconds:
            break
    return most


class WorkLimitError(ConfigError):
    """A training predicted to take longer than the work limit (field "steps")."""


def check_time(
    n_features: int, n_hidden: int, instances: int, schedule: Schedule, max_seconds: float | None = MAX_SECONDS
) -> float:
    """The predicted seconds; raises WorkLimitError if over the limit (seconds_allowed of `max_seconds`;
    None: no limit)."""
    seconds = predicted_seconds(n_features, n_hidden, instances, schedule)
    if max_seconds is not None and seconds > seconds_allowed(instances, max_seconds):
        max_seconds = seconds_allowed(instances, max_seconds)
        most = max_steps(n_features, n_hidden, instances, schedule, max_seconds)
        models = f"{instances} models" if instances > 1 else "one model"
        raise WorkLimitError(
            "steps",
            f"{schedule.steps} steps of batch {schedule.batch_size} for {models} with n = {n_features}, "
            f"m = {n_hidden} would take about {seconds:.0f} s, over the work limit of {max_seconds:g} s; "
            f"at most {most} steps fit: lower steps, batch_size, n or the number of models",
        )
    return seconds
