"""Small compact-head (bilinear) DeepTGI models for tests: a synthetic data set and a planted
teacher whose logit is a known function (a random low-rank bilinear form of the entities plus
entity-specific slopes on the pair PCC), exported like any model (needs torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx_models import synthetic_expression, write_genes_by_cells_csv

from deeptgi_rt.contract import ModelMetadata

N_GENES = 36
TFS = [f"G{i:03d}" for i in range(8)]


def write_data(folder: Path, n_genes: int = N_GENES, n_cells: int = 80, seed: int = 0) -> Path:
    """A genes x cells CSV of correlated synthetic expression; returns its path."""
    genes, values = synthetic_expression(n_genes=n_genes, n_cells=n_cells, seed=seed)
    return write_genes_by_cells_csv(Path(folder) / "expr.csv", genes, values)


def planted_teacher(path: Path, *, rank: int = 3, seed: int = 0, pair_features: bool = True) -> Path:
    """Export a random-weight :class:`~deeptgi_train.distill.CompactStudent` (every gene a feature
    gene) as a teacher with the contract's threshold semantics in its metadata."""
    import torch

    from deeptgi_train.distill import build_student
    from deeptgi_train.export import export_onnx

    torch.manual_seed(seed)
    kinds = ("pcc",) if pair_features else ()
    model = build_student("compact", 1, N_GENES, kinds, rank=rank, hidden=16, layers=1, dropout=0.0)
    with torch.no_grad():
        # A larger output layer spreads the logits over a few units; the encoders stay smooth.
        for encoder in (model.tf_encoder, model.gene_encoder):
            encoder[-1].weight.mul_(4.0)
    model.eval()
    metadata = ModelMetadata(
        feature_genes=[f"G{i:03d}" for i in range(N_GENES)],
        modalities=["single_cell"],
        preprocessing=["none"],
        threshold=0.6,
        tfs=list(TFS),
        training={
            "genome_wide": {"model": {"auroc": 0.8, "epr": 5.0}},
            "validation_metrics": {"auroc": 0.8},
            "crossfit": 5,
            "protocol": "tf",
        },
        label_prior={"class_balance": 0.5, "network_density": 0.05},
        calibration={"method": "platt", "slope": 0.9, "intercept": -1.5, "pairs": 100, "source": "out-of-fold"},
        head=model.head_metadata(),
    )
    export_onnx(model, metadata, path)
    return Path(path)


def random_pcc(shape, seed: int) -> np.ndarray:
    """float32 PCC-like values in (-1, 1) of ``shape``."""
    return np.random.default_rng(seed).uniform(-0.99, 0.99, shape).astype(np.float32)
