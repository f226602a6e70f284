"""A table of invalid inputs and the message each must give (issue 11, "Hardening").

``cli_cases(tmp)`` lists command lines, ``api_cases(tmp)`` library calls, each with the exit status
(CLI: 2 for a usage error, 1 for a runtime failure) or the exception type (API) and a regular
expression the one-line message must match. Files the cases need are written under ``tmp``.
``benchmarks/hardening_probe.py`` runs the table against any checkout and counts tracebacks, unclear
messages and silent acceptances; ``tests/test_invalid_inputs.py`` pins every message.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ApiCase", "CliCase", "api_cases", "cli_cases"]


@dataclass(frozen=True)
class CliCase:
    id: str
    argv: tuple
    code: int  # expected exit status: 2 usage, 1 runtime
    match: str  # regular expression the stderr line must contain


@dataclass(frozen=True)
class ApiCase:
    id: str
    call: object  # a function of no arguments
    exc: type  # the exception type expected
    match: str


def _files(tmp: Path) -> dict[str, str]:
    """Input files of the cases: name -> path."""
    tmp.mkdir(parents=True, exist_ok=True)
    f = {}

    def put(name, writer):
        p = tmp / name
        writer(p)
        f[name] = str(p)

    rng = np.random.default_rng(0)
    put("ok.npy", lambda p: np.save(p, rng.standard_normal(50)))
    put("corrupt.npy", lambda p: p.write_bytes(b"\x93NUMPY\x01\x00garbage-header-not-a-dict" + bytes(range(40))))
    put("random.npy", lambda p: p.write_bytes(bytes(rng.integers(0, 256, 300, dtype=np.uint8))))
    put("empty_file.npy", lambda p: p.write_bytes(b""))
    put("empty.npy", lambda p: np.save(p, np.zeros(0)))
    put("nan.npy", lambda p: np.save(p, np.array([1.0, np.nan, 2.0])))
    put("inf.npy", lambda p: np.save(p, np.array([1.0, np.inf, 2.0])))
    put("complex.npy", lambda p: np.save(p, rng.standard_normal(20) + 1j * rng.standard_normal(20)))
    put("object.npy", lambda p: np.save(p, np.array([1, "a", None], dtype=object), allow_pickle=True))
    put("strings.npy", lambda p: np.save(p, np.array(["a", "b"])))
    put("bool.npy", lambda p: np.save(p, np.array([True, False, True])))
    put("3d.npy", lambda p: np.save(p, np.zeros((4, 3, 2))))
    put("scalar.npy", lambda p: np.save(p, np.float64(1.0)))
    put("onepoint.npy", lambda p: np.save(p, np.array([1.0])))
    put("twopoints.npy", lambda p: np.save(p, np.array([-1.0, 1.0])))
    put("equal.npy", lambda p: np.save(p, np.full(50, 3.0)))
    put("negative.npy", lambda p: np.save(p, -np.abs(rng.standard_normal(30)) - 0.1))
    put("fractional.npy", lambda p: np.save(p, np.array([0.5, 1.5, 2.0])))
    put("labels_neg.npy", lambda p: np.save(p, np.array([0, 1, -1, 2])))
    put("bern3.npy", lambda p: np.save(p, np.array([0, 1, 2, 1])))
    put("bad.csv", lambda p: p.write_text("1,2\nx,y\n"))
    put("ragged.csv", lambda p: p.write_text("1,2\n3\n"))
    put("empty.csv", lambda p: p.write_text(""))
    put("nan.csv", lambda p: p.write_text("1\nnan\n2\n"))
    put("binary.csv", lambda p: p.write_bytes(bytes(rng.integers(0, 256, 200, dtype=np.uint8))))
    put("data.txt", lambda p: p.write_text("1\n2\n"))
    put("afile", lambda p: p.write_text("not a folder\n"))
    put("wide.npy", lambda p: np.save(p, rng.standard_normal((3, 10))))
    (tmp / "adir.npy").mkdir(exist_ok=True)
    f["adir.npy"] = str(tmp / "adir.npy")
    (tmp / "readonly").mkdir(exist_ok=True)
    (tmp / "readonly").chmod(0o555)
    f["readonly"] = str(tmp / "readonly")
    # damaged retrain run folders
    cfg = {"config": {"model": "flow", "data": "moons"}, "hash": "0"}
    for name, text in {
        "run_empty": "",
        "run_notjson": "{not json",
        "run_list": "[1, 2]",
        "run_nokeys": "{}",
        "run_nohash": json.dumps({"config": {"model": "flow"}}),
        "run_badhash": json.dumps(cfg),
        "run_configlist": json.dumps({"config": [1], "hash": "x"}),
        "run_binary": "\x00\x01\x02\xff",
    }.items():
        d = tmp / name
        d.mkdir(exist_ok=True)
        (d / "config.json").write_text(text, errors="surrogateescape") if name != "run_binary" else (
            d / "config.json"
        ).write_bytes(b"\x00\x01\x02\xff\xfe")
        f[name] = str(d)
    return f


def cli_cases(tmp) -> list[CliCase]:
    tmp = Path(tmp)
    f = _files(tmp)
    cases: list[CliCase] = []

    def add(id_, argv, code, match):
        cases.append(CliCase(id_, tuple(argv), code, match))

    # --- bound ---------------------------------------------------------------------------------
    base = {"--lambda": "0.3", "--eps": "0.1"}
    bad_values = {
        "--lambda": [("-1", r"--lambda must be >= 0"), ("nan", r"--lambda must be >= 0"), ("abc", r"--lambda")],
        "--eps": [("-1", r"--eps must be >= 0"), ("nan", r"--eps"), ("inf", r"--eps"), ("x", r"--eps")],
        "--alpha": [("0", r"--alpha must be > 0"), ("-2", r"--alpha"), ("nan", r"--alpha"), ("inf", r"--alpha")],
        "--L": [("-1", r"--L must be >= 0"), ("nan", r"--L"), ("inf", r"--L"), ("1e", r"--L")],
    }
    for flag, values in bad_values.items():
        for v, m in values:
            args = dict(base)
            args[flag] = v
            add(f"bound{flag}={v}", ["bound", *[x for kv in args.items() for x in kv]], 2, m)
    add("bound-form", ["bound", "--lambda", "0.3", "--eps", "0.1", "--form", "tight"], 2, r"--form")
    add("bound-missing-eps", ["bound", "--lambda", "0.3"], 2, r"--eps")
    add("bound-unknown-flag", ["bound", "--lambda", "0.3", "--eps", "0.1", "--beta", "1"], 2, r"--beta")
    add("no-command", [], 2, r"command")
    add("unknown-command", ["frobnicate"], 2, r"frobnicate")

    # --- simulate ------------------------------------------------------------------------------
    sim = ["simulate", "gaussian", "--n", "10", "--lambda", "0.5", "--generations", "2", "--chains", "3"]

    def simulate_with(**kw):
        argv = list(sim)
        for k, v in kw.items():
            flag = "--" + k.replace("_", "-")
            if flag in argv:
                argv[argv.index(flag) + 1] = v
            else:
                argv += [flag, v]
        return argv

    for flag, values in {
        "n": [("1", r"--n must be an integer >= 2"), ("1.5", r"--n"), ("-3", r"--n"), ("nan", r"--n"), ("inf", r"--n")],
        "lambda": [("-1", r"--lambda must be >= 0"), ("nan", r"--lambda"), ("abc", r"--lambda")],
        "generations": [("-1", r"--generations"), ("1.5", r"--generations"), ("nan", r"--generations")],
        "chains": [("0", r"--chains"), ("2.5", r"--chains"), ("nan", r"--chains"), ("inf", r"--chains")],
        "dim": [("0", r"--dim"), ("1.5", r"--dim"), ("nan", r"--dim")],
        "seed": [("-1", r"--seed"), ("abc", r"--seed"), ("1.5", r"--seed"), ("inf", r"--seed")],
        "scheme": [("mixed", r"--scheme")],
        "synthetic_weight": [
            ("1.5", r"--synthetic-weight must be in \[0, 1\]"),
            ("-0.1", r"--synthetic-weight must be in \[0, 1\]"),
            ("nan", r"--synthetic-weight must be in \[0, 1\]"),
            ("x", r"--synthetic-weight"),
        ],
        "method": [("slow", r"--method")],
        "estimator": [("map", r"--estimator")],
    }.items():
        for v, m in values:
            add(f"simulate-{flag}={v}", simulate_with(**{flag: v}), 2, m)
    add("simulate-family", ["simulate", "cauchy", "--n", "10", "--lambda", "1", "--generations", "1"], 2, r"family")
    add("simulate-chains-1e12", simulate_with(chains="1e12"), 1, r"(?i)memory.*--chains")
    add("simulate-generations-1e10", simulate_with(generations="1e10"), 1, r"(?i)memory")
    add("simulate-dim-1e5", simulate_with(dim="1e5", n="200000"), 1, r"(?i)memory")
    frac = simulate_with(scheme="fresh-fraction")
    for v in ("0", "1.5", "nan", "abc"):
        add(f"simulate-real-fraction={v}", frac + ["--real-fraction", v], 2, r"--real-fraction")
    add("simulate-real-fraction-tiny", frac + ["--real-fraction", "0.01"], 2, r"--real-fraction must satisfy floor")
    add(
        "simulate-real-fraction-scheme",
        simulate_with(real_fraction="0.5"),
        2,
        r"--real-fraction must be given only for the fraction schemes",
    )
    add(
        "simulate-naive-huge-k",
        ["simulate", "gaussian", "--n", "2", "--lambda", "1e12", "--generations", "1", "--chains", "1"]
        + ["--dim", "100", "--method", "naive"],
        2,
        r"method 'naive' would draw .* use method 'exact'",
    )
    add(
        "simulate-naive-poisson-huge-k",
        ["simulate", "categorical", "--n", "2", "--lambda", "1e15", "--generations", "1", "--chains", "1000"]
        + ["--method", "naive"],
        2,
        r"method 'naive' would draw",
    )
    add("simulate-lambda-huge", simulate_with(lambda_="1e300"), 2, r"lambda")
    add("simulate-small-n-dim", simulate_with(dim="5", n="2", **{"lambda": "0"}), 2, r"d \+ 1")
    add(
        "simulate-replace-synthetic-weight",
        simulate_with(scheme="replace", synthetic_weight="0.5"),
        2,
        r"--synthetic-weight must be None or 1 under scheme 'replace'",
    )
    add("simulate-accumulate-inf", simulate_with(scheme="accumulate", **{"lambda": "inf"}), 2, r"accumulate")
    add("simulate-out-missing-parent", simulate_with(out=str(tmp / "nope" / "x.npz")), 1, r"--out.*(exist|folder)")
    add("simulate-out-parent-file", simulate_with(out=f["afile"] + "/x.npz"), 1, r"--out")
    if os.geteuid() != 0:  # root writes anywhere
        add("simulate-out-readonly", simulate_with(out=f["readonly"] + "/x.npz"), 1, r"(?i)--out.*(permission|writ)")
    add("simulate-out-is-dir", simulate_with(out=str(tmp)), 1, r"(?i)--out.*(folder|directory)")
    add("simulate-out-empty", simulate_with(out=""), 2, r"--out")

    # --- analyze -------------------------------------------------------------------------------
    def an(model, *rest):
        return ["analyze", model, *rest]

    d_ok = ["--data", f["ok.npy"], "--lambda", "0.5"]
    add("analyze-model", an("cauchy", *d_ok), 2, r"MODEL|model")
    add("analyze-no-source", an("gaussian", "--lambda", "0.5"), 2, r"--data|--dist")
    add("analyze-both-sources", an("gaussian", *d_ok, "--dist", "norm:0,1"), 2, r"--dist|--data")
    for v, m in [("-1", r"--lambda must be >= 0"), ("nan", r"--lambda"), ("abc", r"--lambda")]:
        add(f"analyze-lambda={v}", an("gaussian", "--data", f["ok.npy"], "--lambda", v), 2, m)
    for name, m in [
        ("missing.npy", r"--data.*not found"),
        ("corrupt.npy", r"(?i)--data.*(not a valid|corrupt|cannot read)"),
        ("random.npy", r"(?i)--data.*(not a valid|corrupt|cannot read)"),
        ("empty_file.npy", r"(?i)--data.*(empty|not a valid|cannot read)"),
        ("empty.npy", r"(?i)data.*(empty|n >= 1|shape)"),
        ("nan.npy", r"(?i)data.*(nan|finite)"),
        ("inf.npy", r"(?i)data.*(inf|finite)"),
        ("complex.npy", r"(?i)data.*(complex|real)"),
        ("object.npy", r"(?i)--data.*(object|pickle)"),
        ("strings.npy", r"(?i)data.*(number|numeric)"),
        ("3d.npy", r"(?i)data.*shape"),
        ("scalar.npy", r"(?i)data.*shape"),
        ("bad.csv", r"--data.*comma-separated"),
        ("ragged.csv", r"--data.*comma-separated"),
        ("empty.csv", r"(?i)--data.*(empty|comma-separated|no data)"),
        ("nan.csv", r"(?i)data.*(nan|finite)"),
        ("binary.csv", r"(?i)--data.*(comma-separated|cannot read|text)"),
        ("data.txt", r"--data.*\.npy or \.csv"),
        ("adir.npy", r"(?i)--data.*(not a file|folder|not found)"),
    ]:
        path = f.get(name, str(tmp / name))
        add(f"analyze-data-{name}", an("gaussian", "--data", path, "--lambda", "0.5"), 2, m)
    for name, model, m in [
        ("onepoint.npy", "gaussian", r"(?i)at least|degenerate|n >= 2"),
        ("equal.npy", "gaussian", r"(?i)degenerate"),
        ("equal.npy", "gaussian-diag", r"(?i)degenerate"),
        ("equal.npy", "student-t", r"(?i)degenerate"),
        ("equal.npy", "logistic", r"(?i)degenerate"),
        ("equal.npy", "gaussian-numerical", r"(?i)degenerate"),
        ("twopoints.npy", "gaussian-mixture", r"(?i)at least|too few|degenerate|identifiable"),
        ("negative.npy", "exponential", r"data must be >= 0 for this family, got min -"),
        ("negative.npy", "gamma", r"data must be > 0 for this family, got min -"),
        ("negative.npy", "poisson", r"(?i)data.*(integer|count|>= 0)"),
        ("fractional.npy", "poisson", r"(?i)data.*(integer|count)"),
        ("labels_neg.npy", "categorical", r"(?i)data.*(label|integer|0)"),
        ("bern3.npy", "bernoulli", r"(?i)data.*(0 or 1|0, 1|binary)"),
        ("wide.npy", "gaussian", r"(?i)data|d \+ 1|samples|degenerate|singular|identif"),
        ("complex.npy", "poisson", r"(?i)data.*(complex|real)"),
    ]:
        add(f"analyze-{model}-{name}", an(model, "--data", f[name], "--lambda", "0.5"), 2, m)
    for spec, m in [
        ("nosuch:1", r"--dist: unknown distribution"),
        ("norm:a,b", r"--dist"),
        ("norm:0,-1", r"--dist"),
        ("norm:0,1,2,3,4", r"--dist"),
        ("mixture:", r"--dist"),
        ("mixture:1,2", r"--dist"),
        ("mixture:0.5,0,1;0.5,x,1", r"--dist"),
        ("mixture:0.5,0,-1;0.5,1,1", r"--dist"),
        ("mixture:0.3,0,1;0.3,1,1", r"(?i)--dist.*weight"),
        ("mixture:-1,0,1;2,1,1", r"(?i)--dist.*weight"),
        ("mixture:0.5,nan,1;0.5,1,1", r"(?i)--dist.*finite"),
        ("rv_continuous:1", r"--dist"),
        ("", r"--dist"),
        ("norm:inf,1", r"--dist"),
    ]:
        add(f"analyze-dist={spec}", an("gaussian", "--dist", spec, "--lambda", "0.5"), 2, m)
    add("analyze-dist-poisson-for-gamma", an("gamma", "--dist", "poisson:3", "--lambda", "0.5"), 2, r"(?i)data|> 0")
    add(
        "analyze-dist-norm-for-exponential",
        an("exponential", "--dist", "norm:0,1", "--lambda", "0.5"),
        2,
        r"support in \[0, inf\)",
    )
    for flag, v, m in [
        ("--d", "0", r"--d must be an integer >= 1"),
        ("--d", "1.5", r"--d"),
        ("--d", "nan", r"--d"),
        ("--seed", "-1", r"--seed"),
        ("--seed", "x", r"--seed"),
        ("--w1-points", "1", r"--w1-points"),
        ("--w1-points", "nan", r"--w1-points"),
        ("--d", "3", r"data must have shape \(n, 3\) for a 3-dimensional Gaussian"),
    ]:
        add(f"analyze{flag}={v}", an("gaussian", *d_ok, flag, v), 2, m)
    for v, m in [("1", r"--k must be an integer >= 2"), ("2.5", r"--k must be an integer")]:
        add(
            f"analyze-categorical--k={v}",
            an("categorical", "--data", f["bern3.npy"], "--lambda", "0.5", "--k", v),
            2,
            m,
        )
    add("analyze-gaussian-k", an("gaussian", *d_ok, "--k", "3"), 2, r"--k is not an option of model 'gaussian'")
    # options a numerical model does not take
    for model in ("student-t", "logistic", "laplace", "gaussian-numerical"):
        add(f"analyze-{model}-k", an(model, *d_ok, "--k", "3"), 2, r"--k")
    add("analyze-student-t-d2", an("student-t", *d_ok, "--d", "2"), 2, r"--d")
    add("analyze-mixture-d3", an("gaussian-mixture", *d_ok, "--d", "3"), 2, r"--d")
    add("analyze-categorical-d", an("categorical", *d_ok, "--d", "2"), 2, r"--d")
    add("analyze-poisson-k", an("poisson", *d_ok, "--k", "3"), 2, r"--k")

    # --- retrain -------------------------------------------------------------------------------
    def rt(*rest, out=None):
        return ["retrain", "--model", "flow", "--data", "moons", "--profile", "tiny", "--quiet", "--no-plots"] + [
            *rest,
            "--out",
            out or str(tmp / "runs" / "new"),
        ]

    add("retrain-model", ["retrain", "--model", "gan", "--data", "moons", "--out", str(tmp / "r")], 2, r"--model")
    add("retrain-no-out", ["retrain", "--model", "flow", "--data", "moons"], 2, r"--out")
    for flag, v, m in [
        ("--lambda", "-1", r"--lambda.*>= 0"),
        ("--lambda", "inf", r"(?i)--lambda.*(finite|replace)"),
        ("--lambda", "abc", r"--lambda"),
        ("--lambda", "nan", r"--lambda"),
        ("--generations", "0", r"--generations"),
        ("--generations", "-1", r"--generations"),
        ("--generations", "x", r"--generations"),
        ("--n", "1", r"--n"),
        ("--n", "-5", r"--n"),
        ("--n", "2.5", r"--n"),
        ("--heldout", "0", r"--heldout"),
        ("--heldout", "1", r"--heldout"),
        ("--heldout", "-0.5", r"--heldout"),
        ("--heldout", "nan", r"--heldout"),
        ("--seed", "-1", r"--seed"),
        ("--pretrain-steps", "0", r"--pretrain-steps"),
        ("--finetune-steps", "-2", r"--finetune-steps"),
        ("--batch-size", "0", r"--batch-size"),
        ("--lr", "0", r"--lr"),
        ("--lr", "-1", r"--lr"),
        ("--lr", "nan", r"--lr"),
        ("--lr", "inf", r"--lr"),
        ("--finetune-lr", "0", r"--finetune-lr"),
        ("--eval-samples", "1", r"--eval-samples"),
        ("--device", "tpu9", r"--device"),
        ("--device", "cuda:7", r"--device"),
        ("--profile", "huge", r"--profile"),
    ]:
        add(f"retrain{flag}={v}", rt(flag, v, out=str(tmp / "runs" / f"r{len(cases)}")), 2, m)
    add("retrain--n=5e9", rt("--n", "5e9", out=str(tmp / "runs" / "n5e9")), 1, r"(?i)memory.*lower n \(--n\)")
    add("retrain-lambda-repeat", rt("--lambda", "0.5", "0.50", out=str(tmp / "runs" / "rep")), 2, r"--lambda")
    add("retrain-data-missing", rt(out=str(tmp / "runs" / "dm")) + ["--data", str(tmp / "no.npz")], 2, r"--data")
    add("retrain-data-text", rt(out=str(tmp / "runs" / "dt")) + ["--data", f["data.txt"]], 2, r"--data")
    add("retrain-data-random", rt(out=str(tmp / "runs" / "dr")) + ["--data", f["random.npy"]], 2, r"--data")
    add("retrain-out-is-file", rt(out=f["afile"]), 1, r"--out")
    add("retrain-out-parent-file", rt(out=f["afile"] + "/run"), 1, r"--out")
    if os.geteuid() != 0:
        add("retrain-out-readonly", rt(out=f["readonly"] + "/run"), 1, r"--out")
    add("retrain-resume-missing", rt("--resume", out=str(tmp / "runs" / "never")), 2, r"(?i)--out.*(no run|not exist)")
    for name in ("run_empty", "run_notjson", "run_list", "run_nokeys", "run_nohash", "run_configlist", "run_binary"):
        add(f"retrain-resume-{name}", rt("--resume", out=f[name]), 1, r"config\.json")
    add("retrain-resume-badhash", rt("--resume", out=f["run_badhash"]), 1, r"(?i)config\.json.*(edited|hash)")
    add("retrain-exists-no-resume", rt(out=f["run_badhash"]), 2, r"(?i)already holds a run")
    return cases


def api_cases(tmp) -> list[ApiCase]:
    import stability
    from stability import families
    from stability.dynamics import simulate

    try:
        from stability.errors import MemoryEstimateError
    except ImportError:  # the probe also runs on checkouts from before stability.errors
        MemoryEstimateError = MemoryError  # noqa: N806

    tmp = Path(tmp)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(50)
    cases: list[ApiCase] = []

    def add(id_, call, exc, match):
        cases.append(ApiCase(id_, call, exc, match))

    def an(model, data, lam=0.5, **kw):
        return lambda: stability.analyze(model, data, lam, **kw)

    E = ValueError  # InputError subclasses ValueError
    for model in ("gaussian", "gaussian-diag", "poisson", "exponential", "student-t"):
        add(f"api-{model}-complex", an(model, x + 1j), E, r"(?i)data.*complex")
        add(f"api-{model}-object", an(model, np.array([1, "a"], dtype=object)), E, r"(?i)data.*number")
        add(f"api-{model}-empty", an(model, np.zeros(0)), E, r"(?i)data.*(shape|empty)")
        add(f"api-{model}-nan", an(model, np.array([1.0, np.nan, 3.0])), E, r"(?i)data.*finite")
        add(f"api-{model}-lambda", an(model, np.round(np.abs(x)) + 1, lam=-1), E, r"lambda_ must be >= 0")
    add("api-gaussian-3d", an("gaussian", np.zeros((2, 2, 2))), E, r"(?i)data.*shape")
    add("api-gaussian-strings", an("gaussian", ["a", "b"]), E, r"(?i)data.*number")
    add("api-gaussian-dict", an("gaussian", {"a": 1}), E, r"(?i)data")
    add("api-gaussian-none", an("gaussian", None), E, r"(?i)data")
    add("api-gaussian-equal", an("gaussian", np.full(20, 1e12)), E, r"(?i)degenerate")
    add("api-gaussian-diag-equal", an("gaussian-diag", np.full(20, 1e-12)), E, r"(?i)degenerate")
    add("api-student-t-equal", an("student-t", np.full(20, 5.0)), E, r"(?i)degenerate")
    add("api-mixture-two-points", an("gaussian-mixture", np.array([0.0, 1.0])), E, r"(?i)at least|too few")
    add("api-unknown-model", an("cauchy", x), E, r"model must be one of")
    add("api-option-typo", an("gaussian", x, dd=2), E, r"(?i)dd")
    add("api-student-t-option", an("student-t", x, k=2), E, r"(?i)\bk\b")
    add("api-model-object", lambda: stability.analyze(object(), x, 0.5), E, r"local_constants")
    add("api-categorical-huge-k", an("categorical", np.array([0, 1, 10**9])), MemoryEstimateError, r"k = 1000000001")
    add("api-exponential-zero", an("exponential", np.zeros(10)), E, r"(?i)> 0|degenerate|positive")

    def sim(**kw):
        base = dict(n=10, lambda_=0.5, generations=2, chains=3, seed=0)
        return lambda: simulate("gaussian", **(base | kw))

    for key, v, m in [
        ("n", 1, r"n must be an integer >= 2"),
        ("n", 2.5, r"n must be"),
        ("n", "ten", r"n must be"),
        ("n", None, r"n must be"),
        ("lambda_", -1, r"lambda_ must be >= 0"),
        ("lambda_", np.nan, r"lambda_"),
        ("lambda_", "x", r"lambda_"),
        ("generations", -1, r"generations"),
        ("chains", 0, r"chains"),
        ("chains", [1, 2], r"chains"),
        ("seed", -1, r"(?i)seed"),
        ("seed", "abc", r"(?i)seed"),
        ("scheme", "mixed", r"scheme must be one of"),
        ("method", "x", r"method must be one of"),
        ("estimator", "x", r"estimator must be one of"),
        ("data", {"mean": [0, 1], "cov": [[1, 2], [2, 1]]}, r"data\['cov'\]"),
        ("data", {"mean": [np.nan]}, r"data\['mean'\]"),
        ("data", {"mu": [0]}, r"takes keys"),
        ("data", {"mean": [1j]}, r"(?i)data\['mean'\].*(complex|real)"),
        ("init", {"cov": [[-1.0]]}, r"init\['cov'\]"),
        ("synthetic_weight", 1.5, r"synthetic_weight must be in \[0, 1\], got 1.5"),
        ("synthetic_weight", -0.5, r"synthetic_weight must be in \[0, 1\]"),
        ("synthetic_weight", np.nan, r"synthetic_weight must be in \[0, 1\], got nan"),
        ("synthetic_weight", "half", r"synthetic_weight must be a real number in \[0, 1\]"),
        ("synthetic_weight", [0.5], r"synthetic_weight must be a single number"),
    ]:
        add(f"api-simulate-{key}={v!r}", sim(**{key: v}), E, m)
    add(
        "api-simulate-replace-synthetic-weight",
        sim(scheme="replace", synthetic_weight=0.5),
        E,
        r"synthetic_weight must be None or 1 under scheme 'replace'",
    )
    add("api-simulate-k0-synthetic-weight", sim(lambda_=0.0, synthetic_weight=0.5), E, r"synthetic_weight must be 0")
    add(
        "api-stationary-synthetic-weight-1",
        lambda: stability.stationary(np.eye(1), np.eye(1), 1.0, 10, synthetic_weight=1.0),
        E,
        r"synthetic_weight must be in \[0, 1\) for a stationary law",
    )
    add(
        "api-stationary-synthetic-weight-nan",
        lambda: stability.stationary(np.eye(1), np.eye(1), 1.0, 10, synthetic_weight=np.nan),
        E,
        r"synthetic_weight must be in \[0, 1\], got nan",
    )
    add(
        "api-retrain-chains-synthetic-weight-1",
        lambda: stability.retrain_chains("student-t", x, 1.0, generations=1, chains=1, synthetic_weight=1.0),
        E,
        r"synthetic_weight must be in \[0, 1\) for retrain_chains",
    )
    # any training loss (docs/theory.md §13)
    from stability.numerical import LossModel

    def _lm(**kw):
        args = dict(loss=lambda th, x: (x[:, 0] - th[0]) ** 2, sample=lambda th, z: th[0] + z, theta0=[0.0])
        args.update(kw)
        return lambda: LossModel(args.pop("loss"), args.pop("sample"), args.pop("theta0"), **{"noise_dim": 1, **args})

    lm_ok = LossModel(lambda th, x: (x[:, 0] - th[0]) ** 2, lambda th, z: th[0] + z, [0.0], noise_dim=1)
    for id_, call, m in [
        ("theta0-nan", _lm(theta0=[np.nan]), r"theta0 must be a finite non-empty 1-D array"),
        ("theta0-empty", _lm(theta0=[]), r"theta0 must be a finite non-empty 1-D array"),
        ("noise-dim-0", _lm(noise_dim=0), r"noise_dim must be an integer >= 1"),
        ("data-dim-0", _lm(data_dim=0), r"data_dim must be an integer >= 1"),
        ("loss-not-callable", _lm(loss=3), r"loss must be callable"),
        ("n-noise-1", lambda: stability.analyze(lm_ok, x, 1.0, n_noise=1), r"n_noise must be an integer >= 2"),
        ("lambda-inf", lambda: stability.analyze(lm_ok, x, np.inf), r"lambda_ must be finite"),
        ("option", lambda: stability.analyze(lm_ok, x, 1.0, d=3), r"a loss model does not take option\(s\) \['d'\]"),
        ("data-dim", lambda: stability.analyze(lm_ok, np.zeros((5, 2)), 1.0), r"data must have dimension 1"),
        (
            "chains-prior",
            lambda: stability.retrain_chains(lm_ok, x, 1.0, generations=1, chains=1, prior_precision=1.0),
            r"prior_precision and theta0 are not options of a loss model",
        ),
        (
            "stationary-rate",
            lambda: stability.stationary(np.eye(1), np.eye(1), 1.0, 10, M=-3 * np.eye(1)),
            r"spectral radius of J must be < 1",
        ),
        ("stationary-S", lambda: stability.stationary(np.eye(1), np.eye(1), 1.0, 10, S=-np.eye(1)), r"S must be"),
    ]:
        add(f"api-loss-model-{id_}", call, E, m)
    add("api-optimal-weight-inf", lambda: stability.optimal_synthetic_weight(np.inf), E, r"lambda_ must be finite")
    add("api-optimal-weight-negative", lambda: stability.optimal_synthetic_weight(-1.0), E, r"lambda_ must be >= 0")
    add("api-simulate-memory-chains", sim(chains=10**12), MemoryEstimateError, r"(?i)memory.*chains")
    add("api-simulate-memory-naive", sim(n=2, lambda_=1e12, dim=100, method="naive"), E, r"'naive' would draw")
    add("api-simulate-memory-dim", sim(n=200000, dim=100000), MemoryEstimateError, r"memory")
    add(
        "api-simulate-family-data",
        lambda: simulate("bernoulli", n=10, lambda_=1, generations=1, chains=2, data={"p": 1.5}),
        E,
        r"data\['p'\] must be in \(0, 1\)",
    )
    add(
        "api-simulate-save-missing-parent",
        lambda: simulate("bernoulli", n=10, lambda_=1, generations=1, chains=2, seed=0).save(tmp / "no" / "x.npz"),
        OSError,
        r"(?i)no such|not exist",
    )
    for name, kw in [
        ("gaussian", dict(d=0)),
        ("gaussian", dict(d=1.5)),
        ("categorical", dict(k=1)),
        ("gaussian", dict(seed="x")),
        ("gaussian", dict(w1_points=1)),
        ("cauchy", {}),
    ]:
        add(f"api-family-{name}-{kw}", lambda name=name, kw=kw: families.family(name, None, **kw), E, r".")
    from stability import bound, sharp_bound

    for fn, args in [
        (bound, (-1, 0.1, 1, 1)),
        (bound, (0.1, -1, 1, 1)),
        (bound, (0.1, 0.1, 0, 1)),
        (bound, (0.1, 0.1, 1, np.nan)),
        (bound, ("x", 0.1, 1, 1)),
        (sharp_bound, (0.1, 0.1, -1, 1)),
        (sharp_bound, ([0.1, 0.2], [0.1, 0.2, 0.3], 1, 1)),
    ]:
        add(f"api-{fn.__name__}{args}", lambda fn=fn, args=args: fn(*args), E, r"must|broadcast")
    # experiments
    from stability.experiments import (
        flow_parameters,  # (in runs before, loop now)
        loop,
        runs,
    )

    add("api-flow-params-no-run", lambda: flow_parameters(tmp / "nowhere", "0"), E, r"(?i)config\.json|no run")
    add("api-retrain-config-model", lambda: loop.default_config("gan", "moons"), E, r"model must be one of")
    add("api-retrain-config-lambda", lambda: loop.default_config("flow", "moons", lambdas=["-1"]), E, r"lambda")
    add("api-retrain-config-gen", lambda: loop.default_config("flow", "moons", generations=0), E, r"generations")
    add("api-retrain-config-seed", lambda: loop.default_config("flow", "moons", seed=-1), E, r"seed")
    add("api-read-config-missing", lambda: runs.read_config(tmp / "nowhere"), E, r"config\.json")
    # retraining set-ups (docs/theory.md §11)
    from stability.schemes import as_scheme

    add("api-real-fraction-nan", lambda: as_scheme("fresh-fraction", real_fraction=np.nan), E, r"real_fraction")
    add("api-real-fraction-fixed", lambda: as_scheme("fixed-real", real_fraction=0.5), E, r"real_fraction")
    # the linear DDPM anchor (docs/theory.md §13)
    from stability.numerical import linear_ddpm as ld

    betas = np.linspace(1e-3, 0.3, 4)
    for id_, call, m in [
        ("betas-one", lambda: ld.validate_betas([0.1, 1.0]), r"betas must be in \(0, 1\), got 1.0"),
        ("betas-empty", lambda: ld.validate_betas([]), r"betas must be a non-empty 1-D"),
        ("betas-2d", lambda: ld.validate_betas([[0.1]]), r"betas must be a non-empty 1-D"),
        ("betas-nan", lambda: ld.validate_betas([np.nan]), r"betas must be in \(0, 1\), got nan"),
        ("v-negative", lambda: ld.linear_ddpm_optimal_params(0.0, -1.0, betas), r"v must be >= 0"),
        ("v-hat-zero", lambda: ld.linear_ddpm_fixed_point(1.0, 0.0, 0.0, betas), r"v_hat must be > 0"),
        ("lambda", lambda: ld.linear_ddpm_fixed_point(-1.0, 0.0, 1.0, betas), r"lambda_ must be >= 0"),
        ("theta-shape", lambda: ld.linear_ddpm_sampler_moments(np.zeros(3), betas), r"theta must have shape \(2T,\)"),
        ("T-zero", lambda: ld.linear_ddpm_noise_dim(0), r"T must be an integer >= 1"),
    ]:
        add(f"api-linear-ddpm-{id_}", call, E, m)

    from stability.numerical import generative as gm

    for id_, call, m in [
        ("hidden", lambda: gm.MLPDDPM(hidden=0), r"hidden must be an integer >= 1"),
        ("T", lambda: gm.MLPDDPM(T=0), r"T must be an integer >= 1"),
        ("beta", lambda: gm.MLPDDPM(beta=-1.0), r"beta must be >= 0"),
        ("betas-shape", lambda: gm.MLPDDPM(T=3, betas=[0.1, 0.2]), r"betas must have shape \(T,\)"),
        ("betas-one", lambda: gm.MLPDDPM(T=2, betas=[0.1, 1.0]), r"betas must be in \(0, 1\)"),
        ("K", lambda: gm.MLPFlowMatching(K=0), r"K must be an integer >= 1"),
        ("method", lambda: gm.MLPFlowMatching(method="euler"), r"method must be 'heun' or 'midpoint'"),
        ("draws", lambda: gm.MLPFlowMatching(draws=0), r"draws must be an integer >= 1"),
    ]:
        add(f"api-generative-{id_}", call, E, m)
    return cases
