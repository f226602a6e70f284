"""``stability simulate`` command line."""

import json

import numpy as np

from stability.cli import main


def test_simulate_json(capsys, tmp_path):
    out = tmp_path / "run.npz"
    argv = ["simulate", "gaussian", "--dim", "2", "--n", "100", "--lambda", "0.5", "--generations", "8"]
    rc = main([*argv, "--chains", "50", "--json", "--out", str(out)])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["k"] == 50 and res["distance"] == "w2"
    assert [row["generation"] for row in res["table"]] == [0, 1, 2, 4, 6, 8]
    assert res["table"][0]["w2_median"] == 0.0
    with np.load(out) as z:
        assert z["cov"].shape == (9, 50, 2, 2)


def test_simulate_text_and_families(capsys):
    assert main(["simulate", "bernoulli", "--n", "10", "--lambda", "inf", "--generations", "4", "--chains", "20"]) == 0
    out = capsys.readouterr().out
    assert "error median" in out and "collapsed" in out


def test_simulate_errors_exit_2(capsys):
    base = ["simulate", "gaussian", "--generations", "3"]
    assert main([*base, "--n", "3", "--dim", "3", "--lambda", "0"]) == 2
    assert "argument --n: n + floor(lambda_ n) must be >= dim + 1 = 4" in capsys.readouterr().err
    assert main([*base, "--n", "10", "--lambda", "-1"]) == 2
    assert "--lambda must be >= 0" in capsys.readouterr().err
    assert main(["simulate", "gaussian", "--n", "10", "--lambda", "1", "--generations", "2.5"]) == 2
    assert "--generations must be an integer >= 0" in capsys.readouterr().err
    assert main([*base, "--n", "10", "--lambda", "1", "--chains", "0"]) == 2
    assert "--chains must be an integer >= 1" in capsys.readouterr().err


def test_lambda_optional_only_where_the_scheme_ignores_it(capsys):
    # fresh-fraction takes its mix from --real-fraction: no --lambda needed; k = n - floor(a n) = 70
    argv = ["simulate", "gaussian", "--n", "100", "--scheme", "fresh-fraction", "--real-fraction", "0.3"]
    assert main([*argv, "--generations", "2", "--chains", "10", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["k"] == 70
    # every other scheme still needs it, and the error names the flag
    assert main(["simulate", "gaussian", "--n", "100", "--generations", "2", "--chains", "10", "--quiet"]) == 2
    assert "argument --lambda: lambda_ must be given for scheme 'fixed-real' (a number >= 0" in capsys.readouterr().err
