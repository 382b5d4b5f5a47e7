"""The ``deeptgi-train`` command: ``cv``, ``fit``, ``distill`` and ``export``, a thin layer over the library.

User mistakes (:class:`~deeptgi_rt.errors.InputError`) become one line on stderr and exit
code 2. torch and the model are imported only when a subcommand runs.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from deeptgi_rt.cli import require_inputs, run_command
from deeptgi_rt.cli.convert import add_transform_options, transform_option
from deeptgi_rt.errors import InputError

from . import __version__
from .configs import FIT_CROSSFIT, NEGATIVE_CHOICES, GenomeOptions

# --baselines names -> deeptgi_train.baselines.EXPRESSION_BASELINES.
BASELINE_CHOICES = {"gradient-boosting": "hgb", "logistic-regression": "logreg", "pcc": "pcc"}


def _add_data_arguments(parser: argparse.ArgumentParser, crossfit_default: str) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--expr", required=True, help="single-cell expression (Parquet, CSV/TSV, h5ad)")
    data.add_argument("--bulk", help="optional bulk expression, a second modality")
    data.add_argument(
        "--labels",
        required=True,
        help="labelled pairs: CSV/TSV/Parquet with TF and target columns and an optional 0/1 label column",
    )
    data.add_argument(
        "--layout",
        default="auto",
        choices=("auto", "genes-by-cells", "cells-by-genes"),
        help="layout of --expr (default: auto)",
    )
    data.add_argument(
        "--bulk-layout",
        default="auto",
        choices=("auto", "genes-by-cells", "cells-by-genes"),
        help="layout of --bulk (default: auto)",
    )
    add_transform_options(data, what="--expr")
    add_transform_options(data, prefix="bulk-", what="--bulk")
    data.add_argument(
        "--layer",
        metavar="NAME",
        help="h5ad/zarr --expr: read layers/NAME instead of X (read a chunk of cells at a time, "
        "as deeptgi-rt score --layer does)",
    )
    data.add_argument("--case-insensitive", action="store_true", help="match gene names ignoring case")
    data.add_argument("--feature-genes", metavar="FILE", help="feature gene list (default: every gene of --expr)")
    data.add_argument("--tfs", metavar="FILE", help="use only pairs whose TF is in this list")
    training = parser.add_argument_group("training")
    training.add_argument(
        "--config", default="lite", choices=("lite", "paper", "tiny"), help="model size (default: lite)"
    )
    training.add_argument("--epochs", type=int, help="maximum epochs (default: the config's)")
    training.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    training.add_argument(
        "--threads",
        default="auto",
        metavar="N|auto",
        help="threads for torch, numba and BLAS (default auto: the usable cores, "
        "capped by OMP_NUM_THREADS and the like when set)",
    )
    training.add_argument(
        "--crossfit",
        type=int,
        metavar="K",
        help="train K networks, each on K-1 of K parts of the training pairs (cut by the validation protocol) "
        "and early-stopped on the last, averaged in one model; their out-of-fold scores give the "
        "threshold and the genome-wide check; 1 = one network with a --validation-fraction part "
        f"(default: {crossfit_default}; docs/training.md); training and scoring cost grow K-fold",
    )
    advanced = parser.add_argument_group(
        "advanced (the defaults rank the genome best on mdc and mhsc-e validation TFs; "
        "docs/training.md has each option's measured effect)"
    )
    advanced.add_argument(
        "--negatives",
        default="genome",
        choices=NEGATIVE_CHOICES,
        help="genome (default): fit the positives against unlabelled TF x gene pairs of the data, drawn "
        "anew each epoch, the file's negatives among them; file: the file's labels alone (the DeepTGI "
        "paper's way, and this tool's before; 'none' is its old name): a label list whose negatives sit on "
        "a few targets then teaches which genes are labelled non-targets; balanced / all: add per-TF "
        "non-edges to the file; degree-matched: replace the fitted negatives by non-edges whose targets "
        "occur as often as among the edges",
    )
    advanced.add_argument(
        "--pair-features",
        choices=("pcc", "none"),
        help="pcc: the head also reads the pair's own correlation (its Fisher z and |z|), computed by "
        "deeptgi-rt when scoring (lite's default: genome-wide AUROC +0.02 on validation, docs/training.md); "
        "none: the two genes' feature rows only, as published (default: the config's)",
    )
    advanced.add_argument(
        "--unlabelled-ratio",
        type=float,
        metavar="R",
        help="with --negatives genome: unlabelled pairs drawn per positive each epoch "
        f"(default: {GenomeOptions().ratio:g})",
    )
    advanced.add_argument(
        "--members",
        type=int,
        help="networks trained side by side on the same split and averaged (default: 1); not with --crossfit",
    )
    prior = advanced.add_mutually_exclusive_group()
    prior.add_argument(
        "--prior-offset",
        dest="prior_offset",
        action="store_true",
        default=False,
        help="train on the residual of the label-only target prior; the model carries the per-target "
        "table (with --negatives file only; behind the default genome-wide)",
    )
    prior.add_argument("--no-prior-offset", dest="prior_offset", action="store_false", help=argparse.SUPPRESS)
    advanced.add_argument(
        "--tf-contrast",
        type=float,
        metavar="W",
        help="add W x a within-target contrast to the loss (each positive against a decoy TF of the same "
        "target; default 0: off)",
    )
    advanced.add_argument(
        "--swap-augment",
        action="store_true",
        help="also train on (target, TF) copies of the training pairs (erases direction; with --negatives file only)",
    )
    advanced.add_argument(
        "--validation-fraction",
        type=float,
        default=0.15,
        help="share of the training pairs held out when one network trains (default: 0.15)",
    )
    advanced.add_argument("--batch-size", type=int, help="pairs per step (default: the config's)")
    advanced.add_argument("--lr", type=float, help="learning rate (default: the config's)")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars or info lines (warnings still shown)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``deeptgi-train`` argument parser."""
    parser = argparse.ArgumentParser(prog="deeptgi-train", description="Train and validate DeepTGI models.")
    parser.add_argument("--version", action="version", version=f"deeptgi-train {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True

    cv = subparsers.add_parser(
        "cv",
        help="k-fold cross-validation with a metrics report",
        description="k-fold cross-validation: per-fold and mean ± sd metrics.",
    )
    _add_data_arguments(
        cv, "5 with --split tf or gene, whose validation parts are a few whole TFs or targets; 1 with --split random"
    )
    cv.add_argument(
        "--split",
        default="random",
        choices=("random", "tf", "gene"),
        help="random: stratified over pairs; tf: no test TF in training; gene: no test target in training",
    )
    cv.add_argument("--folds", type=int, default=5, help="number of folds (default: 5)")
    cv.add_argument(
        "--report", metavar="DIR", help="write metrics.json, metrics.csv, predictions.csv, roc.png, pr.png here"
    )
    cv.add_argument(
        "--baselines",
        nargs="+",
        default=["gradient-boosting"],
        choices=[*BASELINE_CHOICES, "none"],
        help="expression baselines fitted on the same folds and inputs beside the model "
        "(default: gradient-boosting; none skips them)",
    )
    cv.set_defaults(run=run_cv)

    fit = subparsers.add_parser(
        "fit",
        help="train on all labelled pairs and export an ONNX model",
        description="Train on all labelled pairs (a validation part picks the epoch and "
        "the threshold) and export a verified ONNX model.",
    )
    _add_data_arguments(fit, f"{FIT_CROSSFIT}; 1 with --negatives file, balanced, all or degree-matched, as before")
    fit.add_argument(
        "--validation-split",
        "--split",
        dest="split",
        choices=("random", "tf", "gene"),
        help="how held-out pairs are cut off (the cross-fitting parts, or one network's validation part): "
        "whole TFs, so the genome-wide check ranks TFs the model never saw against every gene; random "
        "pairs; or whole targets; recorded in the model (default: tf; random with --negatives file, "
        "balanced, all or degree-matched, as before)",
    )
    fit.add_argument("--out", required=True, help="output ONNX model")
    fit.add_argument("--checkpoint", help="also save a PyTorch checkpoint here")
    fit.set_defaults(run=run_fit)

    distill = subparsers.add_parser(
        "distill",
        help="train a cheap student on a model's scores of every TF x gene pair of the data",
        description="Distillation: the teacher model scores the TF x gene pairs of the expression "
        "(no labels), a student learns its logits (MSE) and is exported with the teacher's threshold, "
        "density and calibration (docs/training.md, Distillation).",
    )
    distill.add_argument("--teacher", required=True, help="the DeepTGI ONNX model to learn from")
    distill.add_argument("--expr", required=True, help="single-cell expression (Parquet, CSV/TSV, h5ad)")
    distill.add_argument("--bulk", help="bulk expression, for a two-modality teacher")
    distill.add_argument("--out", required=True, help="output ONNX model (the student)")
    distill.add_argument(
        "--student",
        default="compact",
        choices=("lite", "compact"),
        help="compact (default): per-entity vectors and a bilinear pair head the runtime computes as a "
        "matrix product; lite: one lite network",
    )
    distill.add_argument("--epochs", type=int, default=60, help="maximum epochs (default: 60)")
    distill.add_argument(
        "--max-pairs",
        type=int,
        default=2_000_000,
        metavar="N",
        help="pairs the teacher labels at most; beyond, a sample with every TF and every gene (default: 2,000,000)",
    )
    distill.add_argument(
        "--no-pseudo-tfs",
        dest="pseudo_tfs",
        action="store_false",
        help="label only the teacher's TFs x genes (default: also other genes of the data as TFs, within "
        "--max-pairs, so that the student's TF encoder sees more than the few labelled TFs)",
    )
    distill.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    distill.add_argument("--threads", default="auto", metavar="N|auto", help="threads (default: the usable cores)")
    distill.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars or info lines (warnings still shown)"
    )
    distill.set_defaults(run=run_distill)

    export = subparsers.add_parser("export", help="re-export a saved checkpoint as ONNX")
    export.add_argument("checkpoint", help="checkpoint written by fit --checkpoint")
    export.add_argument("--out", required=True, help="output ONNX model")
    export.add_argument("-q", "--quiet", action="store_true", help="no info lines")
    export.set_defaults(run=run_export)
    return parser


