#!/usr/bin/env bash
# int8-vs-fp32 parity (ONNX and TFLite) of chosen tasks on both aarch64 classes, in the
# arm64 root bench/arm64.sh built (its venv has onnxruntime + ai-edge-litert), with THIS
# checkout's code and models copied to /opt/ecgedge/src_tflite (the root's src/ is left alone).
# The runs (labels aarch64-qemu-{cortex-a72,max}-SUFFIX) are merged into
# docs/results/isa_parity.json; then `python bench/isa_parity.py card --formats tflite`.
# Needs root (chroot, mounts) and the parity arrays (bench/isa_parity.py prepare).
#   sudo ECGEDGE_ISA_DATA=runs/isa/parity_data.npz bench/arm64_isa_parity.sh hyp,findings6 issue18-tflite
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
TASKS=${1:?usage: sudo bench/arm64_isa_parity.sh TASKS LABEL_SUFFIX (e.g. beat beat19)}
SUFFIX=${2:?label suffix}
DATA=${ECGEDGE_ISA_DATA:-/var/tmp/ecgedge-isa/parity_data.npz}
ROOT=${ARM64_ROOT:-/var/tmp/ecgedge-arm64/root}
SRC=$ROOT/opt/ecgedge/src_tflite
WORK=$(mktemp -d)
rm -rf "$SRC"; mkdir -p "$SRC/out"
(cd "$REPO" && tar cf - --exclude=__pycache__ --exclude=models/checkpoints edge_runtime export train bench/isa_parity.py \
   models) | tar xf - -C "$SRC"
cp "$DATA" "$SRC/parity_data.npz"
MOUNTS=()
cleanup() { for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[i]}" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
mnt() { mount "$@" && MOUNTS+=("${@: -1}"); }
mnt -t proc proc "$ROOT/proc"
mnt -t sysfs -o ro sysfs "$ROOT/sys"
mnt --rbind /dev "$ROOT/dev"
cpuinfo() {  # same fake /proc/cpuinfo as bench/arm64.sh
  local part=0xd08 feat="fp asimd evtstrm crc32 cpuid"
  if [ "$1" != cortex-a72 ]; then
    part=0xd0b feat="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
  fi
  for i in 0 1 2 3; do
    printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: %s\nCPU revision\t: 3\n\n' "$i" "$feat" "$part"
  done
}
for cpu in cortex-a72 max; do
  cpuinfo "$cpu" >"$WORK/cpuinfo.$cpu"
  mount --bind "$WORK/cpuinfo.$cpu" "$ROOT/proc/cpuinfo"
  QEMU_CPU=$cpu chroot "$ROOT" /usr/bin/env -i QEMU_CPU="$cpu" PATH=/opt/ecgedge/venv/bin:/usr/bin:/bin \
    HOME=/root LANG=C.UTF-8 PYTHONPATH=/opt/ecgedge/src_tflite ECGEDGE_ISA_DATA=/opt/ecgedge/src_tflite/parity_data.npz \
    /bin/bash -c "cd /opt/ecgedge/src_tflite && python bench/isa_parity.py run --tasks $TASKS --subset --tflite --label aarch64-qemu-$cpu-$SUFFIX --emulation 'qemu-aarch64 -cpu $cpu (binfmt, arm64 root $ROOT)' --out /opt/ecgedge/src_tflite/out/isa_parity_$cpu.json" || echo "rc=$? on $cpu"
  umount "$ROOT/proc/cpuinfo"
  mkdir -p "$REPO/runs/isa" && cp "$SRC/out/isa_parity_$cpu.json" "$REPO/runs/isa/" || true
done
python3 - "$REPO" "$SUFFIX" <<'PY'
import json, sys
from pathlib import Path
repo, suffix = Path(sys.argv[1]), sys.argv[2]
out = repo / "docs" / "results" / "isa_parity.json"
doc = json.loads(out.read_text())
for cpu in ("cortex-a72", "max"):
    f = repo / "runs" / "isa" / f"isa_parity_{cpu}.json"
    label = f"aarch64-qemu-{cpu}-{suffix}"
    runs = json.loads(f.read_text())["runs"] if f.is_file() else {}
    if label in runs:
        doc["runs"][label] = runs[label]
        print(f"merged {label} passed={runs[label]['passed']}")
    else:
        print(f"{label}: no result (see above)")
out.write_text(json.dumps(doc, indent=2) + "\n")
PY
