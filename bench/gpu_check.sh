#!/usr/bin/env bash
# bench.gpu_check on a fresh lent GPU machine, in one `run` command: unpack the kit carried in .gpu/, set the
# environment, run the check into $OUT/gpu-check. Build the kit here first (../shared/gpu/GPU.md):
#   ../shared/gpu/build-kit.sh .gpu            # .gpu/site.tar.xz (~19 MB) and .gpu/tok.tar.xz (~3.5 MB)
#   run(command="bash bench/gpu_check.sh", carry=[".gpu/site.tar.xz", ".gpu/tok.tar.xz"], timeout_s=540)
# Arguments go to bench.gpu_check (e.g. --parts bench-270m). KIT (default .gpu) is where the archives are,
# UNPACK (default /tmp) where they are unpacked, PYTHON (default python3) the interpreter.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kit=${KIT:-$root/.gpu}
unpack=${UNPACK:-/tmp}
out=${OUT:-$root/gpu-check-out}
for f in site.tar.xz tok.tar.xz; do
  if [ ! -f "$kit/$f" ]; then
    echo "error: $kit/$f is missing — fix: build the kit with ../shared/gpu/build-kit.sh .gpu and carry .gpu/$f" >&2
    exit 2
  fi
done
start=$SECONDS
mkdir -p "$unpack/site" "$unpack/cache"
[ -f "$unpack/site/.tooldojo-kit" ] || { tar -xJf "$kit/site.tar.xz" -C "$unpack/site" && touch "$unpack/site/.tooldojo-kit"; }
[ -f "$unpack/cache/tokenizers/gemma-3/tokenizer.json" ] || tar -xJf "$kit/tok.tar.xz" -C "$unpack/cache"
spent=$((SECONDS - start))
echo "gpu_check.sh: kit unpacked into $unpack in ${spent}s" >&2
export PYTHONPATH="$unpack/site:$root${PYTHONPATH:+:$PYTHONPATH}" TOOLDOJO_CACHE="$unpack/cache" HF_HUB_OFFLINE=1 \
  HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
cd "$root"
# the whole command stays under 8 minutes: the check gets what the unpacking left of 470 s
exec "${PYTHON:-python3}" -m bench.gpu_check --out "$out/gpu-check" --budget-s $((470 - spent)) "$@"