def _check_load_options(args) -> None:
    """The data options' values, checked before anything is read or imported."""
    if not 0.0 < args.validation_fraction < 0.5:
        raise InputError(f"--validation-fraction {args.validation_fraction}: must be in (0, 0.5)")
    if args.unlabelled_ratio is not None and not args.unlabelled_ratio > 0:
        raise InputError(f"--unlabelled-ratio {args.unlabelled_ratio:g}: must be > 0")
    if args.unlabelled_ratio is not None and args.negatives != "genome":
        raise InputError(f"--unlabelled-ratio with --negatives {args.negatives}: only genome negatives are drawn")


def _load(args, reporter):
    from .data import load_training_set

    _check_load_options(args)
    return load_training_set(
        args.expr,
        args.labels,
        bulk=args.bulk,
        layout=args.layout,
        bulk_layout=args.bulk_layout,
        transform=transform_option(args.log1p, args.normalize),
        bulk_transform=transform_option(args.bulk_log1p, args.bulk_normalize),
        feature_genes_file=args.feature_genes,
        tfs_file=args.tfs,
        negatives=args.negatives,
        case_insensitive=args.case_insensitive,
        seed=args.seed,
        reporter=reporter,
        layer=args.layer,
    )


def _limit_threads(threads: int) -> None:
    """Limit numba's and BLAS's pools before the PCC features are computed (imports numba)."""
    from deeptgi_rt.threads import limit_threads

    limit_threads(threads)


