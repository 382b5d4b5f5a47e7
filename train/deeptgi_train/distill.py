"""Distillation: a trained DeepTGI model (the teacher, usually a cross-fitted ensemble) labels
TF x gene pairs of an expression data set, and a cheaper student learns its logits.

No labels are needed: the teacher scores the pairs through the runtime (``deeptgi_rt``: the same
encoders, pair head and pair features ``deeptgi-rt score`` uses), so the student learns exactly
what a user would get from the teacher. Two student kinds:

* ``lite``: the ``lite`` architecture itself, one network instead of the teacher's members;
* ``compact``: :class:`CompactStudent`, entity encoders that emit per-entity vectors and a
  weight-free pair head, a low-rank bilinear form plus the pair's own PCC terms with
  entity-specific slopes (contract ``head.kind = "bilinear"``), which the runtime computes as
  one GEMM per block of TFs (:mod:`deeptgi_rt.bilinear_head`).

Loss: mean squared error between the student's and the teacher's logits. The teacher's
threshold, calibration and density are on its logit scale, so matching logits (not ranks) is
what lets the student carry them over; and unlike a cross-entropy on the teacher's
probabilities, whose gradient ``sigmoid(s) - sigmoid(t)`` vanishes where both are near 0, the
logit MSE weighs differences among the many low-scoring candidates, whose order decides
genome-wide ranking, as much as those among the few high ones.

Threshold semantics are carried over from the teacher, not recomputed: the Youden threshold, the
``label_prior`` (density and class balance) and the Platt ``calibration`` were chosen on the
teacher's held-out (out-of-fold) scores against labels, which distillation never reads; a
student that reproduces the teacher's logits inherits their meaning, and how closely it does is
recorded (``training.distillation.agreement``: Spearman on held-out TFs and on all pairs, and
the agreement of the calls at the teacher's threshold).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deeptgi_rt.catalog import model_sha256
from deeptgi_rt.errors import InputError
from deeptgi_rt.progress import Reporter

from .model import InputTransform

STUDENT_KINDS = ("lite", "compact")
# Pairs the teacher labels at most; beyond it a stratified sample (every TF and every gene kept).
DEFAULT_PAIR_CAP = 2_000_000
# Share of the TFs whose pairs are held out for early stopping and the agreement figures.
VALIDATION_TF_FRACTION = 0.15
LOGIT_EPS = 1e-7


# --------------------------------------------------------------------------- the compact student


@dataclass(frozen=True)
class CompactConfig:
    """Sizes of :class:`CompactStudent`.

    Attributes:
        rank: length of the bilinear vectors ``u`` (TF) and ``v`` (gene).
        hidden: width of each encoder's hidden layers.
        layers: hidden layers per encoder.
        pair_features: ``("pcc",)`` when the head reads the pair's own PCC, else ``()``.
        pair_terms: functions of the pair PCC with entity-specific slopes (see
            :mod:`deeptgi_rt.bilinear_head`).
        fisher_clip, input_transform: as for :class:`~deeptgi_train.configs.ModelConfig`.
        dropout: dropout on the encoders' hidden layers while training.
    """

    name: str = "compact"
    rank: int = 64
    hidden: int = 256
    layers: int = 2
    pair_features: tuple[str, ...] = ("pcc",)
    pair_terms: tuple[str, ...] = ("z", "abs_z")
    fisher_clip: float = 0.999
    input_transform: str = "fisher_z"
    dropout: float = 0.1
    members: int = 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready sizes (for the model's metadata ``config``)."""
        values = dataclasses.asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in values.items()}


