"""A table of invalid inputs and the message each must give (issue 11, "Hardening").

``cli_cases(tmp)`` lists command lines, ``api_cases(tmp)`` library calls, each with the exit status
(CLI: 2 for a usage error, 1 for a runtime failure) or the exception type (API), a regular
expression the one-line message must match and ``param``: the argument the case is about as the
user spelled it (the flag typed on the command line, ``--dim``; the keyword of the library call,
``dim``, or the name of the positional parameter), which the message must name; ``None`` when the
error is about no single argument (a missing command, a sweep spec's contents, a fit that fails).
Files the cases need are written under ``tmp``.
``benchmarks/hardening_probe.py`` runs the table against any checkout and counts tracebacks, unclear
messages and silent acceptances; ``tests/system/test_invalid_inputs.py`` pins every message.
"""

from __future__ import annotations

import json
import math
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
    param: str | None = None  # the flag (or positional) the error is about, as typed: the line names it


@dataclass(frozen=True)
class ApiCase:
    id: str
    call: object  # a function of no arguments
    exc: type  # the exception type expected
    match: str
    param: str | None = None  # the keyword (or positional parameter) the error is about: the message names it


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
    _issue20_files(tmp, f, rng)
    return f


def _issue20_files(tmp: Path, f: dict, rng) -> None:
    """Files of the issue-20 cases: image sets with bad labels, foreign sweep stores and their specs."""
    import sqlite3

    images = rng.integers(0, 256, (40, 6, 6)).astype(np.uint8)
    for name, labels in {
        "nolabels.npz": None,
        "floatlabels.npz": np.linspace(0, 3, 40),
        "nanlabels.npz": np.full(40, np.nan),
        "neglabels.npz": -np.ones(40, dtype=int),
        "strlabels.npz": np.array(["a"] * 40),
        "shortlabels.npz": np.zeros(39, dtype=int),
    }.items():
        p = tmp / name
        np.savez(p, images=images) if labels is None else np.savez(p, images=images, labels=labels)
        f[name] = str(p)
    stores = tmp / "stores"
    stores.mkdir(exist_ok=True)
    (stores / "folder.sqlite").mkdir(exist_ok=True)
    (stores / "random.sqlite").write_bytes(bytes(rng.integers(0, 256, 4096, dtype=np.uint8)))
    (stores / "text.sqlite").write_text("task_id,status\nabc,done\n")
    (stores / "empty.sqlite").write_bytes(b"")
    (stores / "header-only.sqlite").write_bytes(b"SQLite format 3\x00" + bytes(84))
    for name, sql in {
        "own-results.sqlite": "CREATE TABLE results (id INTEGER PRIMARY KEY, value REAL);"
        "INSERT INTO results VALUES (1, 2.5);",
        "unrelated.sqlite": "CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('ada');",
        "lookalike.sqlite": "CREATE TABLE results (task_id TEXT PRIMARY KEY); CREATE TABLE meta (key TEXT, value TEXT);"
        "INSERT INTO meta VALUES ('schema', '7');",
        "other-app.sqlite": "PRAGMA application_id = 1234; CREATE TABLE t (x);",
    }.items():
        path = stores / name
        if not path.exists():
            with sqlite3.connect(path) as conn:
                conn.executescript(sql)
            conn.close()
    np.save(tmp / "sample200.npy", rng.standard_normal(200))
    sim = 'task = "simulate"\n[base]\nfamily = "gaussian"\nn = 10\ngenerations = 1\nchains = 2\nlambda_ = 0.5\n'
    specs = {f"spec-store-{p.name}": p for p in sorted(stores.iterdir())}
    specs["spec-store-root"] = Path("/")
    specs["spec-store-readonly"] = Path(f["readonly"]) / "s.sqlite"
    specs["spec-store-under-file"] = Path(f["afile"]) / "s.sqlite"
    for name, store in specs.items():
        (tmp / f"{name}.toml").write_text(f"store = {json.dumps(str(store))}\n" + sim)
        f[name] = str(tmp / f"{name}.toml")
    huge = 'task = "simulate"\nstore = "huge.sqlite"\n[base]\nfamily = "gaussian"\nn = 10\ngenerations = 1\n'
    huge += "[grid]\nlambda_ = [" + ", ".join(f"{i / 1000}" for i in range(1000)) + "]\n"
    huge += "chains = [" + ", ".join(str(i) for i in range(1, 1001)) + "]\n"
    huge += "seed = [" + ", ".join(str(i) for i in range(1000)) + "]\n"
    (tmp / "spec-huge.toml").write_text(huge.replace("seed = [", "dim = ["))
    f["spec-huge"] = str(tmp / "spec-huge.toml")
    rc = 'task = "retrain_chains"\nstore = "rc.sqlite"\n[base]\nmodel = "student-t"\ndata = "sample200.npy"\n'
    rc += "lambda_ = 1.0\ngenerations = 1\nchains = 2\n"
    (tmp / "spec-rc-n.toml").write_text(rc + "n = 100000\n")
    (tmp / "spec-rc-n-grid.toml").write_text(rc + "[grid]\nn = [100, 201]\n")
    f["spec-rc-n"], f["spec-rc-n-grid"] = str(tmp / "spec-rc-n.toml"), str(tmp / "spec-rc-n-grid.toml")
    dup = 'task = "simulate"\nstore = "dup.sqlite"\n[base]\nfamily = "gaussian"\nn = 10\ngenerations = 1\n'
    (tmp / "spec-dup.toml").write_text(dup + "chains = 2\n[grid]\nlambda_ = [1, 1.0]\n")
    (tmp / "spec-dup-zip.toml").write_text(dup + "[[zip]]\nlambda_ = [0.5, 0.5]\nchains = [2, 2]\n")
    f["spec-dup"], f["spec-dup-zip"] = str(tmp / "spec-dup.toml"), str(tmp / "spec-dup-zip.toml")


