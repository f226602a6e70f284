r"""The retraining loop, written once, and the protocol of the kernels it runs (docs/theory.md §1, §7, §10).

Every finite-sample retraining in the library runs through :func:`run`: the exact and naive
simulators of every exponential family (:func:`stability.dynamics.simulate`), linear regression
(:mod:`stability.dynamics.regression`), the known-variance Gaussian of Theorem 2
(:func:`stability.dynamics.theorem2_check`) and the torch likelihood models
(:func:`stability.numerical.retrain_chains`, whose refit is the kernel's :meth:`~Kernel.fit`). The
split is that of an ODE solver library between its one integration loop and each solver's step:
:func:`run` knows the mixing scheme (:class:`~stability.schemes.Scheme`: which real data a round
keeps, redraws or drops, which synthetic batches it keeps, what it fits) and the synthetic weight
(docs/theory.md §10); a **kernel** (:class:`Kernel`) knows the model: how to draw the real data and
a synthetic batch, how two data sets are joined and reweighted, and how generation :math:`t+1` is
fitted to a training set. A kernel's "data" are whatever it fits from: sufficient statistics drawn
from their law (the exact simulator), sums of drawn points (naive), points (the torch models, the
subsampling schemes). The loop never looks inside them.

One round (generation :math:`t \to t+1`), for a scheme with :math:`n_r` real points
(:meth:`~stability.schemes.Scheme.real_size`) and :math:`k` synthetic points per round:

1. the real data: drawn once before the first round (``real="fixed"``), again every round
   (``"fresh"``), or none (``"none"``) — :meth:`Kernel.real`;
2. the synthetic batch: :math:`k` points of generation :math:`t` — :meth:`Kernel.synthetic`;
3. the training set :meth:`~stability.schemes.Scheme.training_set` (the real data and this batch,
   or last round's set and this batch when accumulating) — :meth:`Kernel.join`; with a synthetic
   weight :math:`w`, the real data and the synthetic part (this batch, or all batches so far when
   accumulating) reweighted to the shares :math:`1-w` and :math:`w` (:func:`weighted`,
   :meth:`Kernel.scale`);
4. the fit set: the training set, or ``n`` of its points drawn without replacement for a
   subsampling scheme — :meth:`Kernel.subsample`; generation :math:`t+1` — :meth:`Kernel.fit`.

Random draws come in the order: the fixed real data (before the first round); then per round the
fresh real data, the synthetic batch, the subsample. A kernel declares what it can run
(:func:`capabilities`); :func:`check_supported` refuses a scheme or a weight it cannot, naming them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import InputError
from .schemes import SCHEMES, Scheme

__all__ = ["Capabilities", "Kernel", "capabilities", "check_supported", "run", "supported_schemes", "weighted"]


class Kernel(Protocol):
    r"""What :func:`run` needs of a model: five hooks on its data, and what it declares it can run.

    ``D`` below is the kernel's data type (statistics or points of every chain at once); ``rng`` is
    whatever generator the kernel draws with (``numpy.random.Generator``, ``torch.Generator``).
    The kernel stores the generations it fits (e.g. in arrays indexed by ``t``); :func:`run` returns
    only the fixed real data.

    Declared capabilities (class attributes; absent: :func:`capabilities` infers them):

    - ``resizes_real`` (default True): :meth:`real` draws any number of points (a fraction scheme
      draws :math:`n_r < n`). False for a kernel whose real data are fixed rows (a regression design).
    - ``can_subsample`` (default: the kernel has :meth:`subsample`): it keeps points, so that
      ``n`` of them can be drawn (the subsampling schemes).
    - ``can_weigh`` (default: the kernel has :meth:`scale`): weighted mixing (docs/theory.md §10).
    """

    def real(self, rng: Any, m: int) -> Any:
        """The data of ``m`` fresh points of the data distribution (every chain)."""

    def synthetic(self, rng: Any, t: int, m: int) -> Any:
        """The data of ``m`` fresh points of generation ``t``'s model (every chain; ``m >= 1``)."""

    def join(self, a: Any, b: Any) -> Any:
        """The union of two data sets (points concatenated, or statistics pooled), ``a`` first.

        ``a`` is the real data or the training set so far; :func:`weighted` also joins two
        reweighted sets. The result's first entry, where the data are a tuple, is its count (or
        total weight), as :func:`weighted` reads it.
        """

    def scale(self, a: Any, c: float) -> Any:
        """The data ``a`` with every point's weight multiplied by ``c`` (weighted mixing only)."""

    def fit(self, t: int, data: Any) -> None:
        """Fit and store generation ``t`` (``t >= 1``) to ``data``, this round's fit set."""

    def real_fit(self, data: Any) -> Any:
        """The fit of the fixed real data (what the result reports of it; any form the caller reads)."""

    def subsample(self, rng: Any, data: Any, m: int) -> Any:
        """``m`` points of every chain's ``data`` drawn uniformly without replacement (point kernels only)."""