class CompactStudent(nn.Module):
    """Per-entity vectors and a weight-free bilinear pair head.

    TF state ``[u (rank), b (1), p (terms)]``, gene state ``[v, b, q]`` (float32, one row per
    entity); logit ``= u.v + b_tf + b_gene + sum_k (p_k + q_k) phi_k(pair PCC)`` with ``phi``
    the Fisher z of the pair PCC and its magnitude per modality. The head has no
    parameters, so the runtime computes it from the states alone
    (:class:`deeptgi_rt.bilinear_head.BilinearHead`).
    """

    def __init__(self, config: CompactConfig, n_modalities: int, n_feature_genes: int):
        super().__init__()
        self.config = config
        self.n_modalities, self.n_feature_genes = n_modalities, n_feature_genes
        self.input_transform = InputTransform(config, n_modalities, n_feature_genes)
        self.terms = tuple(config.pair_terms) if config.pair_features else ()
        self.n_terms = len(self.terms) * n_modalities
        self.state_size = config.rank + 1 + self.n_terms
        width = n_modalities * n_feature_genes
        self.tf_encoder = self._encoder(width)
        self.gene_encoder = self._encoder(width)

    def _encoder(self, width: int) -> nn.Sequential:
        layers, previous = [], width
        for _ in range(self.config.layers):
            layers += [nn.Linear(previous, self.config.hidden), nn.GELU(), nn.Dropout(self.config.dropout)]
            previous = self.config.hidden
        layers.append(nn.Linear(previous, self.state_size))
        return nn.Sequential(*layers)

    def _flat(self, features):
        return self.input_transform(features).reshape(-1, self.n_modalities * self.n_feature_genes)

    def encode_tf(self, tf_features):
        """TF state float32 ``[B, state_size]`` from float32 ``[B, modalities, feature_genes]``."""
        return self.tf_encoder(self._flat(tf_features))

    def encode_gene(self, gene_features):
        """Gene state float32 ``[B, state_size]`` from float32 ``[B, modalities, feature_genes]``."""
        return self.gene_encoder(self._flat(gene_features))

    def head(self, tf_state, gene_state, pair=None):
        """Logits float32 ``[B]`` from states float32 ``[B, state_size]`` and the pair PCC
        float32 ``[B, modalities, 1]`` (when the student reads it)."""
        rank = self.config.rank
        logits = (tf_state[:, :rank] * gene_state[:, :rank]).sum(dim=1) + tf_state[:, rank] + gene_state[:, rank]
        if self.n_terms:
            if pair is None:
                raise ValueError("this student scores pairs from their pair features: pass pair")
            z = torch.atanh(pair[..., 0].clamp(-self.config.fisher_clip, self.config.fisher_clip))
            values = {"z": z, "abs_z": z.abs()}
            phi = torch.cat([values[term] for term in self.terms], dim=1)
            slopes = tf_state[:, rank + 1 :] + gene_state[:, rank + 1 :]
            logits = logits + (slopes * phi).sum(dim=1)
        return logits

    def forward(self, tf_features, gene_features, pair=None):
        """Logits float32 ``[B]`` from feature rows float32 ``[B, modalities, feature_genes]``."""
        return self.head(self.encode_tf(tf_features), self.encode_gene(gene_features), pair)

    def head_metadata(self) -> dict[str, Any]:
        """The contract's ``head`` object for this student."""
        return {
            "kind": "bilinear",
            "rank": self.config.rank,
            "pair_terms": list(self.terms),
            "fisher_clip": self.config.fisher_clip,
        }


def build_student(kind: str, n_modalities: int, n_feature_genes: int, pair_features: tuple[str, ...], **sizes):
    """A fresh student network: ``lite`` (:class:`~deeptgi_train.model.DeepTGI`) or ``compact``.

    ``pair_features`` is the teacher's (the student reads what the teacher reads); ``sizes``
    override :class:`CompactConfig` fields for ``compact``.
    """
    if kind == "lite":
        from .configs import model_config
        from .model import build_deeptgi

        return build_deeptgi(model_config("lite", pair_features=tuple(pair_features)), n_modalities, n_feature_genes)
    if kind == "compact":
        config = CompactConfig(pair_features=tuple(pair_features), **sizes)
        return CompactStudent(config, n_modalities, n_feature_genes)
    raise InputError(f"--student {kind!r}: choose one of {', '.join(STUDENT_KINDS)}")


# --------------------------------------------------------------------------- the teacher's labels