def _configs(args, *, limit: bool = True):
    """``(model config, train config)`` from the options, checked; with ``limit`` the process's
    thread pools (numba, BLAS) are then limited to ``train.threads``, which imports numba: the
    commands pass ``limit=False`` and limit once their data files are known to exist."""
    from deeptgi_rt.threads import limit_threads, resolve_threads

    from .configs import check_training_options, model_config, train_config, with_epochs

    threads = resolve_threads(args.threads)
    train = train_config(
        args.config,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        threads=threads,
        swap_augment=args.swap_augment,
        tf_contrast=args.tf_contrast,
    )
    if args.epochs is not None and args.epochs < 1:
        raise InputError(f"--epochs {args.epochs}: need at least 1 epoch")
    if args.members is not None and args.members < 1:
        raise InputError(f"--members {args.members}: need at least 1 network")
    overrides: dict = {"members": args.members} if args.members is not None else {}
    if args.pair_features is not None:
        overrides["pair_features"] = () if args.pair_features == "none" else (args.pair_features,)
    model = model_config(args.config, **overrides)
    check_training_options(
        crossfit=1 if _crossfit(args) is None else _crossfit(args),
        members=model.members,
        degree_matched=args.negatives == "degree-matched",
        prior_offset=args.prior_offset,
        swap_augment=args.swap_augment,
        tf_contrast=train.tf_contrast,
        genome=args.negatives == "genome",
    )
    if limit:
        limit_threads(threads)  # before the PCC features are computed (numba, BLAS)
    return model, with_epochs(train, args.epochs)