@dataclass(frozen=True)
class Capabilities:
    """What a kernel declares it can run (see :class:`Kernel`)."""

    resizes_real: bool
    can_subsample: bool
    can_weigh: bool


def capabilities(kernel: object) -> Capabilities:
    """The capabilities ``kernel`` (an instance or a class) declares, or that its hooks imply (:class:`Kernel`)."""
    return Capabilities(
        resizes_real=bool(getattr(kernel, "resizes_real", True)),
        can_subsample=bool(getattr(kernel, "can_subsample", callable(getattr(kernel, "subsample", None)))),
        can_weigh=bool(getattr(kernel, "can_weigh", callable(getattr(kernel, "scale", None)))),
    )


def _runs(cap: Capabilities, scheme: Scheme) -> bool:
    return (cap.resizes_real or not scheme.fraction) and (cap.can_subsample or not scheme.subsample)


def supported_schemes(kernel: object, schemes: Iterable[Scheme] | None = None) -> tuple[str, ...]:
    """The names of the schemes (default: every registered one) that ``kernel`` can run."""
    cap = capabilities(kernel)
    return tuple(s.name for s in (SCHEMES.values() if schemes is None else schemes) if _runs(cap, s))


def check_supported(kernel: object, scheme: Scheme, weight: float | None = None, what: str = "this model") -> None:
    """Raise :class:`~stability.errors.InputError` if ``kernel`` cannot run ``scheme`` (with ``weight``).

    The message names the schemes it can run (``what`` names the model in it).
    """
    cap = capabilities(kernel)
    if not _runs(cap, scheme):
        names = ", ".join(map(repr, supported_schemes(kernel)))
        raise InputError(f"scheme must be one of {names} for {what}, got {scheme.name!r}")
    if weight is not None and not cap.can_weigh:
        raise InputError(f"synthetic_weight is not supported for {what} (its kernel cannot reweigh data)")


def _steps(generations: int, progress: bool):
    if progress and sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(range(generations), desc="generations", unit="gen", file=sys.stderr)
    return range(generations)


def run(
    kernel: Kernel,
    scheme: Scheme,
    rng: Any,
    n: int,
    k: int,
    generations: int,
    progress: bool = False,
    weight: float | None = None,
) -> Any:
    """Run ``generations`` rounds of retraining of ``kernel`` under ``scheme`` (module docstring).

    ``scheme`` is the scheme actually run (:meth:`~stability.schemes.Scheme.resolve`d), ``n`` the
    real sample size (points fitted per round under a fixed-size scheme), ``k`` the synthetic points
    per round (:meth:`~stability.schemes.Scheme.synthetic`), ``weight`` the checked synthetic weight
    (:func:`stability.weights.check_synthetic_weight`; ``None``: the natural union, no reweighting).
    ``progress``: a tqdm bar over generations when stderr is a terminal. Returns the data of the
    fixed real sample (a scheme that keeps it without redrawing), else ``None``.
    """
    n_r = scheme.real_size(n)
    real = kernel.real(rng, n_r) if scheme.keeps_real else None
    previous = real
    pool = None
    for t in _steps(generations, progress):
        if scheme.redraws_real:
            real = kernel.real(rng, n_r)
        synthetic = kernel.synthetic(rng, t, k) if k else None
        if weight is None:
            previous = scheme.training_set(real, previous, synthetic, kernel.join)
        else:
            pool = synthetic if pool is None or not scheme.accumulate else kernel.join(pool, synthetic)
            previous = weighted(kernel, real, pool, weight)
        kernel.fit(t + 1, scheme.fit_set(previous, n, lambda data, m: kernel.subsample(rng, data, m)))
    return real if scheme.keeps_real and not scheme.redraws_real else None


def weighted(kernel: Kernel, real: Any, synthetic: Any, w: float) -> Any:
    r"""The weighted union of the real and synthetic data (counts ``real[0]``, ``synthetic[0]``).

    Each group's count is rescaled to its share of the Kish effective size
    :math:`N_e = 1/((1-w)^2/n + w^2/m)`: real to :math:`(1-w)N_e`, synthetic to :math:`wN_e`
    (:func:`stability.weights.kish_weights`); the pooled mean is then :math:`(1-w)\hat m + w\bar y`,
    the pooled scatter over :math:`N_e` the weighted covariance, and over :math:`N_e - 1` the
    reliability-weights unbiased one (docs/theory.md §10). ``synthetic`` ``None`` (``k = 0``,
    :math:`w = 0`): the real data.
    """
    from .weights import kish_weights

    if synthetic is None:  # k = 0, w = 0 (checked): real data only
        return real
    c_real, c_synth = kish_weights(w, real[0], synthetic[0])
    return kernel.join(kernel.scale(real, c_real), kernel.scale(synthetic, c_synth))
