"""Synthetic inputs: each feature x_i is 0 with probability S_i, else uniform on [0, 1].

Shapes: `probability` is (instances, n), one row per model trained side by side, so a
sparsity sweep or a phase diagram is one batch. Samples are (instances, n, batch): column
vectors, as in h = W x, and the long batch axis innermost keeps element-wise work fast.

Features need not be independent (`FeatureSets`, the paper's "Superposition with correlated
features"): `probability` is then still each feature's marginal P(x_i != 0), and every sampler
draws one value per group of features (a set, or an independent feature) and spreads it over
the group's members, so the independent case's speed and exactness carry over.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

# Smallest probability used as a divisor; the config limits keep real ones far above it.
TINY = 1e-12


def keep_where_positive(values: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """values where gate > 0, else 0: ReLU's backward as one fused kernel.

    Several times faster on CPU than torch.where(gate > 0, values, 0), which builds a mask.
    """
    return torch.ops.aten.threshold_backward(values, gate, 0.0)


CORRELATED, ANTICORRELATED, INDEPENDENT = "correlated", "anticorrelated", "independent"


@dataclass(frozen=True)
class FeatureSets:
    """Groups of features, laid out from feature 0: the correlated sets, then the anticorrelated
    sets, then the independent features (one group each), as ARENA lays them out.

    Group g is active with probability q_g, else all its members are 0. When active, every member
    of a correlated set is U[0, 1] (independently); exactly one member of an anticorrelated set of
    k, chosen uniformly, is U[0, 1], so each member's marginal P(x_i != 0) is q_g / k. Hence
    P(x = 0) = prod_g (1 - q_g).
    """

    n_features: int
    correlated: tuple[int, ...] = ()
    anticorrelated: tuple[int, ...] = ()

    @property
    def independent(self) -> bool:
        """No sets: every feature is a group of its own."""
        return not (self.correlated or self.anticorrelated)

    def groups(self) -> list[tuple[str, range]]:
        """(kind, features) of every group, in layout order."""
        groups, start = [], 0
        for kind, sizes in ((CORRELATED, self.correlated), (ANTICORRELATED, self.anticorrelated)):
            for size in sizes:
                groups.append((kind, range(start, start + size)))
                start += size
        return groups + [(INDEPENDENT, range(i, i + 1)) for i in range(start, self.n_features)]

    def sets(self) -> list[dict]:
        """The sets as plain data: [{"kind": "correlated", "features": [0, 1]}, ...]."""
        return [{"kind": kind, "features": list(members)} for kind, members in self.groups() if kind != INDEPENDENT]

    @cached_property
    def layout(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """Per feature: its group, its group's size k, its slot in the group and its marginal's
        divisor (k in an anticorrelated set, else 1); and how many features are correlated."""
        group, size, slot, divisor = [], [], [], []
        for index, (kind, members) in enumerate(self.groups()):
            for position in range(len(members)):
                group.append(index)
                size.append(len(members))
                slot.append(position)
                divisor.append(len(members) if kind == ANTICORRELATED else 1)
        as_tensor = lambda values: torch.tensor(values, dtype=torch.float32)  # noqa: E731
        return torch.tensor(group), as_tensor(size), as_tensor(slot), as_tensor(divisor), sum(self.correlated)

    def group_probability(self, probability: torch.Tensor) -> torch.Tensor:
        """q_g (instances, groups) from the marginals p_i (instances, n): p_i times the divisor
        of the group's first member (all members of a set share one marginal)."""
        divisor = self.layout[3]
        first = torch.tensor([members.start for _, members in self.groups()])
        return probability[:, first] * divisor[first].to(probability.dtype)

    def marginals(self, group_probability: np.ndarray) -> np.ndarray:
        """P(x_i != 0) per feature (..., n) from each group's q_g (..., groups): q_g, or q_g / k in an
        anticorrelated set of k."""
        group, divisor = self.layout[0], self.layout[3]
        return np.asarray(group_probability)[..., group.numpy()] / divisor.numpy()

    def spread(self, group_values: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Features x (instances, n, batch) from one value v per group (instances, groups, batch):
        v = 0 inactive, else v ~ U[0, 1].

        Correlated members are fresh uniforms where v > 0. For the others, t = k v - slot lies in
        [0, 1) for exactly one member, floor(k v), and is U[0, 1] there: one uniform picks the
        member and gives its value (an independent feature is k = 1, slot 0: t = v).
        """
        group, size, slot, _, correlated = self.layout
        values = group_values.index_select(1, group)
        instances, n_features, batch_size = values.shape
        x = torch.empty_like(values)
        if correlated:
            fresh = torch.rand(instances, correlated, batch_size, generator=generator)
            x[:, :correlated] = keep_where_positive(fresh, values[:, :correlated])
        t = values[:, correlated:].mul_(size[correlated:, None]).sub_(slot[correlated:, None])
        x[:, correlated:] = keep_where_positive(t, 1.0 - t).relu_()
        return x


def uniforms(instances: int, n_features: int, batch_size: int, generator: torch.Generator, common: bool):
    """U[0, 1] of shape (instances, n, batch), or (1, n, batch) to broadcast if `common`.

    Common uniforms serve every model of a batch from one draw: each model still sees inputs
    with exactly its own distribution (its own thresholds p_i), only the models' inputs are no
    longer independent of each other, which does not matter to models that train apart. The
    random numbers were the largest cost after the products in a sweep at n = 1000.
    """
    return torch.rand(1 if common else instances, n_features, batch_size, generator=generator)


def sample_features(
    probability: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    sets: FeatureSets | None = None,
    common: bool = False,
) -> torch.Tensor:
    """Draw x of shape (instances, n, batch): x_i = 0 w.p. 1 - p_i, else x_i ~ U[0, 1].

    One uniform u gives both the mask and the magnitude: u < p happens with probability p,
    and then u / p is again U[0, 1], so half the random numbers are needed. With `sets` (not
    all independent) the same is drawn per group and spread over its members (FeatureSets).
    `common`: one set of uniforms for all instances (`uniforms`).
    """
    if sets is not None and not sets.independent:
        group_values = sample_features(sets.group_probability(probability), batch_size, generator, common=common)
        return sets.spread(group_values, generator)
    instances, n_features = probability.shape
    scaled = uniforms(instances, n_features, batch_size, generator, common) / probability[:, :, None].clamp_min(TINY)
    return keep_where_positive(scaled, 1.0 - scaled)


def zero_input_probability(probability: torch.Tensor, sets: FeatureSets | None = None) -> torch.Tensor:
    """P(x = 0) = prod_i (1 - p_i), per instance: the share of inputs with no active feature.
    With `sets`, the product runs over groups: prod_g (1 - q_g)."""
    if sets is not None and not sets.independent:
        probability = sets.group_probability(probability)
    return torch.prod(1.0 - probability, dim=-1)


# Below this P(x = 0), for every instance, a plain draw with its few all-zero columns redrawn is
# cheaper than drawing every column given x != 0 (0.7-0.9x the time at n = 100 ... 1000, p <= 0.1);
# above it the redraws cost more than they save (2x at P(x = 0) = 0.1 ... 0.8).
REDRAW_BELOW = 0.02
# Up to this n, the first active feature's index is found by counting, not by torch.searchsorted
# (the same index): with few features its per-row loop cost a sixth of a step at n = 5, m = 2.
COUNT_BELOW_UP_TO = 64


class NonzeroSampler:
    """Draws x conditioned on at least one active feature, exactly.

    The first active feature k has P(k | x != 0) = p_k prod_{j<k} (1 - p_j) / (1 - P(x = 0));
    given k, features before it are 0, feature k is U[0, 1] and later ones are drawn as usual
    (`given_active`). When P(x = 0) is small (many features), a plain draw is cheaper: its columns
    with an active feature are already distributed as x given x != 0, and the rare all-zero
    columns are replaced by draws of given_active (rejection with an exact redraw).
    With sparse features most plain samples are all zero and teach only the bias, whose loss
    has a closed form, so the trainer spends its whole batch on informative inputs.
    With `sets`, the same runs over groups ("feature" k is group k, p_k its q_k) and
    FeatureSets.spread turns the groups' values into features: exact as well.
    `common`: the instances share their uniforms (`uniforms`); each instance's draws keep its
    exact distribution.
    """

    def __init__(self, probability: torch.Tensor, sets: FeatureSets | None = None, common: bool = False):
        self.sets = None if sets is None or sets.independent else sets
        self.common = common
        if self.sets is not None:
            probability = self.sets.group_probability(probability)
        self.probability = probability
        self.redraw = bool(zero_input_probability(probability).max() < REDRAW_BELOW)
        instances, n_features = probability.shape
        survive = torch.cumprod(1.0 - probability, dim=-1)
        none_before = torch.cat([torch.ones_like(survive[:, :1]), survive[:, :-1]], dim=-1)
        first_active = torch.cumsum(probability * none_before, dim=-1)
        # Inverse CDF of k, normalised to end at 1.
        self.cumulative = (first_active / first_active[:, -1:]).contiguous()
        # Given k, feature i is active with probability 0 (i < k), 1 (i = k) or p_i (i > k);
        # u < that threshold is scaled to U[0, 1] by 1 / threshold. Row i, column k holds it
        # (a huge scale where the threshold is 0, so u / threshold is never below 1).
        index = torch.arange(n_features)
        threshold = torch.where(
            index[:, None] > index[None, :], probability[:, :, None], (index[:, None] == index[None, :]).float()
        )
        self.inverse_threshold = 1.0 / threshold.clamp_min(TINY)

    def __call__(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        if self.redraw:
            x = sample_features(self.probability, batch_size, generator, common=self.common)
            empty = x.amax(dim=1) == 0  # (instances, batch)
            if empty.any():
                # The j-th empty column of an instance takes column j of a fresh draw given x != 0.
                instance, column = empty.nonzero(as_tuple=True)
                before = torch.cumsum(empty.sum(dim=1), dim=0) - empty.sum(dim=1)
                redrawn = self.given_active(int(empty.sum(dim=1).max()), generator)
                x[instance, :, column] = redrawn[instance, :, torch.arange(len(instance)) - before[instance]]
        else:
            x = self.given_active(batch_size, generator)
        return x if self.sets is None else self.sets.spread(x, generator)

    def given_active(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """x given x != 0, (instances, n, batch): k from its inverse CDF, then the thresholds above."""
        instances, n_features = self.cumulative.shape
        target = torch.rand(instances, batch_size, generator=generator)
        if n_features <= COUNT_BELOW_UP_TO:  # k = the number of cumulative values below the target
            first = (self.cumulative[:, :, None] < target[:, None, :]).sum(dim=1)
        else:
            first = torch.searchsorted(self.cumulative, target)
        first.clamp_max_(n_features - 1)
        scale = self.inverse_threshold.gather(2, first[:, None, :].expand(instances, n_features, batch_size))
        scaled = scale.mul_(uniforms(instances, n_features, batch_size, generator, self.common))
        return keep_where_positive(scaled, 1.0 - scaled)


# A stream draws this many feature values at a time, at most: small models' batches then come
# several per draw (BatchStream), and a draw's fixed cost (a dozen kernel launches) is shared.
BLOCK_VALUES = 2**18


class BatchStream:
    """Consecutive batches of `batch_size` inputs from `sample(size, generator)`, drawn several at a time.

    Every column of a draw is an independent input, so a draw of c x batch_size columns split in c
    is c independent batches, with the same distribution as c draws. With few values per batch the
    sampler's fixed cost per call is most of a training step's (about a third at n = 5, m = 2), so
    the stream draws c = BLOCK_VALUES // (values per batch) batches at once (at least 1).
    """

    def __init__(self, sample, batch_size: int, generator: torch.Generator, values_per_batch: int):
        self.sample, self.batch_size, self.generator = sample, batch_size, generator
        self.count = max(1, BLOCK_VALUES // max(1, values_per_batch))
        self.waiting: list[torch.Tensor] = []

    def __call__(self) -> torch.Tensor:
        if not self.waiting:
            block = self.sample(self.count * self.batch_size, self.generator)
            self.waiting = list(block.split(self.batch_size, dim=2))[::-1]
        return self.waiting.pop()
