"""Fuzz: hypothesis-generated command lines and library calls end in a clear error or a success.

Command lines are drawn per command from pools of flags and values (valid, boundary, out of
domain, non-numbers, huge, random text), data files with random bytes or odd arrays, and output
paths that are missing, are files or are folders. Each runs in this process through
``stability.cli.main`` and must return 0, or 1/2 with exactly one ``error:`` line, never a
traceback; a success that writes ``--out`` must leave a complete file. Library calls get arrays
with NaN, inf, complex, object, empty and huge (broadcast, no memory) shapes and must either
return finite numbers or raise one of the library's documented exceptions
(:mod:`stability.errors`, ``ValueError``).

Sizes in the pools stay small or are far beyond memory, so a success is quick and an
oversized request is refused by the memory estimate before any allocation.
"""

from __future__ import annotations

import atexit
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stability
from stability.cli import main
from stability.errors import StabilityError

_TMP = Path(tempfile.mkdtemp(prefix="stability-fuzz-"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)

NUMBERS = ["0", "1", "2", "3", "7", "0.5", "-1", "-0.5", "1.5", "nan", "inf", "-inf", "1e12", "1e300", "1e-300"]
JUNK = ["", " ", "abc", "--", "0x10", "1e", "١", "None", "[1]", "1,2"]
VALUES = st.one_of(st.sampled_from(NUMBERS + JUNK), st.text(max_size=6))


def _files() -> dict[str, str]:
    rng = np.random.default_rng(0)
    d = _TMP / "files"
    d.mkdir(exist_ok=True)
    arrays = {
        "normal.npy": rng.standard_normal(40),
        "normal2.npy": rng.standard_normal((40, 2)),
        "counts.npy": rng.poisson(3.0, 40).astype(float),
        "binary.npy": rng.integers(0, 2, 40).astype(float),
        "positive.npy": rng.gamma(2.0, 1.0, 40),
        "nan.npy": np.array([1.0, np.nan]),
        "inf.npy": np.array([np.inf, 1.0, 2.0]),
        "complex.npy": rng.standard_normal(10) + 1j,
        "empty.npy": np.zeros((0, 2)),
        "equal.npy": np.full(30, 1e12),
        "tiny.npy": 1e-300 * rng.standard_normal(30),
        "shifted.npy": 1e12 + rng.standard_normal(30),
        "wide.npy": rng.standard_normal((3, 40)),
        "3d.npy": np.zeros((2, 2, 2)),
        "strings.npy": np.array(["1", "2"]),
    }
    out = {}
    for name, a in arrays.items():
        np.save(d / name, a)
        out[name] = str(d / name)
    for name, size in (("random.npy", 200), ("random.csv", 200), ("header_only.npy", 0)):
        blob = b"\x93NUMPY" if name == "header_only.npy" else bytes(rng.integers(0, 256, size, dtype=np.uint8))
        (d / name).write_bytes(blob)
        out[name] = str(d / name)
    (d / "ok.csv").write_text("1,2\n3,4\n5,7\n")
    out["ok.csv"] = str(d / "ok.csv")
    out["missing.npy"] = str(d / "missing.npy")
    out["folder"] = str(d)
    return out


FILES = _files()


@pytest.fixture(autouse=True)
def _address_space_cap():
    """At most 4 GiB more address space while fuzzing: an unbounded allocation fails (and the
    library's memory estimates, which read this limit, refuse it) instead of exhausting the machine."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as f:
        used = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    cap = used + 4 * 2**30
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _outs(sub: str) -> st.SearchStrategy[str]:
    base = _TMP / sub
    base.mkdir(exist_ok=True)
    (base / "afile").write_text("x")
    return st.sampled_from(
        [
            str(base / "new"),
            str(base / "new.npz"),
            str(base / "missing" / "x"),
            str(base / "afile"),
            str(base / "afile" / "x"),
            str(base),
            "",
        ]
    )


def _run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    errors = [ln for ln in err.splitlines() if ": error: " in ln]
    if code == 0:
        assert not errors, err
    else:
        assert code in (1, 2), (code, err)
        assert len(errors) == 1, err
    return code, err


def _options(pool: dict[str, st.SearchStrategy]) -> st.SearchStrategy[list[str]]:
    """A random subset of ``pool``'s flags, each with a drawn value, as an argv tail."""
    flags = sorted(pool)
    return st.lists(st.sampled_from(flags), unique=True, max_size=len(flags)).flatmap(
        lambda chosen: st.tuples(*[pool[f] for f in chosen]).map(
            lambda vals, chosen=chosen: [
                x for f, v in zip(chosen, vals, strict=True) for x in ([f] if v is None else [f, v])
            ]
        )
    )


@SETTINGS
@given(
    opts=_options(
        {
            "--lambda": VALUES,
            "--eps": VALUES,
            "--alpha": VALUES,
            "--L": VALUES,
            "--form": st.sampled_from(["paper", "sharp", "x"]),
            "--json": st.none(),
        }
    )
)
def test_fuzz_bound(opts, capsys):
    _run(["bound", *opts], capsys)


SIM_SIZES = st.sampled_from(["1", "2", "3", "5", "0", "-2", "2.5", "nan", "inf", "1e12", "1e15", "x"])


@SETTINGS
@given(
    family=st.sampled_from(["gaussian", "bernoulli", "categorical", "poisson", "exponential", "gamma", "cauchy"]),
    opts=_options(
        {
            "--n": SIM_SIZES,
            "--lambda": VALUES,
            "--generations": SIM_SIZES,
            "--chains": SIM_SIZES,
            "--dim": SIM_SIZES,
            "--scheme": st.sampled_from(["fixed-real", "fresh-real", "replace", "accumulate", "x"]),
            "--method": st.sampled_from(["exact", "naive", "x"]),
            "--estimator": st.sampled_from(["mle", "unbiased", "x"]),
            "--seed": VALUES,
            "--out": _outs("sim"),
            "--json": st.none(),
        }
    ),
)
def test_fuzz_simulate(family, opts, capsys):
    argv = ["simulate", family, "--n", "4", "--lambda", "1", "--generations", "2", "--chains", "3", *opts]
    code, _ = _run(argv, capsys)
    if code == 0 and "--out" in opts:
        out = Path(opts[opts.index("--out") + 1])
        written = out if out.suffix == ".npz" else out.with_name(out.name + ".npz")
        with np.load(written) as z:  # complete: every array readable
            assert z["mean"].shape[0] == z["collapsed"].shape[0]
        written.unlink()


CLOSED = ["gaussian", "gaussian-diag", "bernoulli", "categorical", "poisson", "exponential", "gamma"]
DISTS = ["norm:0,1", "norm:1e12,1", "norm:0,1e-12", "t:1", "poisson:3", "gamma:2,0,0.5", "bernoulli:0.3", "nosuch:1"]
DISTS += ["mixture:0.5,-2,1;0.5,2,1", "mixture:1,0,0", "mixture:", "norm:", "norm:a", "uniform:0,0"]


@SETTINGS
@given(
    model=st.sampled_from([*CLOSED, "x"]),
    source=st.one_of(
        st.tuples(st.just("--data"), st.sampled_from(sorted(FILES.values()))),
        st.tuples(st.just("--dist"), st.one_of(st.sampled_from(DISTS), st.text(max_size=8))),
    ),
    opts=_options(
        {
            "--lambda": VALUES,
            "--dim": SIM_SIZES,
            "--k": SIM_SIZES,
            "--seed": VALUES,
            "--w1-points": SIM_SIZES,
            "--json": st.none(),
        }
    ),
)
def test_fuzz_analyze(model, source, opts, capsys):
    _run(["analyze", model, *source, "--lambda", "0.5", *opts], capsys)


@pytest.mark.slow
@settings(SETTINGS, max_examples=15)
@given(
    opts=_options(
        {
            "--lambda": st.lists(
                st.sampled_from(["0", "0.5", "-1", "inf", "nan", "replace", "accumulate", "x"]), min_size=1, max_size=2
            ),
            "--generations": SIM_SIZES,
            "--n": SIM_SIZES,
            "--heldout": VALUES,
            "--seed": VALUES,
            "--batch-size": SIM_SIZES,
            "--lr": VALUES,
            "--eval-samples": SIM_SIZES,
            "--device": st.sampled_from(["cpu", "cuda", "cuda:9", "tpu", ""]),
            "--data": st.sampled_from(["moons", "nosuch", FILES["random.npy"], FILES["normal.npy"], FILES["folder"]]),
            "--resume": st.none(),
        }
    ),
    out=_outs("retrain"),
)
def test_fuzz_retrain(opts, out, capsys):
    # the lambda list is one flag with several values
    flat = []
    for x in opts:
        flat += x if isinstance(x, list) else [x]
    tiny = ["--profile", "tiny", "--quiet", "--no-plots", "--pretrain-steps", "1", "--finetune-steps", "1"]
    argv = ["retrain", "--model", "flow", "--data", "moons", *tiny, "--generations", "1", "--n", "16"]
    argv += ["--eval-samples", "8", "--lambda", "0", *flat, "--out", out]
    _run(argv, capsys)
    if out and Path(out).is_dir() and (Path(out) / "config.json").exists():
        shutil.rmtree(out)


# --- the library ---------------------------------------------------------------------------------

ODD_VALUES = st.sampled_from([0.0, 1.0, -1.0, 1e-300, 1e300, np.nan, np.inf, -np.inf, 1e12, -1e-12])


@st.composite
def arrays(draw):
    kind = draw(st.sampled_from(["numbers", "complex", "object", "empty", "huge", "strings", "nested", "scalar"]))
    if kind == "numbers":
        n = draw(st.integers(1, 30))
        d = draw(st.sampled_from([None, 1, 2, 3]))
        base = draw(st.sampled_from(["normal", "counts", "constant"]))
        rng = np.random.default_rng(draw(st.integers(0, 2**16)))
        shape = (n,) if d is None else (n, d)
        x = {"normal": rng.standard_normal(shape), "counts": rng.poisson(2.0, shape) * 1.0, "constant": np.ones(shape)}[
            base
        ]
        x = x * draw(st.sampled_from([1.0, 1e-12, 1e12])) + draw(st.sampled_from([0.0, 1e12, -5.0]))
        if draw(st.booleans()):
            x.flat[draw(st.integers(0, x.size - 1))] = draw(ODD_VALUES)
        return x
    if kind == "complex":
        return np.arange(5) + 1j
    if kind == "object":
        return np.array([1, "a", None], dtype=object)
    if kind == "empty":
        return np.zeros(draw(st.sampled_from([(0,), (0, 2), (3, 0)])))
    if kind == "huge":  # a broadcast view: no memory behind it
        return np.broadcast_to(np.float64(1.0), draw(st.sampled_from([(10**6, 10**5), (10**11,), (10**9, 1)])))
    if kind == "strings":
        return ["1", "x"]
    if kind == "nested":
        return [[1.0, 2.0], [3.0]]
    return draw(ODD_VALUES)


ALLOWED = (StabilityError, ValueError)


@SETTINGS
@given(model=st.sampled_from([*CLOSED, "student-t", "logistic", "gaussian-mixture"]), data=arrays(), lam=ODD_VALUES)
@pytest.mark.torch
def test_fuzz_analyze_api(model, data, lam):
    if (
        model in ("student-t", "logistic", "gaussian-mixture")
        and isinstance(data, np.ndarray)
        and data.dtype.kind == "f"
    ):
        if 0 < data.size <= 10**6 and np.all(np.isfinite(data)) and data.ndim <= 2 and np.ptp(data) > 0:
            data = data.copy()
            data.flat[0] = np.nan  # keep the numerical models to their (fast) validation paths
    try:
        r = stability.analyze(model, data, lam)
    except ALLOWED as err:
        assert "\n" not in str(err)
        return
    # a result: finite where it must be, the rate a probability (lambda >= 0)
    assert np.all(np.isfinite(r.theta_star))
    assert 0.0 <= r.rate_exact <= 1.0 or math.isnan(lam)
    assert r.alpha > 0


@SETTINGS
@given(
    family=st.sampled_from(["gaussian", "bernoulli", "categorical", "poisson", "exponential", "gamma"]),
    n=st.one_of(st.sampled_from([2, 3, 10]), ODD_VALUES, st.just("10"), st.just([2, 3])),
    lam=st.one_of(ODD_VALUES, st.just(1j)),
    generations=st.sampled_from([0, 1, 3, -1, 10**12, 2.5]),
    chains=st.sampled_from([1, 4, 0, 10**13]),
    method=st.sampled_from(["exact", "naive"]),
    scheme=st.sampled_from(["fixed-real", "replace", "accumulate", "fresh-real"]),
    seed=st.sampled_from([0, 1, -1, None, "x", 2**70]),
)
def test_fuzz_simulate_api(family, n, lam, generations, chains, method, scheme, seed):
    kw = dict(n=n, lambda_=lam, generations=generations, chains=chains, method=method, scheme=scheme, seed=seed)
    try:
        r = stability.simulate(family, **kw)
    except ALLOWED as err:
        assert "\n" not in str(err)
        return
    assert np.all(np.isfinite(r.mean) | r.collapsed[..., None])
    # no silent collapse: a chain whose KL is beyond the documented threshold is flagged
    from stability.families._simulation import COLLAPSE_KL

    assert not np.any((r.kl > COLLAPSE_KL) & ~r.collapsed)


@pytest.mark.parametrize("family", ["exponential", "gamma", "poisson", "bernoulli"])
def test_synthetic_collapse_is_seen(family):
    """Purely synthetic chains shrink to the edge of the domain: every one is flagged collapsed."""
    r = stability.simulate(family, n=5, lambda_=math.inf, generations=3000, chains=8, seed=0)
    assert not r.collapsed[0].any()  # generation 0 is the data distribution
    assert r.collapsed[-1].all()
