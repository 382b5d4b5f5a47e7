"""The compact student's pair head computed in numpy: a low-rank bilinear form plus pair terms.

A model whose metadata ``head`` is ``{"kind": "bilinear", ...}`` (``docs/model-contract.md``,
*Bilinear heads*) has entity states laid out as

    TF state   [u (rank), b_tf (1), p (terms)]
    gene state [v (rank), b_gene (1), q (terms)]

and scores a pair (t, g) with pair PCC ``r`` (one per modality) as

    logit = u . v + b_tf + b_gene + sum_k (p_k + q_k) * phi_k(r)
    score = sigmoid(logit)

where ``phi`` lists, for each name of ``pair_terms`` and then each modality, ``z = atanh(clip(r))``
(``"z"``) or ``|z|`` (``"abs_z"``), ``clip`` being ``fisher_clip``. The head has no weights of its
own: everything is in the states. Scoring a block of TFs against all genes is then one float32
GEMM ``U @ V.T`` plus rank-one and element-wise terms, instead of one ONNX head run per pair;
the ONNX pair head in the file computes the same thing per pair, so runtimes that do not know
the kind still score the model correctly (more slowly).
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

BILINEAR = "bilinear"
PAIR_TERMS = ("z", "abs_z")


class BilinearHead:
    """The numpy form of a ``bilinear`` head.

    Attributes:
        rank: length of the ``u`` / ``v`` parts of the states.
        terms: the pair-term names, in state order.
        n_modalities: modalities of the pair features.
        clip: |r| at which the Fisher z is clipped.
        state_size: floats per entity state, ``rank + 1 + len(terms) * n_modalities``.
    """

    def __init__(self, spec: dict, n_modalities: int, uses_pair_features: bool, source: str):
        rank, terms, clip = spec.get("rank"), spec.get("pair_terms", []), spec.get("fisher_clip", 0.999)
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise InputError(f"{source}: metadata head rank {rank!r} is not a positive integer")
        if not isinstance(terms, list) or any(term not in PAIR_TERMS for term in terms):
            raise InputError(f"{source}: metadata head pair_terms {terms!r}: each must be one of {PAIR_TERMS}")
        if terms and not uses_pair_features:
            raise InputError(f"{source}: metadata head has pair_terms {terms} but the model reads no pair_features")
        if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not 0.0 < float(clip) < 1.0:
            raise InputError(f"{source}: metadata head fisher_clip {clip!r} is not in (0, 1)")
        self.rank = rank
        self.terms = tuple(terms)
        self.n_modalities = int(n_modalities)
        self.clip = np.float32(clip)
        self.state_size = rank + 1 + len(self.terms) * self.n_modalities

    def check_state(self, width: int, source: str) -> None:
        """Raise :class:`InputError` unless the encoders' state width is :attr:`state_size`."""
        if width != self.state_size:
            raise InputError(
                f"{source}: metadata head (bilinear, rank {self.rank}, {len(self.terms)} pair terms) needs "
                f"states of {self.state_size} floats but the encoders give {width}"
            )

    def _phi(self, pair: np.ndarray) -> list[np.ndarray]:
        """The pair terms, one float32 array of ``pair``'s leading shape per (term, modality)."""
        r = np.clip(pair[..., 0], -self.clip, self.clip)
        z = np.arctanh(r, dtype=np.float32)
        values = {"z": z, "abs_z": np.abs(z) if "abs_z" in self.terms else None}
        return [values[term][..., m] for term in self.terms for m in range(self.n_modalities)]

    def logits(self, tf_rows: np.ndarray, gene_rows: np.ndarray, pair_rows: np.ndarray | None) -> np.ndarray:
        """Logits float32 ``[n]`` of pairs with states float32 ``[n, state_size]`` each and pair
        features float32 ``[n, modalities, kinds]`` (``None`` without pair terms)."""
        rank = self.rank
        out = np.einsum("ij,ij->i", tf_rows[:, :rank], gene_rows[:, :rank], dtype=np.float32)
        out += tf_rows[:, rank] + gene_rows[:, rank]
        if self.terms:
            if pair_rows is None:
                raise ValueError("this bilinear head has pair terms; pass pair_rows")
            for k, phi in enumerate(self._phi(pair_rows)):
                out += (tf_rows[:, rank + 1 + k] + gene_rows[:, rank + 1 + k]) * phi
        return out

    def block_logits(self, tf_block: np.ndarray, gene_table: np.ndarray, pair_block: np.ndarray | None) -> np.ndarray:
        """Logits float32 ``[b, genes]`` of TFs with states ``tf_block`` float32 ``[b, state_size]``
        against every gene of ``gene_table`` float32 ``[genes, state_size]``; ``pair_block``
        float32 ``[b, genes, modalities, kinds]`` (``None`` without pair terms). One GEMM plus
        element-wise terms; no per-pair copies of the states."""
        rank = self.rank
        out = tf_block[:, :rank] @ gene_table[:, :rank].T
        out += tf_block[:, rank, None]
        out += gene_table[None, :, rank]
        if self.terms:
            if pair_block is None:
                raise ValueError("this bilinear head has pair terms; pass pair_block")
            for k, phi in enumerate(self._phi(pair_block)):
                column = rank + 1 + k
                out += (tf_block[:, column, None] + gene_table[None, :, column]) * phi
        return out

    def scores(self, tf_rows: np.ndarray, gene_rows: np.ndarray, pair_rows: np.ndarray | None = None) -> np.ndarray:
        """Scores float32 ``[n]``: :meth:`logits` through the sigmoid."""
        return _sigmoid(self.logits(tf_rows, gene_rows, pair_rows))

    def block_scores(
        self, tf_block: np.ndarray, gene_table: np.ndarray, pair_block: np.ndarray | None = None
    ) -> np.ndarray:
        """Scores float32 ``[b, genes]``: :meth:`block_logits` through the sigmoid."""
        return _sigmoid(self.block_logits(tf_block, gene_table, pair_block))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """In place, float32: ``1 / (1 + exp(-x))`` (exp overflow to inf gives 0, as it should)."""
    with np.errstate(over="ignore"):
        np.negative(x, out=x)
        np.exp(x, out=x)
        x += 1.0
        np.reciprocal(x, out=x)
    return x


def head_kind(head: dict | None) -> str | None:
    """The metadata ``head``'s ``kind`` (``None``: the ONNX pair head, per pair)."""
    return None if head is None else head.get("kind")


def bilinear_head(metadata, source: str) -> BilinearHead | None:
    """The :class:`BilinearHead` of a model whose metadata declares one, else ``None``."""
    if head_kind(metadata.head) != BILINEAR:
        return None
    return BilinearHead(metadata.head, len(metadata.modalities), bool(metadata.pair_features), source)