def _genome(args) -> GenomeOptions | None:
    """The genome negatives' options (``None`` unless ``--negatives genome``)."""
    if args.negatives != "genome":
        return None
    return GenomeOptions() if args.unlabelled_ratio is None else GenomeOptions(ratio=args.unlabelled_ratio)


def _crossfit(args) -> int | None:
    """``--crossfit``'s member count. For ``fit`` when not given: :data:`~deeptgi_train.fit.FIT_CROSSFIT`
    with genome negatives, one network with the older ones (as before). For ``cv`` ``None`` lets
    :func:`deeptgi_train.cv.default_crossfit` choose."""
    if args.crossfit is not None:
        return args.crossfit
    if args.command == "fit":
        # --members N trains side-by-side networks on one split, which cross-fitting does not combine with.
        side_by_side = args.members is not None and args.members > 1
        return FIT_CROSSFIT if args.negatives == "genome" and not side_by_side else 1
    return None


def _labelled_groups(training, protocol: str) -> int:
    """Distinct TFs (``tf``) or targets (``gene``) among the labelled pairs."""
    dataset = training.dataset
    names = dataset.pair_tfs() if protocol == "tf" else dataset.pair_targets()
    return len(set(names[dataset.is_labelled()]))


def _fit_protocol(args) -> str:
    """``fit``'s validation protocol: ``--validation-split``, else ``tf`` for genome negatives
    (the genome-wide check is about TFs the model never saw) and ``random`` otherwise."""
    if args.split is not None:
        return args.split
    return "tf" if args.negatives == "genome" else "random"


def _require_data_files(args) -> None:
    """A missing data file fails first, before torch, polars and numba are imported (seconds)."""
    require_inputs(
        (args.expr, "file"),
        (args.bulk, "file"),
        (args.labels, "label file"),
        (args.feature_genes, "gene list"),
        (args.tfs, "gene list"),
    )


