"""Itinera's benchmark: Itinera against bare Temporal, on the same servers, in the same run.

``python -m bench`` (or ``make bench``) starts its own embedded stack (or uses the one given
by the ``ITINERA_*`` settings), runs four workloads one after the other and writes JSON and
a Markdown table under ``bench/results/``.  ``--quick`` runs the same code with small counts.
See bench/README.md.
"""
