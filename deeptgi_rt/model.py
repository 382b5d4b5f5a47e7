"""Loading a DeepTGI ``.onnx`` file and cutting it into entity encoders and a pair head.

The contract (``docs/model-contract.md``) names two intermediate tensors, the TF state and the
gene state. Cutting the graph at them with ``onnx.utils.Extractor`` gives three graphs:

* TF encoder: ``tf_features [n, modalities, feature_genes] -> tf state [n, ...]``;
* gene encoder: ``gene_features -> gene state``;
* pair head: ``(tf state, gene state) -> score [n]``, or ``(tf state, gene state, pair
  features) -> score [n]`` for a model whose metadata lists ``pair_features`` (the pair's own
  statistics, computed by the runtime: :func:`deeptgi_rt.features.pair_feature_table`).

The encoders run once per entity and the head once per pair. A model without state tensors
(or whose head turns out to need the raw inputs) is scored end to end with the whole graph.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .bilinear_head import bilinear_head
from .catalog import resolve_model
from .contract import GENE_INPUT, PAIR_INPUT, SCORE_OUTPUT, TF_INPUT, ModelMetadata
from .devices import CPU_PROVIDER, create_session, select_providers
from .errors import InputError, require_file
from .progress import Reporter

if TYPE_CHECKING:
    from onnx import ModelProto

# Entities per encoder run: bounds the encoder's intermediate activations.
ENCODER_BATCH = 4096
# Most pairs the plan's probe of the pair step times in one batch (the run's batch size if smaller):
# the cost per pair grows with the batch (the shipped mhsc-e-lite: 11 us at 1,024, 16 us at
# 8,192 pairs), so the probe's batch is near the run's.
PROBE_PAIRS = 4096


@dataclass
class ModelParts:
    """The graphs scoring runs.

    Attributes:
        full: the whole model.
        tf_encoder, gene_encoder, pair_head: the three cut graphs, or ``None`` when the model
            is scored end to end.
        reason: why the model is scored end to end (``None`` when factorized).
    """

    full: ModelProto
    tf_encoder: ModelProto | None = None
    gene_encoder: ModelProto | None = None
    pair_head: ModelProto | None = None
    reason: str | None = None

    @property
    def factorized(self) -> bool:
        return self.pair_head is not None


def read_model(path) -> tuple[ModelProto, ModelMetadata]:
    """Read an ONNX file (or a shipped model by name, :mod:`deeptgi_rt.catalog`) and its DeepTGI metadata.

    Returns:
        ``(onnx.ModelProto, ModelMetadata)``.

    Raises:
        InputError: the file is missing, is not ONNX, lacks DeepTGI metadata, or lacks the
            contract's inputs and output.
    """
    import onnx

    file = require_file(resolve_model(path), what="model file", expected="an ONNX model")
    source = str(file)
    try:
        model = onnx.load(str(file))
    except Exception as exc:  # protobuf raises several unrelated types on garbage input
        raise InputError(f"{source}: not an ONNX model ({type(exc).__name__})") from None
    # Short text files can decode as a protobuf with only unknown fields.
    if not model.graph.node or not model.opset_import:
        raise InputError(f"{source}: not an ONNX model (no graph)")
    props = {prop.key: prop.value for prop in model.metadata_props}
    metadata = ModelMetadata.from_props(props, source)
    inputs = {value.name: value for value in model.graph.input}
    outputs = {value.name for value in model.graph.output}
    for name in (TF_INPUT, GENE_INPUT):
        if name not in inputs:
            raise InputError(f"{source}: model has no input {name!r} (inputs: {', '.join(inputs) or 'none'})")
        _check_input_shape(inputs[name], metadata, source)
    if metadata.pair_features and PAIR_INPUT not in inputs:
        raise InputError(
            f"{source}: metadata lists pair_features {metadata.pair_features} but the model has no input {PAIR_INPUT!r}"
        )
    if SCORE_OUTPUT not in outputs:
        raise InputError(f"{source}: model has no output {SCORE_OUTPUT!r}")
    return model, metadata


def _check_input_shape(value, metadata: ModelMetadata, source: str) -> None:
    dims = value.type.tensor_type.shape.dim
    expected = (len(metadata.modalities), len(metadata.feature_genes))
    if len(dims) != 3:
        return
    for dim, want, label in zip(dims[1:], expected, ("modalities", "feature genes")):
        if dim.HasField("dim_value") and dim.dim_value != want:
            raise InputError(f"{source}: input {value.name} has {dim.dim_value} {label} but the metadata lists {want}")


def split_model(model, metadata: ModelMetadata, source: str = "<model>") -> ModelParts:
    """Cut ``model`` at the metadata's state tensors into encoders and a pair head.

    Returns a :class:`ModelParts` whose ``reason`` says why it is not factorized, if it is not.
    Raises :class:`InputError` when the metadata names a state tensor the graph lacks.
    """
    import onnx
    import onnx.shape_inference
    from onnx import TensorProto, helper
    from onnx.utils import Extractor

    if metadata.state_tensors is None:
        return ModelParts(full=model, reason="the model has no state_tensors metadata")
    tf_state, gene_state = metadata.state_tensors["tf"], metadata.state_tensors["gene"]
    produced = {name for node in model.graph.node for name in node.output}
    for name in (tf_state, gene_state):
        if name not in produced:
            raise InputError(f"{source}: metadata names state tensor {name!r} but the graph has no such tensor")
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # shape inference is only a help for the cut; a type-only value info will do
        inferred = onnx.ModelProto()
        inferred.CopyFrom(model)
    known = {value.name for value in inferred.graph.value_info}
    for name in (tf_state, gene_state):
        if name not in known:
            inferred.graph.value_info.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    extractor = Extractor(inferred)
    parts = {
        "TF encoder": extractor.extract_model([TF_INPUT], [tf_state]),
        "gene encoder": extractor.extract_model([GENE_INPUT], [gene_state]),
        "pair head": extractor.extract_model(head_inputs(metadata), [SCORE_OUTPUT]),
    }
    for label, part in parts.items():
        outside = _unbound_inputs(part)
        if outside:
            return ModelParts(
                full=model, reason=f"its {label} needs {', '.join(sorted(outside))} besides the state tensors"
            )
    return ModelParts(
        full=model,
        tf_encoder=parts["TF encoder"],
        gene_encoder=parts["gene encoder"],
        pair_head=parts["pair head"],
    )


def head_inputs(metadata: ModelMetadata) -> list[str]:
    """The pair head's input names in feed order: the two state tensors, then the pair
    features when the model has them."""
    if metadata.state_tensors is None:
        raise ValueError("head_inputs needs a model with state_tensors")
    names = [metadata.state_tensors["tf"], metadata.state_tensors["gene"]]
    return [*names, PAIR_INPUT] if metadata.pair_features else names


def _unbound_inputs(part) -> set[str]:
    """Tensor names a cut graph reads but neither computes, holds, nor takes as input."""
    bound = {value.name for value in part.graph.input} | {init.name for init in part.graph.initializer}
    bound.add("")
    for node in part.graph.node:
        bound.update(node.output)
    needed = {name for node in part.graph.node for name in node.input}
    return needed - bound


class ScoringModel:
    """A DeepTGI model ready to score: onnxruntime sessions for its encoders and pair head.

    Attributes:
        path: the model file.
        metadata: its :class:`ModelMetadata`.
        providers: the execution providers in use.
        factorized: whether scoring uses the encoder/head cut.
        reason: why not, when not.
        pair_feature_kinds: the per-pair statistics the model reads (metadata ``pair_features``),
            empty for a model without them.
        bilinear: the numpy head of a model whose metadata ``head`` is ``bilinear`` (scored as a
            GEMM, :mod:`deeptgi_rt.bilinear_head`), else ``None``.
    """

    def __init__(self, path, *, device: str = "auto", threads: int | None = None, reporter: Reporter | None = None):
        reporter = reporter or Reporter()
        self.path = str(resolve_model(path))
        model, self.metadata = read_model(self.path)
        parts = split_model(model, self.metadata, self.path)
        self.factorized = parts.factorized
        self.reason = parts.reason
        self.pair_feature_kinds = tuple(self.metadata.pair_features or ())
        self._threads = threads
        self._pair_cost: tuple[int, float] | None = None  # (batch, seconds per pair)
        self._full_bytes = model.SerializeToString()
        head = parts.pair_head if parts.factorized else None
        probe = head.SerializeToString() if head is not None else self._full_bytes
        self.providers = select_providers(probe, device, threads, reporter)
        self._full: PairRunner | None = None
        # A bilinear head (metadata head.kind) is computed in numpy as a GEMM; its ONNX pair
        # head computes the same per pair and is what runtimes without the kind run.
        self.bilinear = bilinear_head(self.metadata, self.path) if head is not None else None
        if head is not None:
            assert parts.tf_encoder is not None and parts.gene_encoder is not None  # cut in three
            self._tf_encoder = self._session(parts.tf_encoder.SerializeToString())
            self._gene_encoder = self._session(parts.gene_encoder.SerializeToString())
            if self.bilinear is None:
                self._head = PairRunner(probe, self.providers, threads)
            else:
                width = self._tf_encoder.get_outputs()[0].shape[-1]
                if isinstance(width, int):
                    self.bilinear.check_state(width, self.path)
            self._head_inputs = head_inputs(self.metadata)
        else:
            reporter.info(f"{self.path}: scoring end to end, without the encoder/head cut: {self.reason}")

    def _session(self, model_bytes: bytes):
        return create_session(model_bytes, self.providers, self._threads)

    @property
    def full_runner(self) -> PairRunner:
        """The whole graph, run like the pair head (created on first use)."""
        if self._full is None:
            self._full = PairRunner(self._full_bytes, self.providers, self._threads)
        return self._full

    def tf_table(self, tf_features: np.ndarray) -> np.ndarray:
        """What the pair step gathers per TF: float32 TF states ``[n, ...]`` (the features
        themselves ``[n, modalities, feature_genes]`` when scoring end to end)."""
        if not self.factorized:
            return np.ascontiguousarray(tf_features, dtype=np.float32)
        return _run_batched(self._tf_encoder, TF_INPUT, tf_features)

    def gene_table(self, gene_features: np.ndarray) -> np.ndarray:
        """As :meth:`tf_table` for target genes."""
        if not self.factorized:
            return np.ascontiguousarray(gene_features, dtype=np.float32)
        return _run_batched(self._gene_encoder, GENE_INPUT, gene_features)

    def pair_seconds(self, batch_size: int = PROBE_PAIRS) -> float:
        """Seconds per pair of the pair step on this machine: the rows broadcast into the batch
        buffers and the head (or whole graph) run, as :func:`~deeptgi_rt.scoring.score_tf_rows`
        does, on one batch of ``min(batch_size, PROBE_PAIRS)`` pairs of zero features after a
        warm-up batch of as many. On the CPU the batch runs in one single-threaded session in the calling
        thread, timed by its CPU time (``time.thread_time``: neither other processes' load nor
        onnxruntime's spinning pool threads count): one thread's cost, as the plan counts. On
        CUDA, wall seconds. Measured once per model and batch size (~130 ms with the shipped
        5-member models, 15 ms with one lite network). The plan's scoring cost per pair,
        whatever the architecture, members and pair features of the model."""
        import time

        from .scoring import score_tf_rows

        n = max(1, min(int(batch_size), PROBE_PAIRS))
        if self._pair_cost is not None and self._pair_cost[0] == n:
            return self._pair_cost[1]
        shape = (1, len(self.metadata.modalities), len(self.metadata.feature_genes))
        tf_table = self.tf_table(np.zeros(shape, np.float32))
        gene_table = np.ascontiguousarray(np.repeat(self.gene_table(np.zeros(shape, np.float32)), n, axis=0))
        pair_table = None
        if self.uses_pair_features:
            pair_table = np.zeros((1, n, shape[1], len(self.pair_feature_kinds)), np.float32)
        if self.providers[0] == CPU_PROVIDER:
            runner = self._head if self.factorized else self.full_runner
            names = (
                self._head_inputs
                if self.factorized
                else [TF_INPUT, GENE_INPUT, PAIR_INPUT][: 2 + bool(pair_table is not None)]
            )
            session = runner._sessions[0]

            def pair_function(*arrays):
                return PairRunner._run_one(session, names, arrays)

            clock = time.thread_time
        else:
            pair_function, clock = self.pair_scores, time.perf_counter

        def run(genes: int) -> None:
            tables = gene_table[:genes], None if pair_table is None else pair_table[:, :genes]
            for _ in score_tf_rows(pair_function, tf_table, tables[0], pair_table=tables[1], batch_size=genes):
                pass

        run(n)  # warm-up: a session's first runs at a new batch size allocate (up to 2x slower)
        started = clock()
        run(n)
        self._pair_cost = (n, (clock() - started) / n)
        return self._pair_cost[1]

    @property
    def uses_pair_features(self) -> bool:
        """Whether every scoring call needs the pairs' own statistics (``pair_rows``)."""
        return bool(self.pair_feature_kinds)

    def pair_scores(
        self, tf_rows: np.ndarray, gene_rows: np.ndarray, pair_rows: np.ndarray | None = None
    ) -> np.ndarray:
        """Scores float32 ``[n]`` of pairs whose :meth:`tf_table` / :meth:`gene_table` rows are
        ``tf_rows`` and ``gene_rows`` (float32, ``[n, ...]`` each, C-contiguous); ``pair_rows``
        float32 ``[n, modalities, len(pair_feature_kinds)]`` for a model with pair features."""
        if not self.factorized:
            return self.end_to_end_scores(tf_rows, gene_rows, pair_rows)
        if self.bilinear is not None:
            return self.bilinear.scores(*self._feeds(tf_rows, gene_rows, pair_rows))
        return self._head.run(self._head_inputs, *self._feeds(tf_rows, gene_rows, pair_rows))

    @property
    def block_scores(self):
        """``(tf_block [b, S], gene_table [genes, S], pair_block [b, genes, modalities, kinds] | None)
        -> float32 [b, genes]`` for a model whose head is computed as a matrix product
        (:class:`~deeptgi_rt.bilinear_head.BilinearHead`), else ``None`` (per-pair head runs)."""
        return None if self.bilinear is None else self.bilinear.block_scores

    def end_to_end_scores(
        self, tf_features: np.ndarray, gene_features: np.ndarray, pair_rows: np.ndarray | None = None
    ) -> np.ndarray:
        """Scores float32 ``[n]`` from the whole graph on per-pair features (float32
        ``[n, modalities, feature_genes]`` each, and ``pair_rows`` as for :meth:`pair_scores`)."""
        names = [TF_INPUT, GENE_INPUT, PAIR_INPUT] if self.uses_pair_features else [TF_INPUT, GENE_INPUT]
        feeds = self._feeds(
            np.ascontiguousarray(tf_features, dtype=np.float32),
            np.ascontiguousarray(gene_features, dtype=np.float32),
            pair_rows,
        )
        return self.full_runner.run(names, *feeds)

    def _feeds(self, tf_rows: np.ndarray, gene_rows: np.ndarray, pair_rows: np.ndarray | None) -> tuple:
        if not self.uses_pair_features:
            return tf_rows, gene_rows
        if pair_rows is None:
            raise ValueError(f"{self.path}: the model reads pair features {self.pair_feature_kinds}; pass pair_rows")
        return tf_rows, gene_rows, np.ascontiguousarray(pair_rows, dtype=np.float32)


class PairRunner:
    """Runs a graph with per-pair inputs and the ``score`` output over a batch of pairs.

    On the CPU it keeps one single-threaded session per core and scores contiguous slices of
    each batch concurrently (onnxruntime releases the GIL while running): the pair graphs are
    many small operators, where one session's intra-op threads spend much of their time
    synchronizing, and measured about twice as slow per pair on two busy cores. On CUDA one
    session takes the whole batch.
    """

    # Below this many pairs per slice, splitting costs more than it gains.
    MIN_SLICE = 1024

    def __init__(self, model_bytes: bytes, providers: list[str], threads: int | None = None):
        from .threads import default_threads

        workers = int(threads or default_threads())
        if providers[0] != CPU_PROVIDER or workers == 1:
            self._sessions = [create_session(model_bytes, providers, threads)]
            self._pool = None
        else:
            self._sessions = [create_session(model_bytes, providers, 1) for _ in range(workers)]
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="deeptgi-pairs")

    def run(self, input_names: list[str], *arrays: np.ndarray) -> np.ndarray:
        """Scores float32 ``[n]`` for the inputs ``arrays`` (``[n, ...]`` each, one per name)."""
        n = len(arrays[0])
        slices = min(len(self._sessions), max(1, n // self.MIN_SLICE))
        if self._pool is None or slices == 1:
            return self._run_one(self._sessions[0], input_names, arrays)
        bounds = np.linspace(0, n, slices + 1).astype(int)
        futures = [
            self._pool.submit(self._run_one, session, input_names, [array[a:b] for array in arrays])
            for session, a, b in zip(self._sessions, bounds[:-1], bounds[1:])
        ]
        return np.concatenate([future.result() for future in futures])

    @staticmethod
    def _run_one(session, input_names, arrays) -> np.ndarray:
        feeds = dict(zip(input_names, arrays, strict=True))
        return session.run([SCORE_OUTPUT], feeds)[0].reshape(-1)


def _run_batched(session, input_name: str, features: np.ndarray) -> np.ndarray:
    """Run a one-input, one-output encoder over ``features`` in row batches; float32 ``[n, ...]``."""
    features = np.ascontiguousarray(features, dtype=np.float32)
    output = session.get_outputs()[0].name
    parts = [
        session.run([output], {input_name: features[start : start + ENCODER_BATCH]})[0]
        for start in range(0, max(len(features), 1), ENCODER_BATCH)
    ]
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
