#!/usr/bin/env bash
# The whole validation-only evaluation of a run's best checkpoint (issue 13), then its report, in one command:
# export (float ONNX, 4 views: zooms 1,1.1 + flip) -> INT8 -> views ablation (float + int8) -> per-face cost of each
# view set -> temperature fitted into both manifests -> crop calibration -> validation clip(s) through the kiosk
# pipeline -> scripts/report.ts --evaluation. Never writes into the run: its last/ and best/ are copied first (a
# training run in progress rewrites them). PublicTest is not read. Heavy steps run under nice -n 5.
#
#   scripts/calibrate-checkpoint.sh --run runs/<name> --work /tmp/<dir> [--interim] [--clip <clip.avi> ...] \
#     [--report-to models/reports/<name>] [--note "text" ...]
#
# Without --clip, a clip is made from the validation split (scripts/make-eval-clip.ts --list, seed 13) under --work.
# The exported models stay under --work/models (the shipped models in models/ are not touched).
set -euo pipefail
cd "$(dirname "$0")/.."
fer=${FER2013_DIR:-$(cd .. && pwd)/shared/fer2013}

run="" work="" interim="" report_to=""
clips=() notes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --run) run="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --interim) interim="--interim"; shift ;;
    --clip) clips+=("$2"); shift 2 ;;
    --report-to) report_to="$2"; shift 2 ;;
    --note) notes+=("$2"); shift 2 ;;
    *) echo "calibrate-checkpoint: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$run" ] && [ -n "$work" ] || { echo "calibrate-checkpoint: --run <runs/name> and --work <dir> are required" >&2; exit 2; }
[ -f "$run/best/eval.json" ] && [ -f "$run/last/state.json" ] || { echo "calibrate-checkpoint: $run has no best/eval.json or last/state.json (has it finished an epoch?)" >&2; exit 2; }
name="$(basename "$(cd "$run" && pwd)")"
report_to="${report_to:-models/reports/$name}"
tsx=(nice -n 5 node --import tsx)

copy="$work/run/$name"
rm -rf "$copy" "$work/models" "$work/eval"
mkdir -p "$copy" "$work/models" "$work/eval"
cp -r "$run/last" "$copy/last"
cp -r "$run/best" "$copy/best"
epoch="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).epoch)' "$copy/best/eval.json")"
echo "== $name: best epoch $epoch (copied to $copy)"

float="$work/models/deep_emotion.onnx"
int8="$work/models/deep_emotion.int8.onnx"
"${tsx[@]}" scripts/export-onnx.ts --checkpoint "$copy/best" --out "$float" --run "$name" --test-time-flip --crop-zooms 1,1.1
"${tsx[@]}" scripts/quantize.ts --model "$float" --data "$fer"/train

ev="$work/eval"
"${tsx[@]}" scripts/ablate-views.ts --model "$int8" --model "$float" --out "$ev/views.json"
"${tsx[@]}" scripts/bench/index.ts views --model "$int8" --out "$ev/views-cost.json"
"${tsx[@]}" scripts/calibrate-temperature.ts --model "$int8" --write --out "$ev/temperature.json"
"${tsx[@]}" scripts/calibrate-temperature.ts --model "$float" --write
"${tsx[@]}" scripts/calibrate-crop.ts --model "$int8" --out "$ev/crop-calibration.json"

if [ ${#clips[@]} -eq 0 ]; then
  "${tsx[@]}" scripts/make-eval-clip.ts --data "$fer" --list models/splits/fer2013-val.txt --seed 13 --out "$work/val-clip"
  clips=("$work/val-clip/clip.avi")
fi
i=0
for clip in "${clips[@]}"; do
  out="$ev/clip.json"; [ $i -gt 0 ] && out="$ev/clip-$i.json"
  "${tsx[@]}" src/cli/main.ts evaluate --clip "$clip" --model "$int8" --json > "$out"
  i=$((i + 1))
done

args=(--run "$copy" --evaluation "$ev" --copy-to "$report_to")
[ -n "$interim" ] && args+=("$interim")
[ ${#notes[@]} -gt 0 ] && args+=(--note "${notes[@]}")
"${tsx[@]}" scripts/report.ts "${args[@]}"
echo "== report in $report_to; models (with their temperatures) in $work/models"
