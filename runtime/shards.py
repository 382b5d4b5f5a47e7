"""Scatter-gather for scoring one genome on many machines.

Split the TF list into shards (``split``), score each shard anywhere with
``deeptgi-rt score ... --tfs shard-K.txt`` (every pair's score depends only on its TF and
gene, so shards are independent), then merge the shard outputs into one ranked edge list
(``merge``). The workflow files beside this one (``Snakefile``, ``main.nf``) wire the three
steps together; this script is what they call.

    python runtime/shards.py split TFS.txt 8 shards/
    python runtime/shards.py merge grn.parquet shards/grn-*.parquet
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def split_tfs(tfs: Sequence[str], n_shards: int) -> list[list[str]]:
    """Deal ``tfs`` round-robin into ``n_shards`` lists of near-equal size (no empty shard
    unless there are fewer TFs than shards, in which case there are ``len(tfs)`` shards)."""
    if n_shards < 1:
        raise ValueError("the number of shards must be at least 1")
    n_shards = min(n_shards, max(len(tfs), 1))
    return [list(tfs[k::n_shards]) for k in range(n_shards)]


def shard_count(tfs_file: str | Path, n_shards: int) -> int:
    """How many shard files ``split`` writes for ``tfs_file``: ``n_shards``, or fewer when the
    file lists fewer TFs. Workflow files declare their jobs with it, so a request for more
    shards than TFs means fewer jobs rather than outputs that never appear."""
    from deeptgi_rt.genes import read_gene_list

    return len(split_tfs(read_gene_list(tfs_file), n_shards))


def merge_edge_lists(paths: Sequence[str | Path], out: str | Path) -> int:
    """Concatenate shard edge lists (Parquet, columns TF, target, score) into one file ranked
    by descending score (ties by TF, then target); returns the number of edges.

    ``out`` is written in the format its name asks for, as ``deeptgi-rt score`` does: the
    ``TF<TAB>target<TAB>importance`` adjacency table for ``.tsv``/``.txt``/``.tab``, else
    Parquet (TF, target, score float32). The merge is a polars streaming sort, so it needs
    memory for the sort keys, not for every shard at once; the output appears at ``out``
    only when complete.
    """
    import polars as pl

    from deeptgi_rt.atomic import atomic_output
    from deeptgi_rt.cli.score import output_format
    from deeptgi_rt.edges import iter_parquet_edges, write_tsv

    frames = [pl.scan_parquet(path) for path in paths]
    merged = (
        pl.concat(frames, how="vertical_relaxed")
        .select(pl.col("TF", "target").cast(pl.String), pl.col("score").cast(pl.Float32))
        .sort(["score", "TF", "target"], descending=[True, False, False])
    )
    with atomic_output(out) as tmp:
        if output_format(str(out), None) == "parquet":
            merged.sink_parquet(tmp)
            return pl.scan_parquet(tmp).select(pl.len()).collect().item()
        # The sorted edges stream through a Parquet spool into the TSV, in bounded memory.
        spool = tmp.with_name(tmp.name + ".spool")
        try:
            merged.sink_parquet(spool)
            return write_tsv(iter_parquet_edges(spool), tmp)
        finally:
            spool.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """``split`` and ``merge`` subcommands; see the module docstring."""
    parser = argparse.ArgumentParser(prog="shards.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    split = commands.add_parser("split", help="write shard-K.txt TF lists")
    split.add_argument("tfs", help="TF list, one per line")
    split.add_argument("n_shards", type=int)
    split.add_argument("out_dir")
    merge = commands.add_parser("merge", help="merge shard edge lists into one ranked file (Parquet, or TSV for .tsv)")
    merge.add_argument("out")
    merge.add_argument("parts", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "split":
        from deeptgi_rt.genes import read_gene_list

        out_dir = Path(args.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        shards = split_tfs(read_gene_list(args.tfs), args.n_shards)
        for k, shard in enumerate(shards):
            (out_dir / f"shard-{k}.txt").write_text("".join(f"{tf}\n" for tf in shard))
        print(f"wrote {len(shards)} shards to {out_dir}", file=sys.stderr)
    else:
        n = merge_edge_lists(args.parts, args.out)
        print(f"wrote {args.out}: {n} edges", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