def cli_cases(tmp) -> list[CliCase]:
    tmp = Path(tmp)
    f = _files(tmp)
    cases: list[CliCase] = []

    def add(id_, argv, code, match, param):
        cases.append(CliCase(id_, tuple(argv), code, match, param))

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
            add(f"bound{flag}={v}", ["bound", *[x for kv in args.items() for x in kv]], 2, m, flag)
    add("bound-form", ["bound", "--lambda", "0.3", "--eps", "0.1", "--form", "tight"], 2, r"--form", "--form")
    add("bound-missing-eps", ["bound", "--lambda", "0.3"], 2, r"--eps", "--eps")
    add("bound-unknown-flag", ["bound", "--lambda", "0.3", "--eps", "0.1", "--beta", "1"], 2, r"--beta", "--beta")
    add("no-command", [], 2, r"command", None)
    add("unknown-command", ["frobnicate"], 2, r"frobnicate", None)

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
        "correction": [
            ("-1", r"--correction must be >= 0"),
            ("nan", r"--correction must be >= 0"),
            ("inf", r"--correction must be >= 0"),
            ("x", r"--correction"),
        ],
        "method": [("slow", r"--method")],
        "estimator": [("map", r"--estimator")],
    }.items():
        for v, m in values:
            add(f"simulate-{flag}={v}", simulate_with(**{flag: v}), 2, m, "--" + flag.replace("_", "-"))
    add(
        "simulate-family",
        ["simulate", "cauchy", "--n", "10", "--lambda", "1", "--generations", "1"],
        2,
        r"family",
        "family",
    )
    add("simulate-chains-1e12", simulate_with(chains="1e12"), 1, r"(?i)memory.*--chains", "--chains")
    add("simulate-generations-1e10", simulate_with(generations="1e10"), 1, r"(?i)memory", "--generations")
    add("simulate-dim-1e5", simulate_with(dim="1e5", n="200000"), 1, r"(?i)memory", "--dim")
    add("simulate-d-1e5", simulate_with(d="1e5", n="200000"), 1, r"^stability simulate: error: argument --d: ", "--d")
    frac = simulate_with(scheme="fresh-fraction")
    for v in ("0", "1.5", "nan", "abc"):
        add(f"simulate-real-fraction={v}", frac + ["--real-fraction", v], 2, r"--real-fraction", "--real-fraction")
    add(
        "simulate-real-fraction-tiny",
        frac + ["--real-fraction", "0.01"],
        2,
        r"argument --real-fraction: real_fraction must satisfy floor\(real_fraction \* n\) >= 1",
        "--real-fraction",
    )
    add(
        "simulate-real-fraction-scheme",
        simulate_with(real_fraction="0.5"),
        2,
        r"argument --real-fraction: real_fraction must be given only for the fraction schemes",
        "--real-fraction",
    )
    add(
        "simulate-naive-huge-k",
        ["simulate", "gaussian", "--n", "2", "--lambda", "1e12", "--generations", "1", "--chains", "1"]
        + ["--dim", "100", "--method", "naive"],
        2,
        r"method 'naive' would draw .* use method 'exact'",
        "--method",
    )
    add(
        "simulate-naive-poisson-huge-k",
        ["simulate", "categorical", "--n", "2", "--lambda", "1e15", "--generations", "1", "--chains", "1000"]
        + ["--method", "naive"],
        2,
        r"method 'naive' would draw",
        "--method",
    )
    add("simulate-lambda-huge", simulate_with(**{"lambda": "1e300"}), 2, r"lambda", "--lambda")
    add(
        "simulate-small-n-dim",
        simulate_with(dim="5", n="2", **{"lambda": "0"}),
        2,
        r"argument --n: n \+ floor\(lambda_ n\) must be >= dim \+ 1 = 6",
        "--n",
    )
    add(
        "simulate-replace-synthetic-weight",
        simulate_with(scheme="replace", synthetic_weight="0.5"),
        2,
        r"argument --synthetic-weight: synthetic_weight must be None or 1 under scheme 'replace'",
        "--synthetic-weight",
    )
    add(
        "simulate-accumulate-inf", simulate_with(scheme="accumulate", **{"lambda": "inf"}), 2, r"accumulate", "--lambda"
    )
    add(
        "simulate-out-missing-parent",
        simulate_with(out=str(tmp / "nope" / "x.npz")),
        1,
        r"--out.*(exist|folder)",
        "--out",
    )
    add("simulate-out-parent-file", simulate_with(out=f["afile"] + "/x.npz"), 1, r"--out", "--out")
    if os.geteuid() != 0:  # root writes anywhere
        add(
            "simulate-out-readonly",
            simulate_with(out=f["readonly"] + "/x.npz"),
            1,
            r"(?i)--out.*(permission|writ)",
            "--out",
        )
    add("simulate-out-is-dir", simulate_with(out=str(tmp)), 1, r"(?i)--out.*(folder|directory)", "--out")
    add("simulate-out-empty", simulate_with(out=""), 2, r"--out", "--out")

    # --- analyze -------------------------------------------------------------------------------
    def an(model, *rest):
        return ["analyze", model, *rest]

    d_ok = ["--data", f["ok.npy"], "--lambda", "0.5"]
    add("analyze-model", an("cauchy", *d_ok), 2, r"MODEL|model", "MODEL")
    add("analyze-no-source", an("gaussian", "--lambda", "0.5"), 2, r"--data|--dist", "--data")
    add("analyze-both-sources", an("gaussian", *d_ok, "--dist", "norm:0,1"), 2, r"--dist|--data", "--dist")
    for v, m in [("-1", r"--lambda must be >= 0"), ("nan", r"--lambda"), ("abc", r"--lambda")]:
        add(f"analyze-lambda={v}", an("gaussian", "--data", f["ok.npy"], "--lambda", v), 2, m, "--lambda")
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
        add(f"analyze-data-{name}", an("gaussian", "--data", path, "--lambda", "0.5"), 2, m, "--data")
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
        add(f"analyze-{model}-{name}", an(model, "--data", f[name], "--lambda", "0.5"), 2, m, "--data")
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
        add(f"analyze-dist={spec}", an("gaussian", "--dist", spec, "--lambda", "0.5"), 2, m, "--dist")
    add(
        "analyze-dist-poisson-for-gamma",
        an("gamma", "--dist", "poisson:3", "--lambda", "0.5"),
        2,
        r"(?i)data|> 0",
        "--dist",
    )
    add(
        "analyze-dist-norm-for-exponential",
        an("exponential", "--dist", "norm:0,1", "--lambda", "0.5"),
        2,
        r"support in \[0, inf\)",
        "--dist",
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
        add(f"analyze{flag}={v}", an("gaussian", *d_ok, flag, v), 2, m, "--data" if v == "3" else flag)
    for v, m in [("1", r"--k must be an integer >= 2"), ("2.5", r"--k must be an integer")]:
        add(
            f"analyze-categorical--k={v}",
            an("categorical", "--data", f["bern3.npy"], "--lambda", "0.5", "--k", v),
            2,
            m,
            "--k",
        )
    add(
        "analyze-gaussian-k",
        an("gaussian", *d_ok, "--k", "3"),
        2,
        r"argument --k: not an option of model 'gaussian' \(its options: --seed, --w1-points, --dim\)",
        "--k",
    )
    # options a numerical model does not take
    for model in ("student-t", "logistic", "laplace", "gaussian-numerical"):
        add(f"analyze-{model}-k", an(model, *d_ok, "--k", "3"), 2, r"--k", "--k")
    add("analyze-student-t-d2", an("student-t", *d_ok, "--d", "2"), 2, r"--d", "--d")
    add("analyze-mixture-d3", an("gaussian-mixture", *d_ok, "--d", "3"), 2, r"--d", "--d")
    add("analyze-categorical-d", an("categorical", *d_ok, "--d", "2"), 2, r"--d", "--d")
    add("analyze-poisson-k", an("poisson", *d_ok, "--k", "3"), 2, r"--k", "--k")

    # --- retrain -------------------------------------------------------------------------------
    def rt(*rest, out=None):
        return ["retrain", "--model", "flow", "--data", "moons", "--profile", "tiny", "--quiet", "--no-plots"] + [
            *rest,
            "--out",
            out or str(tmp / "runs" / "new"),
        ]

    add(
        "retrain-model",
        ["retrain", "--model", "gan", "--data", "moons", "--out", str(tmp / "r")],
        2,
        r"--model",
        "--model",
    )
    add("retrain-no-out", ["retrain", "--model", "flow", "--data", "moons"], 2, r"--out", "--out")
    for flag, v, m in [
        ("--lambda", "-1", r"--lambda.*>= 0"),
        ("--lambda", "inf", r"(?i)--lambda.*(finite|replace)"),
        ("--lambda", "abc", r"argument --lambda: lambdas must hold numbers >= 0, 'replace' or 'accumulate'"),
        ("--lambda", "nan", r"--lambda"),
        ("--generations", "0", r"argument --generations: generations must be an integer >= 1, got 0"),
        ("--generations", "-1", r"--generations"),
        ("--generations", "x", r"--generations"),
        ("--n", "1", r"--n"),
        ("--n", "-5", r"--n"),
        ("--n", "2.5", r"--n"),
        ("--heldout", "0", r"argument --heldout: heldout must be in \(0, 1\), got 0"),
        ("--heldout", "1", r"--heldout"),
        ("--heldout", "-0.5", r"--heldout"),
        ("--heldout", "nan", r"--heldout"),
        ("--seed", "-1", r"--seed"),
        ("--pretrain-steps", "0", r"--pretrain-steps"),
        ("--finetune-steps", "-2", r"--finetune-steps"),
        ("--batch-size", "0", r"--batch-size"),
        ("--lr", "0", r"argument --lr: lr must be > 0, got 0"),
        ("--lr", "-1", r"--lr"),
        ("--lr", "nan", r"--lr"),
        ("--lr", "inf", r"--lr"),
        ("--finetune-lr", "0", r"--finetune-lr"),
        ("--eval-samples", "1", r"--eval-samples"),
        ("--device", "tpu9", r"--device"),
        ("--device", "cuda:7", r"--device"),
        ("--profile", "huge", r"--profile"),
    ]:
        add(f"retrain{flag}={v}", rt(flag, v, out=str(tmp / "runs" / f"r{len(cases)}")), 2, m, flag)
    add("retrain--n=5e9", rt("--n", "5e9", out=str(tmp / "runs" / "n5e9")), 1, r"(?i)memory.*lower n \(--n\)", "--n")
    add(
        "retrain-lambda-repeat",
        rt("--lambda", "0.5", "0.50", out=str(tmp / "runs" / "rep")),
        2,
        r"--lambda",
        "--lambda",
    )
    add(
        "retrain-data-missing",
        rt(out=str(tmp / "runs" / "dm")) + ["--data", str(tmp / "no.npz")],
        2,
        r"--data",
        "--data",
    )
    add("retrain-data-text", rt(out=str(tmp / "runs" / "dt")) + ["--data", f["data.txt"]], 2, r"--data", "--data")
    add("retrain-data-random", rt(out=str(tmp / "runs" / "dr")) + ["--data", f["random.npy"]], 2, r"--data", "--data")
    add("retrain-out-is-file", rt(out=f["afile"]), 1, r"--out", "--out")
    add("retrain-out-parent-file", rt(out=f["afile"] + "/run"), 1, r"--out", "--out")
    if os.geteuid() != 0:
        add("retrain-out-readonly", rt(out=f["readonly"] + "/run"), 1, r"--out", "--out")
    add(
        "retrain-resume-missing",
        rt("--resume", out=str(tmp / "runs" / "never")),
        2,
        r"(?i)--out.*(no run|not exist)",
        "--out",
    )
    for name in ("run_empty", "run_notjson", "run_list", "run_nokeys", "run_nohash", "run_configlist", "run_binary"):
        # a damaged file under --out: the message names the file by its path (param None)
        add(f"retrain-resume-{name}", rt("--resume", out=f[name]), 1, r"config\.json", None)
    add("retrain-resume-badhash", rt("--resume", out=f["run_badhash"]), 1, r"(?i)config\.json.*(edited|hash)", None)
    add("retrain-exists-no-resume", rt(out=f["run_badhash"]), 2, r"(?i)already holds a run", "--out")

    # --- issue 20: data checked before the run folder is touched; the sweep store; sizes ----------
    def rti(name, *rest):
        return ["retrain", "--model", "flow", "--data", f[name], "--profile", "tiny", "--n", "8", "--quiet"] + [
            "--no-plots",
            *rest,
            "--out",
            str(tmp / "runs" / f"img-{name}"),
        ]

    for name, m in [
        ("nolabels.npz", r"has no labels: image runs need class labels"),
        ("floatlabels.npz", r"labels must be integers, got the value 0\.0769"),
        ("nanlabels.npz", r"labels must be integers, got the value nan"),
        ("neglabels.npz", r"labels must be class numbers in 0\.\.999, got min -1"),
        ("strlabels.npz", r"labels must be integers, got dtype <U1"),
        ("shortlabels.npz", r"labels must be one integer per image \(40\), got shape \(39,\)"),
    ]:
        add(f"retrain-labels-{name}", rti(name), 2, m, "--data")
    for name, code, m in [
        ("folder.sqlite", 2, r"is a folder, not a sweep store file"),
        ("random.sqlite", 2, r"is not an SQLite file, not a sweep store"),
        ("text.sqlite", 2, r"is not an SQLite file, not a sweep store"),
        ("empty.sqlite", 2, r"is an empty file, not a sweep store"),
        ("header-only.sqlite", 2, r"(?i)another application|not a sweep store"),
        ("own-results.sqlite", 2, r"SQLite database of another application \(application_id 0\)"),
        ("unrelated.sqlite", 2, r"SQLite database of another application"),
        ("lookalike.sqlite", 2, r"SQLite database of another application"),
        ("other-app.sqlite", 2, r"application_id 1234"),
        ("root", 2, r"store '/' is a folder"),
        ("under-file", 1, r"is not a folder"),
    ] + ([("readonly", 1, r"cannot create files in folder .*permission denied")] if os.geteuid() != 0 else []):
        spec = f[f"spec-store-{name}"]
        add(f"sweep-store-{name}", ["sweep", spec, "--serial"], code, m, None)
        add(f"sweep-store-{name}-dry-run", ["sweep", spec, "--dry-run"], code, m, None)
    huge = r"the sweep has 1,000,000,000 tasks, more than the 10,000,000 .* hours of engine overhead"
    add("sweep-huge-grid", ["sweep", f["spec-huge"], "--serial"], 1, huge, None)
    add("sweep-huge-grid-dry-run", ["sweep", f["spec-huge"], "--dry-run"], 1, huge, None)
    add(
        "sweep-rc-n-too-large",
        ["sweep", f["spec-rc-n"], "--dry-run"],
        2,
        r"base\.n: 100000 is more than the 200 points",
        None,
    )
    add(
        "sweep-rc-n-grid",
        ["sweep", f["spec-rc-n-grid"], "--serial"],
        2,
        r"grid\.n: 201 is more than the 200 points",
        None,
    )
    add(
        "sweep-int-float-repeat",
        ["sweep", f["spec-dup"], "--dry-run"],
        2,
        r"grid\.lambda_: .*\(1 and 1\.0 are the same",
        None,
    )
    add("sweep-zip-repeat", ["sweep", f["spec-dup-zip"], "--dry-run"], 2, r"zip\[0\]: row 1 repeats row 0", None)
    add(
        "simulate-generations-1e8",
        simulate_with(generations="1e8", chains="3"),
        1,
        r"(?i)would take about|memory",
        "--generations",
    )
    add(
        "simulate-generations-1e8-default-chains",
        simulate_with(generations="1e8", chains="1000"),
        1,
        r"(?i)memory|would take",
        "--generations",
    )

    # --- gpu-validation (the tiny profile on the CPU; every case fails before any training) -----------
    def gv(*rest, out=None, data=None):
        data = data or str(tmp / "no_images.npz")
        return ["gpu-validation", "--data", data, "--profile", "tiny", "--device", "cpu", "--quiet", *rest] + [
            "--out",
            out or str(tmp / "gv" / "new"),
        ]

    add("gpu-validation-no-out", ["gpu-validation", "--data", "x.npz"], 2, r"--out", "--out")
    add("gpu-validation-profile", gv("--profile", "huge"), 2, r"--profile", "--profile")
    add("gpu-validation-budget-0", gv("--time-budget", "0"), 2, r"--time-budget must be > 0", "--time-budget")
    add("gpu-validation-budget-neg", gv("--time-budget", "-5"), 2, r"--time-budget must be > 0", "--time-budget")
    add(
        "gpu-validation-generations-0",
        gv("--generations", "0"),
        2,
        r"--generations must be an integer >= 1",
        "--generations",
    )
    add("gpu-validation-data-missing", gv(), 2, r"argument --data: data .*does not exist", "--data")
    add("gpu-validation-data-2d", gv(data="moons"), 2, r"argument --data: data must be an image data set", "--data")
    add("gpu-validation-data-text", gv(data=f["data.txt"]), 2, r"--data", "--data")
    add(
        "gpu-validation-device",
        gv("--device", "cuda:99"),
        2,
        r"argument --device: device 'cuda:99' is not available here",
        "--device",
    )
    add("gpu-validation-out-is-file", gv(out=f["afile"]), 1, r"--out", "--out")
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

    def add(id_, call, exc, match, param):
        cases.append(ApiCase(id_, call, exc, match, param))

    def an(model, data, lam=0.5, **kw):
        return lambda: stability.analyze(model, data, lam, **kw)

    E = ValueError  # InputError subclasses ValueError
    for model in ("gaussian", "gaussian-diag", "poisson", "exponential", "student-t"):
        add(f"api-{model}-complex", an(model, x + 1j), E, r"(?i)data.*complex", "data")
        add(f"api-{model}-object", an(model, np.array([1, "a"], dtype=object)), E, r"(?i)data.*number", "data")
        add(f"api-{model}-empty", an(model, np.zeros(0)), E, r"(?i)data.*(shape|empty)", "data")
        add(f"api-{model}-nan", an(model, np.array([1.0, np.nan, 3.0])), E, r"(?i)data.*finite", "data")
        add(f"api-{model}-lambda", an(model, np.round(np.abs(x)) + 1, lam=-1), E, r"lambda_ must be >= 0", "lambda_")
    add("api-gaussian-3d", an("gaussian", np.zeros((2, 2, 2))), E, r"(?i)data.*shape", "data")
    add("api-gaussian-strings", an("gaussian", ["a", "b"]), E, r"(?i)data.*number", "data")
    add("api-gaussian-dict", an("gaussian", {"a": 1}), E, r"(?i)data", "data")
    add("api-gaussian-none", an("gaussian", None), E, r"(?i)data", "data")
    add("api-gaussian-equal", an("gaussian", np.full(20, 1e12)), E, r"(?i)degenerate", "data")
    add("api-gaussian-diag-equal", an("gaussian-diag", np.full(20, 1e-12)), E, r"(?i)degenerate", "data")
    add("api-student-t-equal", an("student-t", np.full(20, 5.0)), E, r"(?i)degenerate", "data")
    add("api-mixture-two-points", an("gaussian-mixture", np.array([0.0, 1.0])), E, r"(?i)at least|too few", "data")
    add("api-unknown-model", an("cauchy", x), E, r"model must be one of", "model")
    add("api-option-typo", an("gaussian", x, dd=2), E, r"(?i)dd", "dd")
    add("api-student-t-option", an("student-t", x, k=2), E, r"(?i)\bk\b", "k")
    add("api-model-object", lambda: stability.analyze(object(), x, 0.5), E, r"local_constants", "model")
    add(
        "api-categorical-huge-k",
        an("categorical", np.array([0, 1, 10**9])),
        MemoryEstimateError,
        r"k = 1000000001",
        "data",
    )
    add("api-exponential-zero", an("exponential", np.zeros(10)), E, r"(?i)> 0|degenerate|positive", "data")

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
        ("dim", 0, r"^dim must be an integer >= 1, got 0"),  # the keyword, not the internal d (issue 23)
        ("dim", 1.5, r"^dim must be an integer >= 1, got 1.5"),
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
        ("correction", -1.0, r"correction must be >= 0, got -1"),
        ("correction", np.nan, r"correction must be >= 0, got nan"),
        ("correction", np.inf, r"correction must be a finite number >= 0, got inf"),
        ("correction", "strong", r"correction must be a real number >= 0"),
        ("correction", [1.0], r"correction must be a single number"),
        ("correction_target", {"mean": [0.0]}, r"correction_target is given but correction is 0"),
    ]:
        add(f"api-simulate-{key}={v!r}", sim(**{key: v}), E, m, key)
    add(
        "api-simulate-correction-subsample",
        sim(scheme="accumulate-subsample", correction=1.0),
        E,
        r"correction must be 0 for scheme 'accumulate-subsample'",
        "correction",
    )
    add(
        "api-simulate-correction-target-bad",
        sim(correction=1.0, correction_target={"cov": [[-1.0]]}),
        E,
        r"correction_target\['cov'\]",
        "correction_target",
    )
    add(
        "api-stationary-correction-negative",
        lambda: stability.stationary(np.eye(1), np.eye(1), 1.0, 10, correction=-0.5),
        E,
        r"correction must be >= 0",
        "correction",
    )
    add(
        "api-stationary-correction-replace-singular-B",
        lambda: stability.stationary(np.eye(2), np.diag([1.0, 0.0]), np.inf, 10, correction=1.0),
        E,
        r"B must be positive definite",
        "B",
    )
    add(
        "api-retrain-chains-correction-nan",
        lambda: stability.retrain_chains("student-t", x, 1.0, generations=1, chains=1, correction=np.nan),
        E,
        r"correction must be >= 0, got nan",
        "correction",
    )
    add(
        "api-moments-correction-accumulate",
        lambda: stability.dynamics.gaussian_moments(
            n=10, lambda_=1.0, generations=1, scheme="accumulate", correction=1
        ),
        E,
        r"correction must be 0 for the moments of scheme 'accumulate'",
        "correction",
    )
    add(
        "api-simulate-replace-synthetic-weight",
        sim(scheme="replace", synthetic_weight=0.5),
        E,
        r"synthetic_weight must be None or 1 under scheme 'replace'",
        "synthetic_weight",
    )
    add(
        "api-simulate-k0-synthetic-weight",
        sim(lambda_=0.0, synthetic_weight=0.5),
        E,
        r"synthetic_weight must be 0",
        "synthetic_weight",
    )
    # curated retraining (docs/theory.md §15)
    quad = dict(center=0.0, strength=1.0)
    for cid, kw, m in [
        ("k0", dict(curation=dict(K=0, reward=quad)), r"curation K must be an integer >= 1"),
        ("k-fraction", dict(curation=dict(K=2.5, reward=quad)), r"curation K must be an integer >= 1"),
        ("k-nan", dict(curation=dict(K=np.nan, reward=quad)), r"curation K must be an integer >= 1"),
        ("k-none", dict(curation=dict(K=None, reward=quad)), r"curation K must be an integer >= 1 or math.inf"),
        ("reward-kind", dict(curation=dict(K=2, reward=dict(kind="cubic"))), r"reward kind must be one of"),
        (
            "with-correction",
            dict(curation=dict(K=math.inf, reward=quad), correction=0.5),
            r"correction and curation cannot be combined",
        ),
        ("reward-keys", dict(curation=dict(K=2, reward=dict(kind="linear", center=0.0))), r"a linear reward takes"),
        ("beta-zero", dict(curation=dict(K=2, reward=dict(center=0.0, strength=0.0))), r"reward strength must be > 0"),
        ("beta-inf", dict(curation=dict(K=2, reward=dict(center=0.0, strength=np.inf))), r"reward strength must be"),
        ("center-nan", dict(curation=dict(K=2, reward=dict(center=np.nan, strength=1.0))), r"reward center must be"),
        ("center-shape", dict(curation=dict(K=math.inf, reward=dict(center=[0, 1], strength=1.0))), r"dimension 2"),
        ("direction-shape", dict(curation=dict(K=math.inf, reward=dict(direction=[[1.0]]))), r"reward direction"),
        ("keys", dict(curation=dict(K=2)), r"curation must be None, a Curation or a dict"),
        ("exact-finite-k", dict(curation=dict(K=3, reward=quad)), r"finite K = 3 needs method 'naive'"),
    ]:
        # a bad reward inside curation=dict(reward=...): the message names the reward and its key
        param = "reward" if cid.startswith(("reward", "beta", "center-nan", "direction")) else "curation"
        add(f"api-simulate-curation-{cid}", sim(**kw), E, m, param)
    add(
        "api-simulate-curation-family",
        lambda: simulate("poisson", n=10, lambda_=1, generations=1, chains=2, curation=dict(K=2, reward=quad)),
        E,
        r"curation is implemented for the gaussian family only",
        "curation",
    )
    from stability.dynamics import curated_gaussian, curated_point_moments

    add(
        "api-curated-gaussian-beta",
        lambda: curated_gaussian(0.0, 1.0, 0.0, -1.0, 1.0),
        E,
        r"reward_strength must be > 0",
        "reward_strength",
    )
    add("api-curated-gaussian-var", lambda: curated_gaussian(0.0, -1.0, 0.0, 1.0, 1.0), E, r"data_var", "data_var")
    add(
        "api-curated-gaussian-lambda",
        lambda: curated_gaussian(0.0, 1.0, 0.0, 1.0, -1.0),
        E,
        r"lambda_ must be >= 0",
        "lambda_",
    )
    add(
        "api-curated-gaussian-dim",
        lambda: curated_gaussian([0.0, 0.0], np.eye(2), 0.0, 1.0, 1.0),
        E,
        r"dimension",
        "data_mean",
    )
    add("api-curated-gaussian-k-2d", lambda: curated_gaussian([0, 0], np.eye(2), [0, 0], 1.0, K=2), E, r"one-dim", "K")
    add("api-curated-moments-k", lambda: curated_point_moments(0.0, 1.0, quad, 0), E, r"curation K must be", "K")
    add(
        "api-stationary-synthetic-weight-1",
        lambda: stability.stationary(np.eye(1), np.eye(1), 1.0, 10, synthetic_weight=1.0),
        E,
        r"synthetic_weight must be in \[0, 1\) for a stationary law",
        "synthetic_weight",
    )
    add(
        "api-stationary-synthetic-weight-nan",
        lambda: stability.stationary(np.eye(1), np.eye(1), 1.0, 10, synthetic_weight=np.nan),
        E,
        r"synthetic_weight must be in \[0, 1\], got nan",
        "synthetic_weight",
    )
    add(
        "api-retrain-chains-synthetic-weight-1",
        lambda: stability.retrain_chains("student-t", x, 1.0, generations=1, chains=1, synthetic_weight=1.0),
        E,
        r"synthetic_weight must be in \[0, 1\) for retrain_chains",
        "synthetic_weight",
    )
    # every scheme through the one loop (stability.retraining)
    for cid, kw, m, param in [
        ("scheme", dict(scheme="mixed"), r"scheme must be one of", "scheme"),
        (
            "real-fraction-fixed",
            dict(real_fraction=0.5),
            r"real_fraction must be given only for the fraction schemes",
            "real_fraction",
        ),
        (
            "real-fraction-range",
            dict(scheme="fresh-fraction", real_fraction=1.5),
            r"real_fraction must be a number in",
            "real_fraction",
        ),
        ("k-replace", dict(scheme="replace", k=3), r"k must be None under scheme 'replace'", "k"),
        (
            "prior-fresh",
            dict(scheme="fresh-real", prior_precision=1.0),
            r"prior_precision must be 0 under scheme",
            "prior_precision",
        ),
    ]:
        add(
            f"api-retrain-chains-{cid}",
            lambda kw=kw: stability.retrain_chains("student-t", x, 1.0, generations=1, chains=1, **kw),
            E,
            m,
            param,
        )
    # any training loss (docs/theory.md §13)
    from stability.numerical import LossModel

    def _lm(**kw):
        args = dict(loss=lambda th, x: (x[:, 0] - th[0]) ** 2, sample=lambda th, z: th[0] + z, theta0=[0.0])
        args.update(kw)

        def call():  # a fresh copy each time: the table's calls may run more than once
            a = dict(args)
            return LossModel(a.pop("loss"), a.pop("sample"), a.pop("theta0"), **{"noise_dim": 1, **a})

        return call

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
            r"prior_precision, theta0 and correction are not options of a loss model",
        ),
        (
            "chains-correction",
            lambda: stability.retrain_chains(lm_ok, x, 1.0, generations=1, chains=1, correction=1.0),
            r"prior_precision, theta0 and correction are not options of a loss model",
        ),
        (
            "stationary-correction",
            lambda: stability.stationary(np.eye(1), np.eye(1), 1.0, 10, S=np.eye(1), correction=1.0),
            r"correction must be 0 with S or M",
        ),
        (
            "stationary-rate",
            lambda: stability.stationary(np.eye(1), np.eye(1), 1.0, 10, M=-3 * np.eye(1)),
            r"spectral radius of J must be < 1",
        ),  # a property of M and lambda_ together: param None
        ("stationary-S", lambda: stability.stationary(np.eye(1), np.eye(1), 1.0, 10, S=-np.eye(1)), r"S must be"),
    ]:
        param = {
            "theta0-nan": "theta0",
            "theta0-empty": "theta0",
            "noise-dim-0": "noise_dim",
            "data-dim-0": "data_dim",
            "loss-not-callable": "loss",
            "n-noise-1": "n_noise",
            "lambda-inf": "lambda_",
            "option": "d",
            "data-dim": "data",
            "chains-prior": "prior_precision",
            "chains-correction": "correction",
            "stationary-correction": "correction",
            "stationary-rate": None,
            "stationary-S": "S",
        }[id_]
        add(f"api-loss-model-{id_}", call, E, m, param)
    add(
        "api-optimal-weight-inf",
        lambda: stability.optimal_synthetic_weight(np.inf),
        E,
        r"lambda_ must be finite",
        "lambda_",
    )
    add(
        "api-optimal-weight-negative",
        lambda: stability.optimal_synthetic_weight(-1.0),
        E,
        r"lambda_ must be >= 0",
        "lambda_",
    )
    add("api-simulate-memory-chains", sim(chains=10**12), MemoryEstimateError, r"(?i)memory.*chains", "chains")
    add(
        "api-simulate-memory-naive", sim(n=2, lambda_=1e12, dim=100, method="naive"), E, r"'naive' would draw", "method"
    )
    add("api-simulate-memory-dim", sim(n=200000, dim=100000), MemoryEstimateError, r"memory", "dim")
    add(
        "api-simulate-family-data",
        lambda: simulate("bernoulli", n=10, lambda_=1, generations=1, chains=2, data={"p": 1.5}),
        E,
        r"data\['p'\] must be in \(0, 1\)",
        "data",
    )
    add(
        "api-simulate-save-missing-parent",
        lambda: simulate("bernoulli", n=10, lambda_=1, generations=1, chains=2, seed=0).save(tmp / "no" / "x.npz"),
        OSError,
        r"(?i)no such|not exist",
        "path",
    )
    for name, kw in [
        ("gaussian", dict(d=0)),
        ("gaussian", dict(d=1.5)),
        ("categorical", dict(k=1)),
        ("gaussian", dict(seed="x")),
        ("gaussian", dict(w1_points=1)),
        ("cauchy", {}),
    ]:
        # an unknown name: families.family(name) calls it "family" (tests/families pins that wording)
        param = next(iter(kw), "family")
        add(f"api-family-{name}-{kw}", lambda name=name, kw=kw: families.family(name, None, **kw), E, r".", param)
    from stability import bound, sharp_bound

    for fn, args, param in [
        (bound, (-1, 0.1, 1, 1), "lambda_"),
        (bound, (0.1, -1, 1, 1), "eps"),
        (bound, (0.1, 0.1, 0, 1), "alpha"),
        (bound, (0.1, 0.1, 1, np.nan), "L"),
        (bound, ("x", 0.1, 1, 1), "lambda_"),
        (sharp_bound, (0.1, 0.1, -1, 1), "alpha"),
        (sharp_bound, ([0.1, 0.2], [0.1, 0.2, 0.3], 1, 1), "eps"),
    ]:
        add(f"api-{fn.__name__}{args}", lambda fn=fn, args=args: fn(*args), E, r"must|broadcast", param)
    # experiments
    from stability.experiments import (
        flow_parameters,  # (in runs before, loop now)
        loop,
        runs,
    )

    add(
        "api-flow-params-no-run",
        lambda: flow_parameters(tmp / "nowhere", "0"),
        E,
        r"(?i)config\.json|no run",
        "run_dir",
    )
    add("api-retrain-config-model", lambda: loop.default_config("gan", "moons"), E, r"model must be one of", "model")
    from stability.experiments.models import make_model

    add("api-cfm-K", lambda: make_model("cfm", (2,), K=0), E, r"K must be an integer >= 1", "K")
    add("api-cfm-pairing", lambda: make_model("cfm", (2,), pairing="sinkhorn"), E, r"pairing must be one of", "pairing")
    add(
        "api-retrain-config-lambda",
        lambda: loop.default_config("flow", "moons", lambdas=["-1"]),
        E,
        r"lambda",
        "lambdas",
    )
    add(
        "api-retrain-config-gen",
        lambda: loop.default_config("flow", "moons", generations=0),
        E,
        r"generations",
        "generations",
    )
    add("api-retrain-config-seed", lambda: loop.default_config("flow", "moons", seed=-1), E, r"seed", "seed")
    add("api-read-config-missing", lambda: runs.read_config(tmp / "nowhere"), E, r"config\.json", "run_dir")
    tiny_cfg = loop.default_config("flow", "moons", "tiny")
    add(
        "api-retrain-time-budget",
        lambda: loop.retrain(tiny_cfg, tmp / "tb", time_budget=-1.0),
        E,
        r"time_budget must",
        "time_budget",
    )
    from stability.experiments import gpu_validation

    add(
        "api-gpu-validation-profile",
        lambda: gpu_validation.config_for("x.npz", "huge"),
        E,
        r"profile must be one of",
        "profile",
    )
    add(
        "api-gpu-validation-2d",
        lambda: gpu_validation.config_for("moons"),
        E,
        r"data must be an image data set",
        "data",
    )
    add(
        "api-gpu-validation-budget",
        lambda: gpu_validation.run("x.npz", tmp / "gvb", time_budget=0),
        E,
        r"time_budget",
        "time_budget",
    )
    # retraining set-ups (docs/theory.md §11)
    from stability.schemes import as_scheme

    add(
        "api-real-fraction-nan",
        lambda: as_scheme("fresh-fraction", real_fraction=np.nan),
        E,
        r"real_fraction",
        "real_fraction",
    )
    add(
        "api-real-fraction-fixed",
        lambda: as_scheme("fixed-real", real_fraction=0.5),
        E,
        r"real_fraction",
        "real_fraction",
    )
    _issue20_api(add, tmp)
    _issue23_api(add)
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
        param = {"v-hat-zero": "v_hat", "lambda": "lambda_", "T-zero": "T"}.get(id_, id_.split("-")[0])
        add(f"api-linear-ddpm-{id_}", call, E, m, param)

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
        add(f"api-generative-{id_}", call, E, m, id_.split("-")[0])
    return cases


