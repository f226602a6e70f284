"""The shared options and the error boundary of ``stability`` (stability/cli/_options.py, _main.py)."""

import json

import pytest

import stability.cli.bound
from stability.cli import main
from stability.cli._options import parse_integer
from stability.errors import InputError, OutputError


@pytest.mark.parametrize("text,value", [("1000", 1000), ("1e3", 1000), ("-2", -2), ("2E1", 20), ("+7", 7)])
def test_integers_accept_exact_scientific_notation(text, value):
    assert parse_integer(text) == value and isinstance(parse_integer(text), int)


@pytest.mark.parametrize("text", ["2.5", "1e-1", "x", "inf", "nan", ""])
def test_integers_refuse_non_integers(text):
    with pytest.raises(ValueError):
        parse_integer(text)


def _simulate(*extra):
    return ["simulate", "poisson", "--n", "20", "--lambda", "1", "--generations", "2", "--chains", "5", *extra]


def _err(capsys):
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_scientific_integer_and_old_spelling(capsys):
    argv = ["simulate", "gaussian", "--n", "1e2", "--lambda", "0.5", "--generations", "2", "--chains", "1e1"]
    assert main([*argv, "--d", "2", "--json"]) == 0  # --d: the old spelling of --dim, hidden
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 100 and out["chains"] == 10 and out["k"] == 50
    assert main(["simulate", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "--dim" in help_text and "--d " not in help_text and "--d\n" not in help_text


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--chains", "2.5"], "--chains must be an integer >= 1, got 2.5"),
        (["--chains", "many"], "--chains must be an integer >= 1, got 'many'"),
        (["--seed", "-1"], "--seed must be an integer >= 0, got -1"),
    ],
)
def test_integer_errors_name_the_flag(extra, message, capsys):
    assert main(_simulate(*extra)) == 2
    line = _err(capsys)
    assert line == f"stability simulate: error: {message}"


def test_old_spelling_error_names_what_the_user_typed(capsys):
    assert main(["analyze", "gaussian", "--dist", "norm:0,1", "--lambda", "1", "--d", "0"]) == 2
    assert _err(capsys).endswith("--d must be an integer >= 1, got 0")


def test_library_errors_name_the_flag_that_set_the_parameter(capsys):
    # the library names its parameter and carries it (err.param); the line adds the flag as typed
    argv = ["simulate", "gaussian", "--n", "10", "--lambda", "1", "--generations", "1", "--chains", "2"]
    assert main([*argv, "--scheme", "replace", "--synthetic-weight", "0.5"]) == 2
    assert _err(capsys).startswith(
        "stability simulate: error: argument --synthetic-weight: synthetic_weight must be None or 1 under scheme "
        "'replace'"
    )
    assert main([*argv, "--n", "2", "--lambda", "0", "--dim", "5"]) == 2
    assert _err(capsys) == (
        "stability simulate: error: argument --n: n + floor(lambda_ n) must be >= dim + 1 = 6 to fit a full "
        "covariance (scheme 'fixed-real'), got 2"
    )
    assert main([*argv, "--n", "200000", "--d", "1e5"]) == 1  # 300 GiB: refused; the old spelling, as typed
    assert _err(capsys).startswith("stability simulate: error: argument --d: a Gaussian of dimension dim = 100000")
    assert main(["analyze", "categorical", "--dist", "binom:2,0.5", "--lambda", "1", "--k", "1"]) == 2
    assert "--k must be an integer >= 2, got 1" in _err(capsys)  # argparse's own check


def test_option_names_and_the_flag_typed():
    from stability.cli._main import build_parser
    from stability.cli._options import flag_typed, option_names

    parser = build_parser()
    simulate = parser._subparsers._group_actions[0].choices["simulate"]  # argparse has no public accessor
    names = option_names(simulate)
    assert names["dim"] == ("--dim", "--d") and names["lambda_"] == ("--lambda",) and names["family"] == ("family",)
    assert flag_typed(names["dim"], ["--d", "3"]) == "--d" and flag_typed(names["dim"], ["--dim=3"]) == "--dim"
    assert flag_typed(names["dim"], []) == "--dim"


@pytest.mark.parametrize(
    "exc,code,needle",
    [
        (
            InputError("eps must be >= 0, got -1", param="eps"),
            2,
            "stability bound: error: argument --eps: eps must be >= 0",
        ),
        (ValueError("eps must be >= 0, got -1"), 2, "stability bound: error: eps must be >= 0, got -1"),  # no param
        (OutputError("out is a file", param="out"), 1, "stability bound: error: out is a file"),  # bound has no --out
        (FileNotFoundError(2, "No such file or directory", "x.npz"), 1, "stability bound: error: [Errno 2]"),
        (RuntimeError("did not converge\nafter 10 steps"), 1, "error: RuntimeError: did not converge after 10 steps"),
        (ImportError("needs zuko: pip install 'stability[experiments]'"), 1, "stability[experiments]"),
        (KeyboardInterrupt(), 130, "stability bound: interrupted"),
    ],
)
def test_error_boundary_one_line(monkeypatch, capsys, exc, code, needle):
    def boom(args):
        raise exc

    monkeypatch.setattr(stability.cli.bound, "_cmd_bound", boom)
    assert main(["bound", "--lambda", "0.1", "--eps", "0.1"]) == code
    line = _err(capsys)
    assert needle in line


def test_a_bug_shows_the_traceback_and_asks_for_a_report(monkeypatch, capsys):
    def boom(args):
        raise KeyError("oops")

    monkeypatch.setattr(stability.cli.bound, "_cmd_bound", boom)
    assert main(["bound", "--lambda", "0.1", "--eps", "0.1"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'oops'" in err and "please report it" in err.splitlines()[-1]