@dataclass
class TeacherLabels:
    """What the teacher said about the pairs of one data set.

    Attributes:
        tf_names, gene_names: the TFs (the teacher's TFs found in the data, then the pseudo-TFs:
            other genes scored as TFs) and the targets (every gene of the data).
        n_model_tfs: how many of ``tf_names`` are the teacher's TFs (the first ones).
        tf_features: float32 ``[tfs, modalities, feature_genes]`` the TFs' PCC rows.
        gene_features: float32 ``[genes, modalities, feature_genes]``.
        pair_pcc: float32 ``[tfs, genes, modalities]`` the pairs' own PCC, or ``None`` when the
            teacher reads no pair features.
        tf_index, gene_index: int64 ``[pairs]`` the labelled pairs (self pairs left out).
        logits: float64 ``[pairs]`` the teacher's logits of those pairs.
        sampled: whether the pairs are a sample (more than the cap).
    """

    tf_names: list[str]
    gene_names: list[str]
    tf_features: np.ndarray
    gene_features: np.ndarray
    pair_pcc: np.ndarray | None
    tf_index: np.ndarray
    gene_index: np.ndarray
    logits: np.ndarray
    sampled: bool = False
    n_model_tfs: int = 0


def logit(p: np.ndarray) -> np.ndarray:
    """float64 ``log(p / (1 - p))`` of probabilities clipped into ``(1e-7, 1 - 1e-7)``."""
    p = np.clip(np.asarray(p, dtype=np.float64), LOGIT_EPS, 1.0 - LOGIT_EPS)
    return np.log(p) - np.log1p(-p)