def _issue23_api(add) -> None:
    """Library calls whose errors named an internal name instead of the keyword (issue 23)."""
    from stability import families
    from stability.dynamics import gaussian_stat_err, simulate, theorem2_check
    from stability.experiments import loop
    from stability.numerical.operator import iterate_operator

    E = ValueError
    t2 = dict(n=10, lambda_=0.5, delta=0.1, generations=1, chains=2)
    X = np.random.default_rng(2).standard_normal((20, 2))
    reg = dict(n=20, lambda_=1.0, generations=1, chains=2, data={"X": X, "beta": [0.0, 0.0]})
    counts = np.random.default_rng(0).poisson(3.0, 50)
    for id_, call, m, param in [
        ("theorem2-dim", lambda: theorem2_check(**t2, dim=0), r"^dim must be an integer >= 1, got 0", "dim"),
        ("theorem2-sigma", lambda: theorem2_check(**t2, sigma=0), r"^sigma must be > 0, got 0", "sigma"),
        ("stat-err-dim", lambda: gaussian_stat_err(n=10, lambda_=0.5, delta=0.1, dim=1.5), r"^dim must be", "dim"),
        ("stat-err-sigma", lambda: gaussian_stat_err(n=10, lambda_=0.5, delta=0.1, sigma=-1), r"^sigma must", "sigma"),
        ("regression-dim", lambda: simulate("linear-regression", **reg, dim=0), r"^dim must be an integer >= 1", "dim"),
        (
            "trajectory-steps",
            lambda: families.family("poisson", counts).trajectory([1.0], counts, 0.5, steps=-1),
            r"^steps must be an integer >= 0, got -1",
            "steps",
        ),
        (
            "operator-steps",
            lambda: iterate_operator(None, [0.0], 0.5, steps=-1),
            r"^steps must be an integer >= 0",
            "steps",
        ),
        ("operator-steps-inf", lambda: iterate_operator(None, [0.0], 0.5, steps=math.inf), r"^steps must be", "steps"),
        (
            "natural-from-probs",
            lambda: families.family("categorical", None, k=2).natural_from(probs=[0.0, 1.0]),
            r"^probs must be in \(0, 1\), got 0",
            "probs",
        ),
        (
            "retrain-config-lambdas-text",
            lambda: loop.default_config("flow", "moons", lambdas=["abc"]),
            r"^lambdas must hold numbers >= 0, 'replace' or 'accumulate', or scheme:value with a scheme of .*got 'abc'",
            "lambdas",
        ),
        (
            "retrain-config-lambdas-inf",
            lambda: loop.default_config("flow", "moons", lambdas=["inf"]),
            r"^lambdas must hold finite numbers",
            "lambdas",
        ),
    ]:
        add(f"api-{id_}", call, E, m, param)


