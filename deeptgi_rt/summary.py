"""What a scoring run did: counts, stage times, memory (:class:`ScoreSummary`)."""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

STAGES = ("load", "read", "pcc", "encode", "score", "write")


@dataclass
class ScoreSummary:
    """What a scoring run did.

    Attributes:
        pairs_scored: pairs the model scored (self pairs of all-pairs runs excluded).
        edges_over_threshold: scored pairs with score >= :attr:`counted_threshold` (the
            threshold in force), whatever ``top_k`` keeps.
        threshold: the model's threshold for this run (see :mod:`deeptgi_rt.thresholds`).
        threshold_how: how that threshold was chosen, in words.
        threshold_asked: the request's ``threshold`` as given: ``None`` (none: the counts use
            the model's ``"youden"`` threshold), a name of
            :data:`~deeptgi_rt.thresholds.THRESHOLD_NAMES` (``threshold`` is that cut) or a float
            (the counts use it, not ``threshold``).
        feature_coverage: the lowest fraction of the model's feature genes in the data.
        edges_written: edges in the output (after ``top_k`` / score filter).
        order: ``"score"`` (global, descending), ``"tf"`` (per TF, targets by descending score)
            or ``"pairs"`` (the pairs table's order).
        stage_seconds: wall time per stage: ``load`` (loading the model and probing the
            device; counted in the first run after :func:`~deeptgi_rt.load_model`, 0 in later
            runs of the same model; ``deeptgi-rt score`` counts its own start-up in it, from
            importing the command to the model ready), ``read``, ``pcc``, ``encode``, ``score``, ``write``; and
            ``density``, the extra scoring pass of ``threshold="density"`` (only in such runs).
        providers: onnxruntime execution providers used.
        pcc_backend: ``"cpu"`` or ``"cuda"``.
        factorized: whether the encoder/head cut was used.
        peak_rss_bytes: peak resident memory of the process so far.
        top_tfs: up to 10 ``(TF, edges over counted_threshold)``, most first.
        tfs, targets: numbers of TFs and target genes taking part.
        self_pairs: TF -> itself pairs left out of an all-pairs run (TFs among the targets).
        mode: ``"all-pairs"`` (every TF x target) or ``"listed-pairs"`` (a pairs table).
        out: the output path, if written.
        plan: the run's estimated cost (:class:`deeptgi_rt.plan.RunPlan`), made before the heavy work.
    """

    pairs_scored: int = 0
    edges_over_threshold: int = 0
    threshold: float = 0.5
    threshold_how: str = ""
    threshold_asked: str | float | None = None
    feature_coverage: float = 1.0
    edges_written: int = 0
    order: str = "score"
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    providers: list[str] = field(default_factory=list)
    pcc_backend: str = "cpu"
    factorized: bool = True
    peak_rss_bytes: int = 0
    top_tfs: list[tuple[str, int]] = field(default_factory=list)
    tfs: int = 0
    targets: int = 0
    self_pairs: int = 0
    mode: Literal["all-pairs", "listed-pairs"] = "all-pairs"
    out: str | None = None
    plan: object = None

    @property
    def counted_threshold(self) -> float:
        """The cut ``edges_over_threshold`` and ``top_tfs`` count with: the request's float
        threshold when it gave one, else the model's ``threshold``."""
        asked = self.threshold_asked
        return float(asked) if isinstance(asked, (int, float)) else float(self.threshold)

    @property
    def counted_threshold_name(self) -> str:
        """What :attr:`counted_threshold` is, in words: ``"model threshold"`` (none given),
        ``"balanced-youden"`` (a name given) or ``"given threshold"`` (a float given)."""
        asked = self.threshold_asked
        if asked is None:
            return "model threshold"
        return str(asked) if isinstance(asked, str) else "given threshold"

    @property
    def share_over_threshold(self) -> float:
        """``edges_over_threshold`` as a fraction of ``pairs_scored`` (0 when none were scored)."""
        return self.edges_over_threshold / self.pairs_scored if self.pairs_scored else 0.0

    @property
    def total_seconds(self) -> float:
        """Wall time of all stages, model loading included (see ``stage_seconds``)."""
        return float(sum(self.stage_seconds.values()))

    @contextlib.contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the wall time of the ``with`` body to ``stage_seconds[stage]``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[stage] += time.perf_counter() - started

    def scored_shape(self) -> str:
        """The pairs scored in words, e.g. ``"125 TFs x 820 targets each (821 genes less the TF itself)"``."""
        if self.mode == "listed-pairs":
            return f"{self.tfs:,} TFs, {self.targets:,} targets in the listed pairs"
        if self.self_pairs == 0:
            return f"{self.tfs:,} TFs x {self.targets:,} targets"
        if self.self_pairs == self.tfs:
            return f"{self.tfs:,} TFs x {self.targets - 1:,} targets each ({self.targets:,} genes less the TF itself)"
        return f"{self.tfs:,} TFs x {self.targets:,} targets, less {self.self_pairs:,} TF -> itself pairs"


def peak_rss_bytes() -> int:
    """Peak resident set size of this process in bytes (``ru_maxrss`` is KiB on Linux)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