def stratified_pairs(n_tfs: int, n_genes: int, cap: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """int64 ``(tf_index, gene_index)`` of TF x gene pairs: all of them when there are at most
    ``cap``; else ``ceil(cap / n_tfs)`` targets per TF, taken as consecutive runs of one random
    permutation of the genes (TF i starts where TF i - 1 stopped), so every TF gets as many
    distinct targets and every gene is a target of some TF whenever ``cap >= n_genes``."""
    if n_tfs * n_genes <= cap:
        tfs, genes = np.divmod(np.arange(n_tfs * n_genes, dtype=np.int64), n_genes)
        return tfs, genes
    per_tf = max(1, min(n_genes, -(-cap // n_tfs)))
    order = rng.permutation(n_genes)
    starts = (np.arange(n_tfs, dtype=np.int64) * per_tf) % n_genes
    genes = order[(starts[:, None] + np.arange(per_tf)[None, :]) % n_genes]
    return np.repeat(np.arange(n_tfs, dtype=np.int64), per_tf), genes.reshape(-1).astype(np.int64)


def read_modalities(teacher, expr, bulk, *, layout: str = "auto", bulk_layout: str = "auto") -> list:
    """The expression modalities as the teacher's scoring reads them (its preprocessing applied).

    Raises:
        InputError: the number of modalities does not match the teacher's, or a file is unreadable.
    """
    from deeptgi_rt.expression import read_expression

    meta = teacher.metadata
    given = [(expr, layout, "--expr")] + ([(bulk, bulk_layout, "--bulk")] if bulk is not None else [])
    if len(given) != len(meta.modalities):
        hint = "give --bulk" if len(meta.modalities) > len(given) else "drop --bulk"
        raise InputError(
            f"{teacher.path}: the teacher expects {len(meta.modalities)} expression modalities "
            f"({', '.join(meta.modalities)}) but {len(given)} were given ({hint})"
        )
    return [
        read_expression(path, layout=lay, transform=prep) for (path, lay, _), prep in zip(given, meta.preprocessing)
    ]


def teacher_labels(
    teacher,
    expressions: list,
    *,
    cap: int = DEFAULT_PAIR_CAP,
    seed: int = 0,
    pseudo_tfs: bool = True,
    reporter: Reporter | None = None,
) -> TeacherLabels:
    """The teacher's logits for the TF x gene pairs of ``expressions`` (a stratified sample of
    at most ``cap`` of them), computed through the runtime.

    Args:
        teacher: a :class:`deeptgi_rt.model.ScoringModel`.
        expressions: one :class:`~deeptgi_rt.expression.Expression` per teacher modality,
            preprocessed (:func:`read_modalities`).
        cap: most pairs to label; ``seed`` seeds the sample.
        pseudo_tfs: also let the teacher score other genes of the data as TFs (as many as keep
            TFs x genes within ``cap``, chosen at random): the teacher's function is defined for
            any gene, and a student whose TF encoder saw only the few labelled TFs learns them by
            heart (on mhsc-e, 38 fitted TFs: Spearman 0.67 on held-out TFs).

    Raises:
        InputError: the data lack the teacher's feature genes, or hold none of its TFs.
    """
    from deeptgi_rt.features import entity_features, feature_gene_columns, pair_pcc
    from deeptgi_rt.names import GeneMatcher
    from deeptgi_rt.scoring import PairBuffers, score_listed_pairs, score_tf_rows

    reporter = reporter or Reporter()
    meta = teacher.metadata
    genes = list(expressions[0].genes)
    for other in expressions[1:]:
        present = set(other.genes)
        genes = [gene for gene in genes if gene in present]
    for expression in expressions:
        # The teacher's features first: their absence is the error a user must fix first.
        feature_gene_columns(expression, meta.feature_genes)
    matcher = GeneMatcher(genes, False)
    found, _ = matcher.match(list(meta.tfs))
    tf_rows = np.unique(found[found >= 0])
    if len(tf_rows) == 0:
        raise InputError(
            f"{expressions[0].source}: none of the teacher's {len(meta.tfs)} TFs (metadata tfs) is in the data"
        )
    rng = np.random.default_rng(seed)
    n_model_tfs = len(tf_rows)
    if pseudo_tfs:
        others = np.setdiff1d(np.arange(len(genes)), tf_rows)
        room = max(0, cap // max(len(genes), 1) - n_model_tfs)
        tf_rows = np.r_[tf_rows, np.sort(rng.permutation(others)[:room])].astype(np.int64)
    tf_names = [genes[row] for row in tf_rows]
    with reporter.task("PCC features", len(genes) * len(expressions), unit="genes") as advance:
        # Raises InputError naming the data file when teacher feature genes are missing.
        features = entity_features(expressions, genes, meta.feature_genes, reporter=reporter, progress=advance)
    tf_features, gene_features = features[tf_rows], features
    pcc = None
    if teacher.uses_pair_features:
        pcc = pair_pcc(expressions, tf_names, genes, reporter=reporter)
    tf_index, gene_index = stratified_pairs(len(tf_names), len(genes), cap, rng)
    keep = tf_rows[tf_index] != gene_index
    tf_index, gene_index = tf_index[keep], gene_index[keep]
    sampled = len(tf_names) * len(genes) > cap
    tf_table, gene_table = teacher.tf_table(tf_features), teacher.gene_table(gene_features)
    pair_table = None if pcc is None else pcc[..., None]
    walked = len(tf_index) if sampled else len(tf_names) * len(genes)
    with reporter.task("teacher scores", walked, unit="pairs") as advance:
        if sampled:
            rows = None if pair_table is None else pair_table.shape[2:]
            buffers = PairBuffers(tf_table.shape[1:], gene_table.shape[1:], 8192, rows)
            scores = score_listed_pairs(
                teacher.pair_scores, tf_table, gene_table, tf_index, gene_index, buffers, pair_table
            )
            advance(len(scores))
        else:
            full = np.empty((len(tf_names), len(genes)), dtype=np.float32)
            for start, block in score_tf_rows(
                teacher.pair_scores, tf_table, gene_table, pair_table=pair_table, block_scores=teacher.block_scores
            ):
                full[start : start + len(block)] = block
                advance(block.size)
            scores = full[tf_index, gene_index]
    return TeacherLabels(
        tf_names=tf_names,
        gene_names=genes,
        tf_features=tf_features,
        gene_features=gene_features,
        pair_pcc=pcc,
        tf_index=tf_index,
        gene_index=gene_index,
        logits=logit(scores),
        sampled=sampled,
        n_model_tfs=n_model_tfs,
    )


# --------------------------------------------------------------------------- training


@dataclass
class DistillResult:
    """A trained student and how well it agrees with its teacher.

    Attributes:
        model: the student (eval mode).
        kind: ``lite`` or ``compact``.
        validation_tfs: names of the TFs whose pairs were held out of fitting.
        agreement: Spearman / Pearson of student vs teacher logits on the held-out TFs' pairs
            (``validation``) and on all labelled pairs (``all``), their RMSE, and the agreement of
            the calls at the teacher's threshold.
        best_epoch, epochs, seconds: training facts.
        student_logits: float32 ``[pairs]`` the student's logits of every labelled pair.
    """

    model: Any
    kind: str
    validation_tfs: list[str]
    agreement: dict[str, Any]
    best_epoch: int
    epochs: int
    seconds: float
    student_logits: np.ndarray = field(repr=False, default=None)


def _validation_tfs(n_tfs: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the TFs held out: 15 % of them, at least 1 when there are 4 or more."""
    count = int(round(VALIDATION_TF_FRACTION * n_tfs))
    if n_tfs >= 4:
        count = max(1, count)
    return np.sort(rng.choice(n_tfs, size=min(count, n_tfs - 1), replace=False)) if count else np.array([], int)


def train_student(
    labels: TeacherLabels,
    kind: str,
    *,
    epochs: int = 60,
    batch_size: int | None = None,
    lr: float = 2e-3,
    weight_decay: float = 1e-4,
    patience: int = 12,
    seed: int = 0,
    threads: int = 1,
    threshold: float | None = None,
    reporter: Reporter | None = None,
    sizes: dict | None = None,
    holdout: str = "tf",
    input_noise: float = 0.0,
) -> DistillResult:
    """Fit a ``kind`` student to ``labels.logits`` by MSE, early-stopped on held-out TFs.

    The TFs are cut into fitting TFs and validation TFs (:data:`VALIDATION_TF_FRACTION`): the
    validation TFs' pairs are never fitted, so their agreement is that of TFs the student did
    not see. Each step encodes the batch's distinct entities once and runs the head on its pairs.
    The weights of the epoch with the lowest validation MSE are returned.

    Args:
        labels: the teacher's labels (:func:`teacher_labels`).
        kind: one of :data:`STUDENT_KINDS`.
        threshold: the teacher's score threshold, for the call agreement figure (or ``None``).
        sizes: :class:`CompactConfig` overrides (``compact`` only).
        holdout: ``"tf"`` (default): the validation pairs are all pairs of held-out TFs, so the
            agreement is that of TFs the student never saw; ``"pair"``: a random tenth of the
            pairs (their TFs and genes are fitted through other pairs).
        input_noise: sd of Gaussian noise added to the transformed (standardized) features of
            every entity while fitting (the teacher's targets stay those of the clean features):
            smooths the student as the ``lite`` teachers' own training noise smoothed them (on mhsc-e
            it did not raise held-out agreement: compact Spearman 0.745 -> 0.728 at sd 0.5).
        batch_size: pairs per step; default ``clip(fitted pairs // 50, 32, 512)``.
    """
    reporter = reporter or Reporter()
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, int(threads)))
    rng = np.random.default_rng(seed)
    n_modalities, n_feature_genes = labels.gene_features.shape[1:]
    pair_kinds = ("pcc",) if labels.pair_pcc is not None else ()
    model = build_student(kind, n_modalities, n_feature_genes, pair_kinds, **(sizes or {}))
    tf_x = torch.from_numpy(np.ascontiguousarray(labels.tf_features))
    gene_x = torch.from_numpy(np.ascontiguousarray(labels.gene_features))
    # The input standardization uses every entity's features (expression only, no labels).
    model.input_transform.fit(torch.cat([tf_x, gene_x]))
    pcc = None if labels.pair_pcc is None else torch.from_numpy(np.ascontiguousarray(labels.pair_pcc))
    target = torch.from_numpy(labels.logits.astype(np.float32))
    n_model = labels.n_model_tfs or len(labels.tf_names)
    held_tfs = _validation_tfs(n_model, rng) if holdout == "tf" else np.array([], int)
    is_held = np.isin(labels.tf_index, held_tfs)
    fit_idx, val_idx = np.flatnonzero(~is_held), np.flatnonzero(is_held)
    if len(val_idx) == 0:
        # Too few TFs to hold one out: early-stop on a random tenth of the pairs instead.
        order = rng.permutation(len(labels.logits))
        val_idx, fit_idx = np.sort(order[: max(1, len(order) // 10)]), np.sort(order[max(1, len(order) // 10) :])
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
    tf_index = torch.from_numpy(labels.tf_index)
    gene_index = torch.from_numpy(labels.gene_index)

    def batch_logits(idx: torch.Tensor) -> torch.Tensor:
        tfs, tf_slot = torch.unique(tf_index[idx], return_inverse=True)
        genes, gene_slot = torch.unique(gene_index[idx], return_inverse=True)
        noise = input_noise if model.training else 0.0
        tf_state, gene_state = encode(model, tf_x[tfs], "tf", noise), encode(model, gene_x[genes], "gene", noise)
        pair = None if pcc is None else pcc[tf_index[idx], gene_index[idx]].unsqueeze(-1)
        return model.head(tf_state[tf_slot], gene_state[gene_slot], pair)

    def predict(idx: np.ndarray) -> np.ndarray:
        model.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(idx), 8192):
                out.append(batch_logits(torch.from_numpy(idx[start : start + 8192])))
        return torch.cat(out).numpy() if out else np.zeros(0, np.float32)

    started = time.perf_counter()
    best, best_epoch, best_state, stale = np.inf, 0, None, 0
    val_target = labels.logits[val_idx]
    if batch_size is None:
        # At least ~50 steps per epoch on small data sets, 512 pairs per step on large ones.
        batch_size = int(np.clip(len(fit_idx) // 50, 32, 512))
    # Batch norm (lite) needs >= 2 pairs per step.
    batch_size = max(2, min(batch_size, len(fit_idx)))
    with reporter.task(f"distilling ({kind})", epochs, unit="epochs") as advance:
        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.from_numpy(fit_idx[rng.permutation(len(fit_idx))])
            for start in range(0, len(order) - batch_size + 1, batch_size):
                idx = order[start : start + batch_size]
                loss = torch.nn.functional.mse_loss(batch_logits(idx), target[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            scheduler.step()
            mse = float(np.mean((predict(val_idx) - val_target) ** 2))
            advance(1)
            if mse < best:
                best, best_epoch, stale = mse, epoch, 0
                best_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
            else:
                stale += 1
                if stale >= patience:
                    break
    model.load_state_dict(best_state)
    model.eval()
    student = predict(np.arange(len(labels.logits)))
    # "all": every pair of the teacher's own TFs (what scoring ranks by default), held out or not.
    model_pairs = labels.tf_index < n_model
    agreement = {
        "validation": agreement_figures(labels.logits[val_idx], student[val_idx], threshold, labels.tf_index[val_idx]),
        "all": agreement_figures(
            labels.logits[model_pairs], student[model_pairs], threshold, labels.tf_index[model_pairs]
        ),
        "validation_pairs": int(len(val_idx)),
        "pairs": int(np.count_nonzero(model_pairs)),
        "pseudo_tf_pairs": int(len(model_pairs) - np.count_nonzero(model_pairs)),
        "validation_by": "tf" if len(held_tfs) else "pair",
    }
    return DistillResult(
        model=model,
        kind=kind,
        validation_tfs=[labels.tf_names[i] for i in held_tfs],
        agreement=agreement,
        best_epoch=best_epoch,
        epochs=epoch,
        seconds=time.perf_counter() - started,
        student_logits=student,
    )


def encode(model, features, side: str, noise: float = 0.0):
    """The ``side`` (``"tf"`` / ``"gene"``) state float32 ``[B, state_size]`` of raw feature rows
    float32 ``[B, modalities, feature_genes]``, with Gaussian noise of sd ``noise`` added after
    the input transform (0: the exported encoders' computation)."""
    if noise <= 0:
        return model.encode_tf(features) if side == "tf" else model.encode_gene(features)
    transformed = model.input_transform(features)
    transformed = transformed + noise * torch.randn_like(transformed)
    if isinstance(model, CompactStudent):
        flat = transformed.reshape(-1, model.n_modalities * model.n_feature_genes)
        return (model.tf_encoder if side == "tf" else model.gene_encoder)(flat)
    # DeepTGI: the branches on the noisy features, the pair context of the clean ones.
    return model._with_context(model._encode(transformed, side), features)


def agreement_figures(
    teacher: np.ndarray, student: np.ndarray, threshold: float | None, tfs: np.ndarray | None = None
) -> dict[str, float]:
    """Spearman and Pearson correlation and RMSE of student vs teacher logits (``[n]`` each),
    and, given the teacher's score ``threshold``, the share of pairs both call the same way and
    the Jaccard index of the two sets of calls. Given each pair's TF (int ``[n]``), also the
    mean over TFs of the Spearman correlation within the TF (``spearman_within_tf``: the order of
    one TF's targets, which per-TF offsets the pooled figure also counts do not change)."""
    from scipy.stats import spearmanr

    teacher, student = np.asarray(teacher, np.float64), np.asarray(student, np.float64)
    if len(teacher) < 2:
        return {}
    figures = {
        "spearman": round(float(spearmanr(teacher, student).statistic), 6),
        "pearson": round(float(np.corrcoef(teacher, student)[0, 1]), 6),
        "rmse_logit": round(float(np.sqrt(np.mean((teacher - student) ** 2))), 6),
    }
    if tfs is not None:
        within = [
            spearmanr(teacher[tfs == tf], student[tfs == tf]).statistic
            for tf in np.unique(tfs)
            if np.count_nonzero(tfs == tf) > 2
        ]
        within = [value for value in within if np.isfinite(value)]
        if within:
            figures["spearman_within_tf"] = round(float(np.mean(within)), 6)
    if threshold is not None:
        cut = float(logit(np.array([threshold]))[0])
        a, b = teacher >= cut, student >= cut
        union = int(np.count_nonzero(a | b))
        figures["call_agreement"] = round(float(np.mean(a == b)), 6)
        figures["call_jaccard"] = round(float(np.count_nonzero(a & b) / union), 6) if union else 1.0
    return figures


# --------------------------------------------------------------------------- metadata and export


def student_metadata(teacher, result: DistillResult, labels: TeacherLabels, *, command: str, files: dict):
    """The student's :class:`~deeptgi_rt.contract.ModelMetadata`: the teacher's scoring fields
    carried over (feature genes, modalities, preprocessing, TFs, expression transform,
    threshold, ``label_prior``, ``calibration``, ``target_prior``; see the module docs for why),
    a bilinear ``head`` for the compact kind, and a training summary naming the teacher."""
    meta = teacher.metadata
    training = meta.training if isinstance(meta.training, dict) else {}
    teacher_facts = {
        "file": Path(teacher.path).name,
        "sha256": model_sha256(teacher.path),
        "config": meta.config.get("name"),
        "members": training.get("crossfit") or meta.config.get("members", 1),
        "genome_wide": training.get("genome_wide"),
        "validation_metrics": training.get("validation_metrics"),
        "validation_protocol": training.get("validation_protocol", training.get("protocol")),
        "command": training.get("command"),
    }
    summary = {
        "data": files,
        "package": "deeptgi-train",
        "command": command,
        "teacher": teacher_facts,
        "distillation": {
            "student": result.kind,
            "loss": "mse on logits",
            "tfs": labels.n_model_tfs,
            "pseudo_tfs": len(labels.tf_names) - labels.n_model_tfs,
            "genes": len(labels.gene_names),
            "pairs": int(len(labels.logits)),
            "sampled": labels.sampled,
            "validation_tfs": result.validation_tfs,
            "agreement": result.agreement,
            "best_epoch": result.best_epoch,
            "epochs": result.epochs,
            "seconds": round(result.seconds, 1),
            "threshold_semantics": "carried over from the teacher (threshold, label_prior, calibration, "
            "target_prior): chosen on the teacher's held-out scores against labels, which distillation "
            "does not read; the student reproduces the teacher's logits",
        },
    }
    from . import __version__

    summary["package_version"] = __version__
    head = result.model.head_metadata() if result.kind == "compact" else None
    return dataclasses.replace(
        meta,
        state_tensors=None,
        config={},
        training=summary,
        head=head,
    )


def export_student(result: DistillResult, metadata, labels: TeacherLabels, out, *, atol: float = 1e-5) -> dict:
    """Write the student at ``out`` (atomically), verified PyTorch vs onnxruntime on pairs of the
    data (:func:`deeptgi_train.export.export_onnx`) and, for the compact kind, also through the
    runtime's numpy head (:mod:`deeptgi_rt.bilinear_head`), per pair and as a GEMM.

    Returns export_onnx's report with ``runtime_max_abs_diff`` added.

    Raises:
        ExportError: any of the paths disagrees with PyTorch by more than ``atol`` (nothing written).
    """
    from deeptgi_rt.atomic import atomic_output
    from deeptgi_rt.model import ScoringModel

    from .export import ExportError, export_onnx

    rng = np.random.default_rng(1)
    pick = rng.choice(len(labels.logits), size=min(256, len(labels.logits)), replace=False)
    ti, gi = labels.tf_index[pick], labels.gene_index[pick]
    check = (labels.tf_features[ti], labels.gene_features[gi])
    pair = None if labels.pair_pcc is None else labels.pair_pcc[ti, gi][..., None]
    with atomic_output(out) as partial:
        report = export_onnx(result.model, metadata, partial, check_features=check, check_pairs=pair, atol=atol)
        with torch.no_grad():
            expected = torch.sigmoid(
                result.model(*(torch.from_numpy(a) for a in check), None if pair is None else torch.from_numpy(pair))
            ).numpy()
        runtime = ScoringModel(partial, device="cpu", threads=1)
        tf_table, gene_table = runtime.tf_table(check[0]), runtime.gene_table(check[1])
        diffs = [np.abs(runtime.pair_scores(tf_table, gene_table, pair) - expected).max()]
        if runtime.block_scores is not None:
            # The GEMM form on the same pairs: each TF row against all check genes, diagonal kept.
            block = runtime.block_scores(tf_table, gene_table, None if pair is None else _outer_pairs(labels, ti, gi))
            diffs.append(np.abs(np.diagonal(block) - expected).max())
        report["runtime_max_abs_diff"] = float(max(diffs))
        if not report["runtime_max_abs_diff"] <= atol:
            raise ExportError(
                f"{out}: the runtime's scores of the student disagree with PyTorch "
                f"(max abs difference {report['runtime_max_abs_diff']:.3g} > {atol:.3g}); nothing written"
            )
    return report


def _outer_pairs(labels: TeacherLabels, ti: np.ndarray, gi: np.ndarray) -> np.ndarray:
    """float32 ``[n, n, modalities, 1]`` pair PCC of check TF i with check gene j."""
    return np.ascontiguousarray(labels.pair_pcc[ti[:, None], gi[None, :]][..., None])


def describe(result: DistillResult) -> str:
    """One summary line of a distillation's agreement with its teacher."""
    val, every = result.agreement["validation"], result.agreement["all"]
    held = f"{len(result.validation_tfs)} held-out TFs" if result.validation_tfs else "held-out pairs"
    within = f" (within TF {val['spearman_within_tf']:.4f})" if "spearman_within_tf" in val else ""
    line = (
        f"student {result.kind} vs teacher: Spearman {val.get('spearman', float('nan')):.4f}{within} on {held} "
        f"({result.agreement['validation_pairs']:,} pairs), {every['spearman']:.4f} on all "
        f"{result.agreement['pairs']:,} pairs of its TFs; logit RMSE {val.get('rmse_logit', float('nan')):.3f}"
    )
    if "call_agreement" in val:
        line += (
            f"; calls at the teacher's threshold agree on {val['call_agreement']:.1%} "
            f"(Jaccard {val['call_jaccard']:.3f})"
        )
    return line + f"; best epoch {result.best_epoch} of {result.epochs}, {result.seconds:.0f} s"