def _issue20_api(add, tmp: Path) -> None:
    """Library calls of issue 20 (a new audit): init checks, complex matrices, time and memory estimates."""
    import stability
    from stability.dynamics import family_moments, gaussian_moments, regression_moments, simulate

    try:
        from stability.errors import RuntimeFailure
    except ImportError:  # the probe also runs on checkouts from before stability.errors
        RuntimeFailure = RuntimeError  # noqa: N806
    E = ValueError
    fm = dict(n=10, lambda_=0.5, generations=3)
    for family, init, m in [
        ("poisson", np.nan, r"init: the mean parameter 'rate' must be a finite number > 0, got nan"),
        ("poisson", -1.0, r"init: the mean parameter 'rate' must be a finite number > 0, got -1"),
        ("poisson", np.inf, r"init: the mean parameter 'rate'"),
        ("bernoulli", 1.5, r"init: the mean parameter 'p' must be in \(0, 1\), got 1.5"),
        ("bernoulli", 0.0, r"init: the mean parameter 'p' must be in \(0, 1\)"),
        ("bernoulli", np.nan, r"init: the mean parameter 'p'"),
        ("categorical", [0.5, 0.6, 0.2], r"init: the mean parameter 'probs' must be a vector .* summing to 1"),
        ("categorical", [1.2, -0.4, 0.2], r"init: the mean parameter 'probs' must be a vector of >= 2 positive"),
        ("categorical", [0.5, 0.5], r"init must have shape \(3,\), got \(2,\)"),
        ("exponential", 0.0, r"init: the mean parameter 'mean' must be a finite number > 0"),
        ("gamma", -2.0, r"init: the mean parameter 'mean' must be a finite number > 0, got -2"),
        ("poisson", 1 + 2j, r"init must be real numbers, got complex"),
        ("poisson", "x", r"init must be a number or a probability vector, got 'x'"),
    ]:
        add(
            f"api-family-moments-init-{family}={init!r}",
            lambda family=family, init=init: family_moments(family, init=init, **fm),
            E,
            m,
            "init",
        )
    eye = np.eye(2)
    add(
        "api-stationary-complex-A",
        lambda: stability.stationary(eye * (1 + 1j), eye, 1.0, 10),
        E,
        r"A must be a real matrix",
        "A",
    )
    add(
        "api-stationary-complex-B",
        lambda: stability.stationary(eye, eye + 0.5j, 1.0, 10),
        E,
        r"B must be a real matrix",
        "B",
    )
    add(
        "api-jacobian-complex",
        lambda: stability.analyze_jacobian(eye, eye * 1j, 1.0),
        E,
        r"B must be a real matrix",
        "B",
    )
    X = np.random.default_rng(2).standard_normal((20, 2))
    for name, data, m in [
        ("X", {"X": X + 1j, "beta": [1.0, 2.0]}, r"data\['X'\] must be real numbers, got complex"),
        ("beta", {"X": X, "beta": [1.0 + 1j, 2.0]}, r"data\['beta'\] must be real numbers, got complex"),
    ]:
        add(
            f"api-regression-complex-{name}",
            lambda data=data: regression_moments(data=data, lambda_=1.0, generations=2),
            E,
            m,
            "data",
        )
        add(
            f"api-simulate-regression-complex-{name}",
            lambda data=data: simulate("linear-regression", n=20, lambda_=1.0, generations=1, chains=2, data=data),
            E,
            m,
            "data",
        )
    est = r"(?i)would take about .* more than the limit|memory"  # time, or memory on a small machine
    add(
        "api-family-moments-1e9",
        lambda: family_moments("bernoulli", n=10, lambda_=0.5, generations=10**9),
        RuntimeFailure,
        est,
        "generations",
    )
    add(
        "api-gaussian-moments-1e9",
        lambda: gaussian_moments(n=10, lambda_=0.5, generations=10**9),
        RuntimeFailure,
        est,
        "generations",
    )
    add(
        "api-regression-moments-1e9",
        lambda: regression_moments(data={"X": X, "beta": [0.0, 0.0]}, lambda_=0.5, generations=10**9),
        RuntimeFailure,
        est,
        "generations",
    )
    add(
        "api-simulate-generations-1e8",
        lambda: simulate("gaussian", n=10, lambda_=0.5, generations=10**8, chains=3),
        RuntimeFailure,
        est,
        "generations",
    )
    add(
        "api-simulate-bernoulli-generations-1e9",
        lambda: simulate("bernoulli", n=10, lambda_=0.5, generations=10**9, chains=1),
        RuntimeFailure,
        est,
        "generations",
    )
    x60 = np.random.default_rng(0).standard_normal(60)
    add(
        "api-retrain-chains-mixture-theta-star",
        lambda: stability.retrain_chains("gaussian-mixture", x60, 1.0, generations=5, chains=8, seed=0),
        RuntimeFailure,
        r"theta\* is not the maximum of the real-data likelihood",
        None,
    )
    add(
        "api-retrain-chains-memory",
        lambda: stability.retrain_chains("student-t", x60, 1.0, generations=2, chains=10**11, seed=0),
        MemoryError,
        r"(?i)retrain_chains with chains=100000000000.*memory",
        "chains",
    )
    big = np.uint64(2**64 - 2**20) + np.arange(200, dtype=np.uint64) * np.uint64(4096)
    add("api-poisson-uint64-2**64", lambda: stability.analyze("poisson", big, 0.5), E, r"integers <= 2\*\*53", "data")
    add(
        "api-bernoulli-huge",
        lambda: stability.analyze("poisson", np.array([2.0**60, 1.0, 3.0]), 0.5),
        E,
        r"2\*\*53",
        "data",
    )
    from stability.sweeps import ResultStore, load

    stores = Path(tmp) / "stores"
    _files(Path(tmp))  # the foreign stores, as for the command lines
    for name, m in [
        ("random.sqlite", r"not an SQLite file"),
        ("unrelated.sqlite", r"another application"),
        ("own-results.sqlite", r"another application"),
        ("folder.sqlite", r"is a folder"),
    ]:
        # ResultStore(path): the message names the file by its path, as the store it is not (param None)
        add(f"api-result-store-{name}", lambda name=name: ResultStore(stores / name), E, m, None)
        add(f"api-load-{name}", lambda name=name: load(stores / name), E, m, "store")
