// Score a genome with Nextflow: one task per TF shard, then one merge.
//   nextflow run runtime/main.nf --expr examples/mdc.parquet --model deeptgi_rt/models/mdc-lite.onnx \
//       --tfs examples/mdc-tfs.csv --shards 4 --out mdc-grn.parquet
params.shards = 4
params.out = "grn.parquet"

process SPLIT {
    input: path tfs
    output: path "shards/shard-*.txt"
    script: "python ${projectDir}/shards.py split ${tfs} ${params.shards} shards"
}

process SCORE {
    cpus 2
    input: tuple path(expr), path(model), path(shard)
    output: path "grn-${shard.baseName}.parquet"
    script: "deeptgi-rt score ${expr} --model ${model} --tfs ${shard} --out grn-${shard.baseName}.parquet --quiet"
}

process MERGE {
    publishDir ".", mode: "copy"
    input: path parts
    output: path params.out
    script: "python ${projectDir}/shards.py merge ${params.out} ${parts}"
}

workflow {
    shards = SPLIT(Channel.fromPath(params.tfs)).flatten()
    jobs = shards.map { shard -> tuple(file(params.expr), file(params.model), shard) }
    MERGE(SCORE(jobs).collect())
}