def run_cv(args) -> int:
    """``deeptgi-train cv``."""
    from deeptgi_rt.progress import make_reporter

    # The options first, then a missing file, both before torch, polars and numba are imported.
    _check_load_options(args)
    model, train = _configs(args, limit=False)
    _require_data_files(args)
    _limit_threads(train.threads)
    from .cv import default_crossfit
    from .cv import run_cv as cross_validate
    from .report import prepare_report_dir, print_table, write_report

    reporter = make_reporter(args.quiet)
    if args.report:
        prepare_report_dir(args.report)
    training = _load(args, reporter)
    if "none" in args.baselines and len(args.baselines) > 1:
        raise InputError("--baselines none: give it alone")
    baselines = tuple(BASELINE_CHOICES[name] for name in args.baselines if name != "none")
    crossfit = default_crossfit(args.split, degree_matched=args.negatives == "degree-matched", members=model.members)
    if args.crossfit is None and crossfit > 1:
        # The default that multiplies the run's time: say so, and what the faster choice costs.
        reporter.info(
            f"--split {args.split}: {crossfit} cross-fitted networks per fold by default "
            f"({args.folds * crossfit} in all), about {crossfit}x the time of one network per fold; each fold's "
            f"line gives the time left. --crossfit 1 trains one network per fold, about {crossfit}x faster, "
            "its epoch and threshold chosen on a smaller validation part"
        )
    result = cross_validate(
        training.dataset,
        model,
        train,
        protocol=args.split,
        folds=args.folds,
        seed=args.seed,
        validation_fraction=args.validation_fraction,
        crossfit=args.crossfit,
        degree_matched=args.negatives == "degree-matched",
        prior_offset=args.prior_offset,
        baselines=baselines,
        reporter=reporter,
        genome=_genome(args),
    )
    result.settings["data"] = {"expr": args.expr, "bulk": args.bulk, "labels": args.labels, "negatives": args.negatives}
    print_table(result)
    if args.report:
        paths = write_report(result, args.report)
        reporter.info("wrote " + ", ".join(str(path) for path in paths))
    return 0


def run_fit(args) -> int:
    """``deeptgi-train fit``."""
    from deeptgi_rt.atomic import check_output_path
    from deeptgi_rt.progress import make_reporter

    reporter = make_reporter(args.quiet)
    check_output_path(args.out)
    if args.checkpoint:
        check_output_path(args.checkpoint)
    _check_load_options(args)
    model, train = _configs(args, limit=False)
    _require_data_files(args)
    _limit_threads(train.threads)
    from .export import with_training_data
    from .fit import export_fitted, fit_model, model_metadata

    training = _load(args, reporter)
    crossfit = _crossfit(args)
    if args.crossfit is None and crossfit > 1 and _fit_protocol(args) != "random":
        # The default holds out whole TFs (targets): a small label list has fewer of them than parts.
        groups = _labelled_groups(training, _fit_protocol(args))
        if 2 <= groups < crossfit:
            reporter.info(
                f"{groups} labelled {'TFs' if _fit_protocol(args) == 'tf' else 'targets'}: "
                f"{groups} cross-fitted members"
            )
            crossfit = groups
    result = fit_model(
        training,
        model,
        train,
        protocol=_fit_protocol(args),
        validation_fraction=args.validation_fraction,
        crossfit=crossfit,
        degree_matched=args.negatives == "degree-matched",
        prior_offset=args.prior_offset,
        reporter=reporter,
        genome=_genome(args),
    )
    command = "deeptgi-train " + " ".join(shlex.quote(arg) for arg in args.argv)
    metadata = model_metadata(
        training,
        result,
        model,
        train,
        protocol=_fit_protocol(args),
        negatives=args.negatives,
        prior_offset=args.prior_offset,
        files={"expr": args.expr, "bulk": args.bulk, "labels": args.labels},
        command=command,
    )
    metadata = with_training_data(metadata, training, result)
    report = export_fitted(training, result, metadata, args.out, checkpoint=args.checkpoint)
    v = result.validation
    reporter.info(
        f"validation ({len(result.validation_idx):,} pairs, {_fit_protocol(args)} protocol"
        f"{', out-of-fold' if crossfit > 1 else ''}): "
        f"AUROC {v['auroc']:.3f}, AUPR {v['aupr']:.3f}, "
        f"threshold {result.threshold:.3f} (ACC {v['acc']:.3f}, F1 {v['f1']:.3f}); best epoch "
        f"{result.trained.best_epoch}"
    )
    if result.genome_check is not None:
        from deeptgi_rt.evaluation_report import describe_genome_check

        line = describe_genome_check(result.genome_check)
        (reporter.info if result.genome_check["beats_pcc"] else reporter.warn)(line)
    calibration = metadata.calibration
    reporter.info(
        f"calibration: Platt slope {calibration['slope']:.3g}, intercept {calibration['intercept']:.3g} "
        f"on the {calibration['source']} scores"
        if calibration
        else "calibration: none stored (the held-out scores rank the labels no better than chance)"
    )
    reporter.info(
        f"wrote {args.out} (ONNX vs PyTorch max |diff| {report['max_abs_diff']:.2g})"
        + (f" and {args.checkpoint}" if args.checkpoint else "")
    )
    return 0


