"""The batched trainer: many toy models at once, with hand-derived gradients and Adam.

Why it is fast (benchmarks/ compares it with the paper's recipe side by side):
- all instances, and restarts of each, train as one batch of small matrix products;
- the backward pass is written out by hand (four batched products), no autograd graph;
- inputs are drawn conditioned on at least one active feature, and the all-zero inputs'
  loss, which only involves b, is added in closed form: the same expected loss, far less noise;
- masks are applied with ReLU's fused backward kernel, not torch.where, and a step's gradients
  and Adam update are one TorchScript call each (superpos.models.scripted);
- a higher peak learning rate with warm-up and cosine decay needs ~30x fewer steps;
- the runs of a batch share their uniforms, small models draw several batches at once
  (superpos.data.BatchStream), and large models round the products' factors to bfloat16 where
  the CPU is fast at it (superpos.schedule.product_dtype);
- one torch thread per training thread: on a shared 2-core machine it is steadier than two, and a
  long batch trains on two threads of its own; each scores its models as soon as they are trained.
Restarts guard against the local minima the paper's recipe falls into (4 of 5 features at
S = 0.95 for some seeds): each instance starts `restarts` times, and after a fifth of the steps
(the schedule's `prune`) only the run with the lowest loss on a separate selection sample goes on.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np
import torch

from superpos import absolute
from superpos.config import Config
from superpos.data import BatchStream, FeatureSets, NonzeroSampler, keep_where_positive, zero_input_probability
from superpos.evaluate import EVALUATION_THREADS, HeldoutSample, heldout_samples
from superpos.models import forward_parts, product, scripted, weighted_squared_error
from superpos.schedule import (
    MAX_SECONDS,
    WARMUP_FRACTION,
    Schedule,
    automatic_schedule,
    check_time,
    dense_phase,
    dense_workers,
    product_dtype,
    resolve,
    workers,
)
from superpos.schedule import budget as schedule_budget

# One CPU thread per training thread: on a shared 2-core machine it is steadier than two, and several
# trainings (app sessions) run side by side. The trainer sets it on its own threads (train_runs);
# torch's setting is per thread there, so a caller's threads keep theirs.
TRAIN_THREADS = 1
PROGRESS_SECONDS = 0.1  # how often the progress bar hears from a training
SNAPSHOTS = 40
LOSS_POINTS = 100
# Selection sample: up to 2048 inputs per run (drawn given x != 0, so all informative), within a
# budget of feature values. The restarts' losses differ by far more than its noise.
SELECTION_SAMPLES = 2048
SELECTION_VALUES = 4_000_000

# The convergence diagnostic: the selection loss's relative fall over the last fifth of training.
# The learning rate has decayed to under a tenth of its peak there, so a run that has settled
# moves its loss by a fraction of a percent (measured at n = 400, m = 30: 0.1-0.8% for runs
# within 4% of the paper recipe's loss; up to 1.1% for tiny sparse models), while one still descending
# falls by 1.5-2.3% (runs 9-22% above it). The threshold sits at 2%: the budget check (below) catches
# the trainings cut short, which this alone would miss.
CONVERGENCE_WINDOW = 0.2
CONVERGENCE_POINTS = 4
CONVERGED_FALL = 0.02


class TrainingDiverged(ArithmeticError):
    """The loss became NaN or infinite (a learning rate far too high): training stopped."""

    def __init__(self, step: int):
        self.step = step
        super().__init__(f"training diverged at step {step} (loss is not finite): lower lr")


@dataclass(frozen=True)
class TrainResult:
    """Trained toy models, one per instance, as numpy arrays.

    weights (instances, m, n); bias, probability, importance (instances, n);
    loss_history (instances, points) at loss_steps; snapshots (frames, instances, m, n)
    of W at snapshot_steps; heldout (instances,) on the shared evaluation sample.
    The abs model's W is W1 (its snapshots too) and output_weights its W2 (instances, n, m);
    output_weights is None for the tied models.
    schedule: the steps, batch, peak rate and restarts used (superpos.schedule).
    Convergence: selection_history (instances, points) is the loss on a fixed selection sample
    at selection_steps (the last fifth of training, after pruning); final_fall the relative fall
    of that loss over the last fifth, (L(0.8 T) - L(T)) / L(T); budget the share of the automatic
    schedule's training this one had (superpos.schedule.budget: below 1 when the work limit or
    the user cut it short); converged where final_fall < CONVERGED_FALL (2%) and budget >= 1.
    A loss that barely moves is not enough on its own: a short or slow training moves little.
    warm_start_won (instances,) says, for a warm-started training (train_instances' `start`),
    whether the warm run beat the cold ones; None otherwise.
    sets: the feature layout the inputs were drawn with (None: independent features); probability
    is then each feature's marginal P(x_i != 0).
    """

    model: str
    weights: np.ndarray
    bias: np.ndarray
    probability: np.ndarray
    importance: np.ndarray
    loss_steps: np.ndarray
    loss_history: np.ndarray
    snapshot_steps: np.ndarray
    snapshots: np.ndarray
    heldout: np.ndarray
    seconds: float
    schedule: Schedule
    selection_steps: np.ndarray
    selection_history: np.ndarray
    final_fall: np.ndarray
    budget: np.ndarray
    converged: np.ndarray
    output_weights: np.ndarray | None = None
    warm_start_won: np.ndarray | None = None
    sets: FeatureSets | None = None


def initial_std(n_features: int, n_hidden: int) -> float:
    """std = sqrt(2 / (m (n + 1))), what the paper's notebook gets from Xavier-normal on its
    (instances, n, m) weight tensor for one instance (fans n m and m): a small start, from which
    features are learned one at a time. The textbook sqrt(2 / (m + n)) starts the columns long and
    tangled, and dense models then settle far from the PCA-like optimum: n = 400, m = 30, S = 0,
    47% above the paper recipe's loss, against 0.04% from the small start."""
    return math.sqrt(2.0 / (n_hidden * (n_features + 1)))


def importance_profile(n_features: int, decay: float) -> np.ndarray:
    """I_i = r^i for i = 0..n-1."""
    return decay ** np.arange(n_features, dtype=np.float64)


def learning_rate(
    step: int, steps: int, peak: float, warmup_fraction: float = WARMUP_FRACTION, decay: bool = True
) -> float:
    """Linear warm-up over the first `warmup_fraction` of the steps (5% unless the schedule says
    otherwise), then cosine decay to 0 (decay=False: the peak rate held)."""
    warmup = max(1, int(warmup_fraction * steps))
    if step < warmup:
        return peak * (step + 1) / warmup
    if not decay:
        return peak
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * 0.5 * (1.0 + math.cos(math.pi * progress))


def convergence_steps(steps: int) -> set[int]:
    """Where the selection loss is recorded before a step: CONVERGENCE_POINTS steps spread over
    the last fifth of training, from 0.8 T (the loss is recorded once more after the last step)."""
    start = int(round((1.0 - CONVERGENCE_WINDOW) * steps))
    return set(np.linspace(start, steps, CONVERGENCE_POINTS + 1).astype(int)[:-1].tolist())


def spaced_steps(steps: int, count: int) -> np.ndarray:
    """About `count` distinct steps from 0 to `steps`, denser early, when geometry forms."""
    return np.unique(np.round(steps * np.linspace(0.0, 1.0, count) ** 2).astype(int))


@scripted  # one call a step (superpos.models.scripted)
def adam_step(
    parameters: torch.Tensor,
    grad: torch.Tensor,
    first_moment: torch.Tensor,
    second_moment: torch.Tensor,
    step: int,
    rate: float,
    peak: torch.Tensor | None = None,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> None:
    """One Adam update in place (Kingma & Ba 2015), with bias correction:
    m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,  p <- p - rate (m / c1) / (sqrt(v / c2) + eps),
    c_k = 1 - b_k^(step + 1), with Adam's default b1, b2 and eps; `peak` (runs, 1, 1), if given,
    multiplies each run's rate (each model of a sweep has its own peak rate). Written out because
    torch.optim's per-call overhead is larger than the whole update for these tiny tensors."""
    first_moment.mul_(beta1).add_(grad, alpha=1.0 - beta1)
    second_moment.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
    denominator = (second_moment / (1.0 - beta2 ** (step + 1))).sqrt_().add_(eps)
    if peak is not None:
        denominator.div_(peak)
    parameters.addcdiv_(first_moment, denominator, value=-rate / (1.0 - beta1 ** (step + 1)))


@scripted  # one call a step (superpos.models.scripted)
def storage_gradients(
    model: str,
    weights: torch.Tensor,
    bias: torch.Tensor,
    x: torch.Tensor,
    weight_grad: torch.Tensor,
    bias_grad: torch.Tensor,
    output_scale: torch.Tensor,
    zero_scale: torch.Tensor,
    zero_term: bool,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Write dW and db of a batch of the storage models into the given tensors; return out = W^T h + b.

    With e = (out - x) where the output ReLU passes (everywhere for linear) and g = s e
    = dLoss/d(out): dW = h g^T + (W g * dh/dpre) x^T, db = sum_batch g + zero term (left out
    with zero_term=False: the second half of a batch split in two). s = output_scale and the
    zero term's factor zero_scale are ExpectedLoss's. The per-feature s multiplies the small
    (m, n) factors, W s and h e^T, not the batch-sized e. The products' factors are rounded to
    `dtype` once each (x and e are used twice).
    """
    x_factor = x.to(dtype)
    pre_activation, hidden, out = forward_parts(model, weights, bias, x_factor, dtype=dtype)
    error = torch.sub(out, x)
    if model != "linear":  # ReLU(out) passes no gradient where out <= 0
        error = keep_where_positive(error, out)
    scale = output_scale[:, None, :]  # (instances, 1, n): scales W's and dW's columns
    error_factor = error.to(dtype)
    hidden_grad = product(weights * scale, error_factor, dtype)
    if model == "neuron":
        hidden_grad = keep_where_positive(hidden_grad, pre_activation)
    product(hidden, error_factor.transpose(1, 2), dtype, out=weight_grad)
    weight_grad.mul_(scale)
    # Not baddbmm_: into this strided view it loops over instances, several times slower.
    weight_grad.add_(product(hidden_grad, x_factor.transpose(1, 2), dtype))
    bias_value = bias if model == "linear" else torch.relu(bias)
    torch.addcmul(error.sum(dim=2).mul_(output_scale), zero_scale, bias_value, value=float(zero_term), out=bias_grad)
    return out


class ExpectedLoss:
    """Loss = (1 - P0) E[mean_i I_i (x'_i - x_i)^2 | x != 0] + P0 mean_i I_i f(b_i)^2 per instance.

    P0 = P(x = 0); x = 0 gives x' = f(b) with f = ReLU (relu, neuron) or the identity (linear),
    so that term is exact and batches are drawn given x != 0 (NonzeroSampler).
    """

    def __init__(
        self, model: str, importance: torch.Tensor, zero_share: torch.Tensor, batch_size: int, dtype=torch.float32
    ):
        n_features = importance.shape[1]
        self.model, self.importance, self.zero_share = model, importance, zero_share
        self.dtype = dtype  # of the batched products' factors (superpos.models.product)
        # Constant factors of the gradients, computed once: dLoss/dx'_i of one sample is
        # s_i (x'_i - x_i) with s_i = 2 I_i (1 - P0) / (batch n); dLoss/db_i of the zero term 2 I_i P0 f(b_i) / n.
        self.output_scale = (2.0 / (batch_size * n_features)) * importance * (1.0 - zero_share)[:, None]
        self.zero_scale = (2.0 / n_features) * importance * zero_share[:, None]

    def gradients(self, weights, bias, x, weight_grad, bias_grad, zero_term: bool = True) -> torch.Tensor:
        """Write dW and db of the batch into the given tensors; return out = W^T h + b (`storage_gradients`)."""
        scales = (self.output_scale, self.zero_scale)
        return storage_gradients(self.model, weights, bias, x, weight_grad, bias_grad, *scales, zero_term, self.dtype)

    def __call__(self, x, out, bias) -> torch.Tensor:
        """The loss per instance, from a batch drawn given x != 0 and its out = W^T h + b."""
        reconstruction = out if self.model == "linear" else torch.relu(out)
        bias_value = bias if self.model == "linear" else torch.relu(bias)
        nonzero = weighted_squared_error(x, reconstruction, self.importance)
        zero = (self.importance * bias_value**2).mean(dim=1)
        return (1.0 - self.zero_share) * nonzero + self.zero_share * zero


class Runs:
    """The state of a batch of training runs: W and b in one tensor, Adam's moments, and the
    data and loss of each run. `select` keeps some runs (restarts are pruned this way)."""

    def __init__(
        self, model, parameters, moments, probability, importance, peak_lr, batch_size, sets=None, dtype=torch.float32
    ):
        self.parameters, self.moments = parameters, moments
        self.probability, self.importance, self.peak_lr = probability, importance, peak_lr
        n_hidden = parameters.shape[1] - 1
        # Views into `parameters`, so that one Adam update moves both.
        self.weights, self.bias = parameters[:, :n_hidden], parameters[:, n_hidden]
        self.grad = torch.zeros_like(parameters)
        zero_share = zero_input_probability(probability, sets)
        # dtype: of the products' factors (superpos.schedule.product_dtype). All runs share their
        # uniforms (superpos.data.uniforms): the draw costs a run's share.
        if model == "abs":  # weights are the rows [W1; W2^T] (superpos.absolute)
            self.sample = absolute.SignedSampler(probability, sets, common=True)
            self.loss = absolute.AbsoluteLoss(importance, zero_share, batch_size, dtype)
        else:
            self.sample = NonzeroSampler(probability, sets, common=True)
            self.loss = ExpectedLoss(model, importance, zero_share, batch_size, dtype)
        self.model, self.batch_size, self.sets = model, batch_size, sets

    def gradients(self, x: torch.Tensor, grad: torch.Tensor, zero_term: bool = True) -> torch.Tensor:
        """The batch x's gradients of the loss, written into `grad` (shaped as the parameters); returns out."""
        rows = grad.shape[1] - 1
        return self.loss.gradients(self.weights, self.bias, x, grad[:, :rows], grad[:, rows], zero_term)

    def select(self, index: torch.Tensor) -> Runs:
        moments = tuple(moment[index] for moment in self.moments)
        probability, importance, peak_lr = self.probability[index], self.importance[index], self.peak_lr[index]
        return Runs(
            self.model,
            self.parameters[index],
            moments,
            probability,
            importance,
            peak_lr,
            self.batch_size,
            self.sets,
            self.loss.dtype,
        )

    def selection_loss(self, seed: int) -> torch.Tensor:
        """Loss per run on a fixed selection sample (not the held-out one)."""
        runs, n_features = self.probability.shape
        samples = max(256, min(SELECTION_SAMPLES, SELECTION_VALUES // (runs * n_features)))
        x = self.sample(samples, torch.Generator().manual_seed(seed))
        if self.model == "abs":
            out = absolute.output(self.weights, self.bias, x)
        else:
            out = forward_parts(self.model, self.weights, self.bias, x)[2]
        return self.loss(x, out, self.bias)


@dataclass
class Trained:
    """What training one chunk of instances leaves (torch tensors, instances first), and how far it got."""

    weights: torch.Tensor | None = None
    bias: torch.Tensor | None = None
    loss_history: torch.Tensor | None = None
    snapshots: torch.Tensor | None = None  # (frames, instances, rows, n)
    selection_history: torch.Tensor | None = None
    warm_start_won: np.ndarray | None = None
    heldout: np.ndarray | None = None  # (instances,) on the batch's held-out sample (`score`)
    done: float = 0.0  # fraction of the steps, for the progress bar


@torch.no_grad()  # grad mode is per thread, and this runs on the training's own threads
def train_runs(
    model: str,
    n_hidden: int,
    probability: np.ndarray,
    importance: np.ndarray,
    schedule: Schedule,
    seed: int,
    start: tuple[np.ndarray, np.ndarray] | None,
    sets: FeatureSets | None,
    trained: Trained,
    halves: int = 1,
    origin: torch.Tensor | None = None,
) -> None:
    """Train one toy model per row of `probability` / `importance` with `schedule`, into `trained`.

    W starts normal with initial_std (small), b = 0, or, given `origin` (restarts, instances, rows,
    n), from its weight rows (a dense start, `dense_start`). Each instance starts `restarts` times;
    after the schedule's `prune` fraction of the steps, when the geometry has formed, only its best
    run goes on (judged on a selection sample), so restarts cost little. With `start`, restart 0 of
    each instance starts there (train_instances). With halves = 2 each step's batch is drawn and
    differentiated in two halves, side by side on two threads (one model, and a second core to spare).
    """
    # One torch thread for this training thread's kernels (TRAIN_THREADS): torch's OpenMP setting is
    # per thread, so the caller's own threads keep theirs (a notebook's default of all cores would
    # make these small products several times slower: 0.5 s instead of 0.1 s at n = 5, m = 2).
    torch.set_num_threads(TRAIN_THREADS)
    instances, n_features = probability.shape
    steps, batch_size, restarts = schedule.steps, schedule.batch_size, schedule.restarts
    generator = torch.Generator().manual_seed(seed)
    if model == "abs":
        parameters = absolute.initial_parameters(instances * restarts, n_hidden, n_features, generator)
    else:
        std = initial_std(n_features, n_hidden)
        parameters = torch.zeros(instances * restarts, n_hidden + 1, n_features)
        parameters[:, :n_hidden] = torch.randn(instances * restarts, n_hidden, n_features, generator=generator) * std
    if origin is not None:  # run r * instances + i is restart r of instance i; b stays 0
        parameters[:, :-1] = origin.flatten(0, 1)
    if start is not None:  # run i is restart 0 of instance i; the last row is b
        parameters[:instances, :-1] = torch.as_tensor(np.asarray(start[0]), dtype=torch.float32)
        parameters[:instances, -1] = torch.as_tensor(np.asarray(start[1]), dtype=torch.float32)
    moments = (torch.zeros_like(parameters), torch.zeros_like(parameters))
    tile = lambda array: torch.tensor(np.tile(array, (restarts, 1)), dtype=torch.float32)  # noqa: E731
    peak_lr = tile(np.asarray(schedule.lr)[:, None])[:, :, None]  # (runs, 1, 1)
    dtype = product_dtype(n_features, n_hidden)
    runs = Runs(model, parameters, moments, tile(probability), tile(importance), peak_lr, batch_size, sets, dtype)

    # One batch, or (halves = 2) two halves drawn from two random streams, the second on a thread of
    # its own, whose gradients add up to the whole batch's (the x = 0 term counted once).
    second_size = batch_size // 2 if halves == 2 else 0
    sizes = [batch_size - second_size, second_size]
    generators = [generator, torch.Generator().manual_seed(int(torch.randint(2**62, (1,), generator=generator)))]

    def streams() -> list[BatchStream]:  # the halves' inputs, for the runs of now
        pairs = zip(sizes, generators, strict=True)
        return [BatchStream(runs.sample, size, source, runs.probability.numel() * size) for size, source in pairs]

    inputs = streams()

    def half(index: int, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = inputs[index]()
        return x, runs.gradients(x, grad, zero_term=index == 0)

    # The second half's thread runs its kernels on one torch thread too.
    pool = ThreadPoolExecutor(1, initializer=torch.set_num_threads, initargs=(TRAIN_THREADS,)) if halves == 2 else None
    prune_step = int(schedule.prune * steps) if restarts > 1 else -1
    snapshot_at = set(spaced_steps(steps, SNAPSHOTS).tolist())
    loss_at = set(loss_steps(steps).tolist())
    selection_at = convergence_steps(steps)
    snapshots, losses, selections = [], [], []
    for step in range(steps):
        if step == prune_step:
            # Run r * instances + i is restart r of instance i: keep each instance's best.
            selection = runs.selection_loss(seed + 1).view(restarts, instances)
            winner = selection.argmin(dim=0)
            trained.warm_start_won = (winner == 0).numpy() if start is not None else None
            best = winner * instances + torch.arange(instances)
            runs = runs.select(best)
            inputs = streams()
            snapshots, losses = [s[best] for s in snapshots], [v[best] for v in losses]
        if step in snapshot_at:
            snapshots.append(runs.weights.clone())
        if step in selection_at:
            selections.append(runs.selection_loss(seed + 1))
        if pool is None:
            parts = [half(0, runs.grad)]
        else:  # the batch's second half on the other thread, into a gradient of its own
            second_grad = torch.empty_like(runs.grad)
            second = pool.submit(half, 1, second_grad)
            parts = [half(0, runs.grad), second.result()]
            runs.grad.add_(second_grad)
        if step in loss_at:
            losses.append(sum(runs.loss(x, out, runs.bias) * (x.shape[2] / batch_size) for x, out in parts))
            if not torch.isfinite(losses[-1]).all():
                raise TrainingDiverged(step)
        rate = learning_rate(step, steps, 1.0, schedule.warmup, schedule.decay)
        adam_step(runs.parameters, runs.grad, *runs.moments, step, rate, runs.peak_lr)
        trained.done = (step + 1) / steps
    if pool is not None:
        pool.shutdown()
    snapshots.append(runs.weights.clone())  # spaced_steps ends at `steps`: the final W
    selections.append(runs.selection_loss(seed + 1))  # convergence_steps ends at `steps` too
    trained.weights, trained.bias = runs.weights.clone(), runs.bias.clone()
    trained.loss_history, trained.snapshots = torch.stack(losses, dim=1), torch.stack(snapshots)
    trained.selection_history = torch.stack(selections, dim=1)


def prepare(sample: HeldoutSample) -> None:
    """sample.prepare() on a thread of the trainer's (one torch thread, TRAIN_THREADS)."""
    torch.set_num_threads(TRAIN_THREADS)
    sample.prepare()


def score(sample: HeldoutSample, rows: slice, trained: Trained, model: str, importance, threads: int) -> None:
    """Trained.heldout: the held-out loss of the trained models `rows` of a batch on its `sample`,
    on `threads` threads (superpos.evaluate.HeldoutSample.errors)."""
    weights, output_weights = trained.weights.numpy(), None
    if model == "abs":
        weights, output_weights = absolute.unpack(weights)
    errors = sample.errors(model, weights, trained.bias, importance, output_weights, rows, threads)
    trained.heldout = errors.mean(axis=1)


def dense_start(model, n_hidden, importance, schedule, seed, sets, trained, halves) -> torch.Tensor:
    """Where every run of a training with a dense start starts: weight rows (restarts, instances,
    rows, n), restart r of instance i at [r, i].

    Each distinct importance profile (the models of a sweep share one) trains `restarts` runs on
    dense inputs (p = 1) with the schedule's dense phase (superpos.schedule.dense_phase); restart r
    of every model with that profile starts from its run r. Why (superpos.absolute): on dense
    inputs every feature has a gradient at every step, so the abs model's neurons pair up on the
    most important features before sparsity spreads them out.
    """
    profiles, profile = np.unique(np.asarray(importance), axis=0, return_inverse=True)
    phase = dense_phase(schedule, len(profiles))
    train_runs(model, n_hidden, np.ones_like(profiles), profiles, phase, seed, None, sets, trained, halves)
    # Never pruned: trained holds every run, profile j's run r at r * profiles + j.
    runs = trained.weights.view(schedule.restarts, len(profiles), *trained.weights.shape[1:])
    return runs[:, torch.as_tensor(np.ravel(profile))]


def follow(futures, trained: list[Trained], report, offset: float = 0.0, width: float = 1.0) -> list:
    """Wait for `futures`, telling `report` offset + width x the mean share done of `trained` every
    PROGRESS_SECONDS; their results (raising what a training raised, e.g. TrainingDiverged)."""
    while wait(futures, timeout=PROGRESS_SECONDS).not_done:
        report(offset + width * float(np.mean([chunk.done for chunk in trained])))
    return [future.result() for future in futures]


def loss_steps(steps: int) -> np.ndarray:
    """The steps whose batch loss is recorded: up to LOSS_POINTS, evenly spread."""
    return np.unique(np.linspace(0, steps - 1, min(LOSS_POINTS, steps)).astype(int))


def chunks(instances: int, count: int) -> list[slice]:
    """Instances split into `count` contiguous chunks of nearly equal size (superpos.schedule.workers)."""
    bounds = np.linspace(0, instances, count + 1).round().astype(int)
    return [slice(low, high) for low, high in zip(bounds[:-1], bounds[1:], strict=True)]


def train_instances(
    model: str,
    n_hidden: int,
    probability: np.ndarray,
    importance: np.ndarray,
    steps: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    seed: int = 0,
    restarts: int | None = None,
    progress: Callable[[float], None] | None = None,
    max_seconds: float | None = MAX_SECONDS,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    sets: FeatureSets | None = None,
) -> TrainResult:
    """Train one toy model per row of `probability` / `importance` (instances, n), together.

    steps, batch_size, lr and restarts left at None follow superpos.schedule's rule. A long
    training runs on two threads (superpos.schedule.workers; torch releases Python's lock inside its
    kernels): several models in two chunks of instances, each with its own random stream (seed +
    chunk); one model with each step's batch in two halves. `progress`, if given, is called with
    the fraction done. A training predicted to take longer than `max_seconds` raises WorkLimitError (None: no limit).
    `start` = (W (instances, m, n), b (instances, n)), if given (for abs W is the weight rows
    [W1; W2^T], (instances, 2m, n), as superpos.absolute keeps them), is a warm start: each instance's
    first run starts there, the others cold (at least one), and the best is kept as usual, so a
    warm start never does worse than a cold one; warm_start_won says which won.
    `sets` (superpos.data.FeatureSets), if given, groups the features into correlated and
    anticorrelated sets; `probability` then holds each feature's marginal P(x_i != 0).
    Deterministic for a given seed on one machine.
    """
    started = time.perf_counter()
    probability = np.asarray(probability, dtype=np.float64)
    importance = np.asarray(importance, dtype=np.float64)
    instances, n_features = probability.shape
    schedule = resolve(
        model,
        n_features,
        n_hidden,
        probability,
        max_seconds,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        restarts=restarts,
    )
    check_time(n_features, n_hidden, instances, schedule, max_seconds)
    budget = schedule_budget(schedule, automatic_schedule(model, n_features, n_hidden, probability))
    if start is not None and schedule.restarts == 1:  # a cold run competes with the warm one
        schedule = dataclasses.replace(schedule, restarts=2)
    threads = workers(n_features, n_hidden, instances, schedule)
    parts = chunks(instances, min(threads, instances))
    halves = threads if len(parts) == 1 else 1  # one model on two threads: its batch in two halves
    # Progress from this thread: Streamlit draws only from the thread that runs the script.
    report = progress or (lambda fraction: None)
    report(0.0)
    dense_share = schedule.dense_steps / (schedule.dense_steps + schedule.steps)  # of the progress bar
    trained = [Trained() for _ in parts]
    # Each chunk scores its models on the held-out sample as soon as it has trained them
    # (train_chunk below). The sample is prepared meanwhile on a thread of its own (beside a dense
    # start, on the core it leaves free; superpos.evaluate.HeldoutSample), which scoring waits for.
    sample, finished = HeldoutSample(probability, heldout_samples(n_features), sets=sets), itertools.count(1)
    threading.Thread(target=prepare, args=(sample,), daemon=True).start()
    with torch.no_grad(), ThreadPoolExecutor(len(parts)) as pool:
        origin = None
        if schedule.dense_steps:  # one dense start for every chunk, first (in halves if it is long)
            dense, dense_threads = Trained(), dense_workers(n_features, n_hidden, schedule)
            arguments = (model, n_hidden, importance, schedule, seed + len(parts), sets, dense, dense_threads)
            [origin] = follow([pool.submit(dense_start, *arguments)], [dense], report, 0.0, dense_share)

        def train_chunk(index: int, part: slice, chunk: Trained) -> None:
            """Train the models `part`, then score them at once: on this thread while other chunks
            still train, on EVALUATION_THREADS if this chunk finished last (the other cores are free
            then). At n = 100, m = 40, seven models in chunks of four and three, the three are
            scored in the 0.2-0.4 s the four take longer."""
            train_runs(
                model,
                n_hidden,
                probability[part],
                importance[part],
                dataclasses.replace(schedule, lr=schedule.lr[part]),
                seed + index,
                None if start is None else (np.asarray(start[0])[part], np.asarray(start[1])[part]),
                sets,
                chunk,
                halves,
                None if origin is None else origin[:, part],
            )
            threads = EVALUATION_THREADS if next(finished) == len(parts) else 1
            score(sample, part, chunk, model, importance[part], threads)

        chunks_of_models = enumerate(zip(parts, trained, strict=True))
        futures = [pool.submit(train_chunk, index, part, chunk) for index, (part, chunk) in chunks_of_models]
        follow(futures, trained, report, dense_share, 1.0 - dense_share)
    joined = lambda field, axis=0: torch.cat([getattr(chunk, field) for chunk in trained], dim=axis)  # noqa: E731
    weights, bias = joined("weights").numpy(), joined("bias").numpy()
    snapshots, output_weights = joined("snapshots", axis=1).numpy(), None
    if model == "abs":
        (weights, output_weights), snapshots = absolute.unpack(weights), absolute.unpack(snapshots)[0]
    selection_history = joined("selection_history").double().numpy()
    # A loss of exactly 0 throughout has not fallen (0, not 0 / 0): the floor keeps the ratio defined.
    last = np.maximum(np.abs(selection_history[:, -1]), np.finfo(np.float64).tiny)
    final_fall = (selection_history[:, 0] - selection_history[:, -1]) / last
    report(1.0)
    return TrainResult(
        model=model,
        weights=weights,
        bias=bias,
        probability=probability,
        importance=importance,
        loss_steps=loss_steps(schedule.steps),
        loss_history=joined("loss_history").numpy(),
        snapshot_steps=spaced_steps(schedule.steps, SNAPSHOTS),
        snapshots=snapshots,
        heldout=np.concatenate([chunk.heldout for chunk in trained]),
        seconds=time.perf_counter() - started,
        schedule=schedule,
        selection_steps=np.array(sorted(convergence_steps(schedule.steps)) + [schedule.steps]),
        selection_history=selection_history,
        final_fall=final_fall,
        budget=budget,
        converged=(final_fall < CONVERGED_FALL) & (budget >= 1.0 - 1e-9),
        warm_start_won=None if start is None else np.concatenate([chunk.warm_start_won for chunk in trained]),
        output_weights=output_weights,
        sets=sets,
    )


def train(
    config: Config, progress: Callable[[float], None] | None = None, max_seconds: float | None = MAX_SECONDS
) -> TrainResult:
    """Train the one model `config` describes (a TrainResult with a single instance)."""
    return train_sweep(config, [config.sparsity], progress, max_seconds)


def train_sweep(
    config: Config,
    sparsities,
    progress: Callable[[float], None] | None = None,
    max_seconds: float | None = MAX_SECONDS,
) -> TrainResult:
    """One batched training: an instance per sparsity, in the order given (with config's sets and
    per-feature overrides: Config.probabilities and Config.importances)."""
    for sparsity in sparsities:
        config.replace(sparsity=float(sparsity))  # validates each value
    probability = np.stack([config.probabilities(float(sparsity)) for sparsity in sparsities])
    importance = np.tile(config.importances(), (len(sparsities), 1))
    return train_instances(
        config.model,
        config.n_hidden,
        probability,
        importance,
        steps=config.steps,
        batch_size=config.batch_size,
        lr=config.lr,
        seed=config.seed,
        restarts=config.restarts,
        progress=progress,
        max_seconds=max_seconds,
        sets=None if config.sets.independent else config.sets,
    )
