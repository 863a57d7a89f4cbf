#!/usr/bin/env bash
# The measurements that need an NVIDIA H100, in stages that each fit the lent
# machine's 10-minute command limit (see /work/.library/device/README.md).
# TensorFlow is not installed there: Keras runs on JAX, with keras, namex,
# optree, keras-hub, kagglehub and kagglesdk==0.1.28 carried as wheels in .whl/.
#
#   bash benchmarks/gpu_session.sh throughput   # issue 7, items 1 and 3 (~5 min)
#   bash benchmarks/gpu_session.sh pretrain     # issue 3, item 2: pretraining (~9 min)
#   bash benchmarks/gpu_session.sh finetune     # issue 3: SST-2 with/without, IMDB (~9 min)
#   bash benchmarks/gpu_session.sh bucketing    # issue 7, items 2 and 4 (~6 min)
#
# Data: DATA (default shared/data, a copy of ../shared/data inside the checkout,
# since only a shared/ folder inside the repo travels; IMDB alone is ~50 MB of
# the 64 MiB carry limit). Results go to $OUT (the device tool brings them
# back) or runs/gpu; runs/gpu-gain stays on the warm machine between stages.
set -euo pipefail
stage=${1:?stage: throughput | pretrain | finetune | bucketing}
out=${OUT:-runs/gpu}
data=${DATA:-shared/data}
mkdir -p "$out"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
gain=runs/gpu-gain  # carry this path between stages (tokenizer + pretrained dir)

case "$stage" in
  throughput)
    python3 benchmarks/train_throughput.py --preset base --batch 128 --length 128 \
      --precision mixed_bfloat16 --steps 30 --peak-tflops 989 --out "$out/throughput" \
      2>&1 | tee "$out/throughput.log" ;;
  pretrain)
    corpus=("$data"/imdb/unsup.jsonl.gz "$data"/imdb/train.jsonl.gz "$data"/sst2/train.tsv
            "$data"/agnews/train.tsv "$data"/agnews/test.tsv "$data"/trec/train.tsv
            "$data"/trec/test.tsv)
    [ -f "$gain/tokenizer/spiece.model" ] || python3 -m albert_tf.apps.cli train-tokenizer \
      --input "${corpus[@]}" --out "$gain/tokenizer" --vocab-size 30000
    python3 -m albert_tf.apps.cli pretrain --corpus "${corpus[@]}" --tokenizer "$gain/tokenizer" --out "$gain/pretrained" --preset small \
      --steps 12000 --time-limit-minutes 8 --token-budget 32768 --eval-every 1000 \
      --learning-rate 1e-3 --precision mixed_bfloat16 --workers 8 --overwrite \
      2>&1 | tee "$out/pretrain.log"
    cp "$gain/pretrained/metadata.json" "$out/pretrained-metadata.json" ;;
  finetune)
    for start in "--init $gain/pretrained" "--preset small --tokenizer $gain/tokenizer"; do
      name=$([[ $start == --init* ]] && echo pretrained || echo random)
      python3 -m albert_tf.apps.cli train --train "$data"/sst2/train.tsv \
        --eval "$data"/sst2/dev.tsv $start --out "$gain/sst2-$name" --epochs 3 \
        --batch-size 32 --learning-rate 1e-4 --precision mixed_bfloat16 --overwrite \
        > "$out/sst2-$name.json" 2> "$out/sst2-$name.log"
    done
    python3 -m albert_tf.apps.cli train --train "$data"/imdb/train.jsonl.gz \
      --eval "$data"/imdb/test.jsonl.gz --init "$gain/pretrained" --max-length 512 \
      --out "$gain/imdb" --epochs 2 --batch-size 32 --learning-rate 1e-4 \
      --precision mixed_bfloat16 --overwrite > "$out/imdb.json" 2> "$out/imdb.log"
    cat "$out"/*.json ;;
  bucketing)
    for padding in bucketed fixed128; do
      extra=$([ $padding = fixed128 ] && echo "--pad-to-max-length" || true)
      python3 -m albert_tf.apps.cli train --train "$data"/sst2/train.tsv \
        --eval "$data"/sst2/dev.tsv --preset base --tokenizer "$gain/tokenizer" \
        --out "$gain/sst2-base-$padding" --epochs 1 --batch-size 128 --learning-rate 1e-4 \
        --precision mixed_bfloat16 --overwrite $extra > "$out/bucketing-$padding.json" \
        2> "$out/bucketing-$padding.log"
    done
    cat "$out"/bucketing-*.json ;;
  *) echo "unknown stage $stage" >&2; exit 2 ;;
esac