def run_distill(args) -> int:
    """``deeptgi-train distill``."""
    from deeptgi_rt.atomic import check_output_path
    from deeptgi_rt.model import ScoringModel
    from deeptgi_rt.progress import make_reporter
    from deeptgi_rt.threads import limit_threads, resolve_threads

    from . import distill

    reporter = make_reporter(args.quiet)
    check_output_path(args.out)
    if args.epochs < 1:
        raise InputError(f"--epochs {args.epochs}: need at least 1 epoch")
    if args.max_pairs < 2:
        raise InputError(f"--max-pairs {args.max_pairs}: need at least 2 pairs")
    threads = resolve_threads(args.threads)
    limit_threads(threads)
    teacher = ScoringModel(args.teacher, device="cpu", threads=threads, reporter=reporter)
    expressions = distill.read_modalities(teacher, args.expr, args.bulk)
    labels = distill.teacher_labels(
        teacher, expressions, cap=args.max_pairs, seed=args.seed, pseudo_tfs=args.pseudo_tfs, reporter=reporter
    )
    reporter.info(
        f"teacher {args.teacher}: {len(labels.logits):,} pairs of {labels.n_model_tfs} TFs and "
        f"{len(labels.tf_names) - labels.n_model_tfs} pseudo-TFs x {len(labels.gene_names)} genes"
        f"{' (stratified sample)' if labels.sampled else ''}"
    )
    result = distill.train_student(
        labels,
        args.student,
        epochs=args.epochs,
        seed=args.seed,
        threads=threads,
        threshold=float(teacher.metadata.threshold),
        reporter=reporter,
    )
    command = "deeptgi-train " + " ".join(shlex.quote(arg) for arg in args.argv)
    metadata = distill.student_metadata(
        teacher, result, labels, command=command, files={"expr": args.expr, "bulk": args.bulk}
    )
    report = distill.export_student(result, metadata, labels, args.out)
    reporter.info(distill.describe(result))
    reporter.info(
        f"wrote {args.out} (ONNX vs PyTorch max |diff| {report['max_abs_diff']:.2g}, "
        f"runtime vs PyTorch {report['runtime_max_abs_diff']:.2g})"
    )
    return 0


def run_export(args) -> int:
    """``deeptgi-train export``."""
    from deeptgi_rt.atomic import check_output_path
    from deeptgi_rt.progress import make_reporter

    reporter = make_reporter(args.quiet)
    check_output_path(args.out)
    require_inputs((args.checkpoint, "checkpoint file"))  # before torch is imported
    from .export import export_onnx, load_checkpoint

    model, metadata = load_checkpoint(args.checkpoint)
    if metadata is None:
        raise InputError(
            f"{args.checkpoint}: checkpoint has no model metadata (feature genes, threshold); "
            "re-create it with deeptgi-train fit --checkpoint"
        )
    report = export_onnx(model, metadata, args.out)
    reporter.info(f"wrote {args.out} (ONNX vs PyTorch max |diff| {report['max_abs_diff']:.2g})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``deeptgi-train``; returns the process exit code.

    User mistakes (:class:`InputError`) become one line on stderr and exit code 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    # Recorded in the model's training summary so the file says how it was made.
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return run_command("deeptgi-train", args)
    except RuntimeError as exc:
        from .export import ExportError

        if not isinstance(exc, ExportError):
            raise
        # Not the user's mistake, but not a crash either: the check refused to write a model
        # that would score differently from the one trained.
        print(f"deeptgi-train: export refused: {exc}", file=sys.stderr)
        return 1
