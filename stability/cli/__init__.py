"""The ``stability`` command line: one module per command, nothing in the library imports it.

- :mod:`~stability.cli.bound`: ``stability bound``, Theorem 1's contraction factor;
- :mod:`~stability.cli.analyze`: ``stability analyze``, :func:`stability.analyze` on a file or a distribution;
- :mod:`~stability.cli.simulate`: ``stability simulate``, :func:`stability.simulate`;
- :mod:`~stability.cli.retrain`: ``stability retrain``, :func:`stability.experiments.retrain`;
- :mod:`~stability.cli.sweep`: ``stability sweep``, grids of tasks on dask (:mod:`stability.sweeps`);
- :mod:`~stability.cli._options`: the options they share; :mod:`~stability.cli._main`: parser and error boundary.
"""

from ._main import COMMANDS, build_parser, main

__all__ = ["COMMANDS", "build_parser", "main"]
