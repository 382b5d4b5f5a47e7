"""Defaults the API and the command line share, in a module that imports nothing, so that
``deeptgi-rt --help`` and an argument error are reported without loading numpy."""

from __future__ import annotations

# Pairs per head run. Measured on the lite head (2 cores): 4-8k pairs keep the head's activations
# in cache and run 2-3x faster per pair than 65k-pair batches.
DEFAULT_BATCH_SIZE = 8192
