"""Studies: scripts over the public API of ``stability`` that check the theory on a model, store their runs and
feed the figures (``studies/README.md``). Not part of the installed package; import them with the repository
root on ``sys.path`` (``from studies.smooth_flow import run``)."""
