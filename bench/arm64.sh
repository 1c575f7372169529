#!/usr/bin/env bash
# Raspberry Pi (aarch64) proof under QEMU user-mode emulation (docs/portability.md).
#
# Builds an arm64 Debian bookworm root (debootstrap + qemu-user-static via binfmt_misc),
# installs the project's wheel into a venv inside it OFFLINE from aarch64 wheels downloaded
# on the host, bind-mounts an ARM /proc/cpuinfo (qemu passes the host's through, and
# onnxruntime's cpuinfo segfaults on an x86 one), then for each emulated CPU
# (QEMU_CPU=cortex-a72 = Raspberry Pi 4, no dot-product; QEMU_CPU=max, with dot-product):
#   * ecgedge demo --duration 60 (simulated device -> pty -> runtime, checked vs annotations)
#   * ecgedge run --record R for a few MIT-BIH records, journals compared with the same runs
#     on this x86 host (beat positions identical, label agreement >= 99.5 %)
#   * bench/isa_parity.py run --subset (int8 vs fp32, beat/hyp/findings6; TFLite if wheels)
#   * a subset of the runtime tests
# and writes docs/results/arm64.json (bench/arm64_report.py; raw outputs and timings.tsv:
# cpu, step, wall ms, rc in $ARM64_WORK/out). Emulated wall times are NOT a Pi's speed (QEMU
# TCG translating aarch64 code on an x86 host); they are recorded as such.
# Needs the parity arrays first: python bench/isa_parity.py prepare (dev venv, real data).
# Measured on a 2-core shared x86 host: debootstrap 18 min (once), the rest ~22 min.
#
# Usage (root, Linux x86-64 with network for debootstrap and pip download):
#   sudo bench/arm64.sh                 # everything
#   ARM64_RECORDS="100 208" ARM64_CPUS="cortex-a72" sudo -E bench/arm64.sh
# Environment: ARM64_WORK (default /var/tmp/ecgedge-arm64), HOST_PY (python with pip,
# setuptools>=77 and the dev install, default .venv/bin/python or python3), ECGEDGE_DATA
# (PhysioNet data, default ../shared/data), ARM64_RECORDS, ARM64_DURATION (seconds of each
# record, default 600), ARM64_CPUS, ARM64_TESTS (runtime test files), ARM64_SKIP_TESTS=1.
# Prerequisites: apt-get install debootstrap qemu-user-static binfmt-support
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${ARM64_WORK:-/var/tmp/ecgedge-arm64}
ROOT=$WORK/root
WH=$WORK/wheels
OUT=$WORK/out
HOST_PY=${HOST_PY:-$( [ -x "$REPO/.venv/bin/python" ] && echo "$REPO/.venv/bin/python" || echo python3 )}
DATA=${ECGEDGE_DATA:-$REPO/../shared/data}
RECORDS=${ARM64_RECORDS:-100 208 233}
DURATION=${ARM64_DURATION:-600}  # seconds of each record (emulation is slow)
CPUS=${ARM64_CPUS:-cortex-a72 max}
TESTS=${ARM64_TESTS:-tests/test_int8_exact.py tests/test_inference.py tests/test_dsp.py}
PARITY_DATA=${ECGEDGE_ISA_DATA:-/var/tmp/ecgedge-isa/parity_data.npz}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
say() { echo "[arm64 $(date -u +%H:%M:%S)] $*"; }
die() { echo "arm64.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts)"
[ "$(uname -m)" = x86_64 ] || die "written for an x86-64 host (uname -m: $(uname -m))"
for t in debootstrap qemu-aarch64-static; do
  command -v $t >/dev/null || die "$t missing: apt-get install debootstrap qemu-user-static binfmt-support"
done
[ -d "$DATA/mitdb" ] || die "no MIT-BIH data at $DATA (set ECGEDGE_DATA)"
mkdir -p "$WORK" "$WH" "$OUT"
DATA=$(cd "$DATA" && pwd)

# --- 1. binfmt_misc: the kernel must hand aarch64 ELF files to qemu (also inside chroot,
# hence the F flag Debian's qemu-user-static registration sets).
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc"
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  update-binfmts --enable qemu-aarch64 2>/dev/null || true
fi
grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null \
  || die "qemu-aarch64 binfmt handler not registered (a chroot cannot run arm64 programs without it)"
grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
  || die "qemu-aarch64 binfmt handler lacks the F (fix-binary) flag: it will not work in a chroot"
say "binfmt: $(tr '\n' ' ' </proc/sys/fs/binfmt_misc/qemu-aarch64 | cut -c1-80)"

# --- 2. the arm64 root (bookworm's python3 is 3.11, the project's minimum)
if [ ! -x "$ROOT/usr/bin/python3" ]; then
  say "debootstrap arm64 bookworm -> $ROOT (slow: the second stage runs emulated)"
  debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$ROOT" "$MIRROR"
fi
PYV=$(chroot "$ROOT" /usr/bin/python3 -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')
say "root python: cp$PYV ($(chroot "$ROOT" /usr/bin/uname -m))"

# --- 3. wheels on the host: the project's own wheel + aarch64 binary wheels of its deps
rm -f "$WH"/ecgedge-*.whl
say "building the project wheel with $HOST_PY"
(cd "$REPO" && "$HOST_PY" -m pip wheel --quiet --no-deps --no-build-isolation -w "$WH" .)
PROJ_WHL=$(ls "$WH"/ecgedge-*.whl)
PLAT=(--platform manylinux_2_28_aarch64 --platform manylinux_2_17_aarch64
      --platform manylinux2014_aarch64 --platform linux_aarch64)
dl() {  # aarch64 cp$PYV binary wheels only; nothing is built from source
  "$HOST_PY" -m pip download --quiet --only-binary=:all: "${PLAT[@]}" --python-version "$PYV" \
    --implementation cp --abi "cp$PYV" --abi abi3 --abi none -d "$WH" "$@"
}
say "pip download (aarch64 wheels) for $(basename "$PROJ_WHL") + pytest, hypothesis, onnx"
dl "$PROJ_WHL" pytest hypothesis onnx
EXTRA=""
if dl "ai-edge-litert>=1.0" 2>"$OUT/litert_download.err"; then EXTRA="ai-edge-litert"; else
  say "no aarch64 ai-edge-litert wheel for cp$PYV: TFLite parity skipped ($(tail -1 "$OUT/litert_download.err"))"
fi

# --- 4. copy in: wheels, models, the parity script and its data, a few tests
SRC=$ROOT/opt/ecgedge
rm -rf "$SRC/src" "$SRC/wheels"
mkdir -p "$SRC/src" "$SRC/wheels" "$SRC/out" "$SRC/data"
cp "$WH"/*.whl "$SRC/wheels/"
(cd "$REPO" && tar cf - models/*.onnx models/*.tflite models/*.card.json bench/isa_parity.py \
   tests pyproject.toml) | tar xf - -C "$SRC/src"
if [ -f "$PARITY_DATA" ]; then cp "$PARITY_DATA" "$SRC/parity_data.npz"; else
  say "no $PARITY_DATA (run: python bench/isa_parity.py prepare): parity step skipped"; fi

# --- 5. mounts: /proc with an ARM cpuinfo over it, /sys, /dev, the data read-only
cpuinfo() {  # $1 = qemu cpu; 4 cores like a Pi 4 / Pi 5
  local part=0xd08 feat="fp asimd evtstrm crc32 cpuid"  # Cortex-A72 (Pi 4)
  if [ "$1" != cortex-a72 ]; then
    part=0xd0b feat="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
  fi
  for i in 0 1 2 3; do
    printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: %s\nCPU revision\t: 3\n\n' "$i" "$feat" "$part"
  done
}
MOUNTS=()
cleanup() {
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
mnt() { mount "$@" && MOUNTS+=("${@: -1}"); }
mnt -t proc proc "$ROOT/proc"
mnt -t sysfs -o ro sysfs "$ROOT/sys"  # cpuinfo reads /sys/devices/system/cpu/{possible,present}
mnt --rbind /dev "$ROOT/dev"
mnt --bind "$DATA" "$SRC/data" && mount -o remount,ro,bind "$SRC/data"

# --- 6. venv + offline install inside the root (bookworm's pip refuses system installs)
inroot() {  # $1 = qemu cpu; rest = command run by bash -c inside the root
  local cpu=$1; shift
  cpuinfo "$cpu" >"$WORK/cpuinfo.$cpu"
  mount --bind "$WORK/cpuinfo.$cpu" "$ROOT/proc/cpuinfo"
  local rc=0
  # QEMU_CPU must survive env -i: every exec starts a fresh qemu that reads it
  QEMU_CPU=$cpu chroot "$ROOT" /usr/bin/env -i QEMU_CPU="$cpu" PATH=/opt/ecgedge/venv/bin:/usr/bin:/bin \
    HOME=/root LANG=C.UTF-8 ECGEDGE_DATA=/opt/ecgedge/data ECGEDGE_ISA_DATA=/opt/ecgedge/parity_data.npz \
    MPLBACKEND=Agg /bin/bash -c "$*" || rc=$?
  umount "$ROOT/proc/cpuinfo"
  return $rc
}
if [ ! -x "$SRC/venv/bin/python" ]; then
  say "venv inside the root"
  inroot cortex-a72 "python3 -m venv /opt/ecgedge/venv"
fi
say "pip install --no-index (offline) inside the root"
inroot cortex-a72 "pip install --quiet --no-index --find-links /opt/ecgedge/wheels --force-reinstall --no-deps /opt/ecgedge/wheels/$(basename "$PROJ_WHL") \
  && pip install --quiet --no-index --find-links /opt/ecgedge/wheels /opt/ecgedge/wheels/$(basename "$PROJ_WHL") pytest hypothesis onnx $EXTRA \
  && python -c 'import numpy, scipy, onnxruntime, wfdb; print(\"inside:\", numpy.__version__, scipy.__version__, onnxruntime.__version__)'" \
  | tee "$OUT/install.log"

# --- 7. x86 reference journals on this host (same code, same models)
for r in $RECORDS; do  # cheap natively: always rerun so code, models and duration match
  say "x86 reference: ecgedge run --record $r --duration $DURATION"
  rm -f "$OUT/run_${r}_x86.jsonl"
  (cd "$REPO" && PYTHONPATH=$REPO ECGEDGE_DATA=$DATA "$HOST_PY" -m edge_runtime run --record "$r" \
    --duration "$DURATION" --beat-model models/beat.int8.onnx --window-model none --quiet \
    --journal "$OUT/run_${r}_x86.jsonl" >"$OUT/run_${r}_x86.log" 2>&1)
done

# --- 8. the emulated runs; wall times go to $OUT/timings.tsv (emulated, NOT Pi speed)
: >"$OUT/timings.tsv"
timed() {  # $1 = cpu, $2 = step name, rest = command inside the root
  local cpu=$1 step=$2; shift 2
  local t0 rc=0
  t0=$(date +%s%N)
  inroot "$cpu" "$*" >"$OUT/${step}_${cpu}.log" 2>&1 || rc=$?
  printf '%s\t%s\t%d\t%d\n' "$cpu" "$step" $(( ($(date +%s%N) - t0) / 1000000 )) "$rc" >>"$OUT/timings.tsv"
  say "$cpu $step rc=$rc ($(tail -1 "$OUT/${step}_${cpu}.log" | cut -c1-150))"
}
M=/opt/ecgedge/src/models
for cpu in $CPUS; do
  timed "$cpu" cpu "python -c 'import numpy._core._multiarray_umath as m, platform; print(platform.machine(), sorted(k for k, v in m.__cpu_features__.items() if v))'"
  timed "$cpu" demo "cd /opt/ecgedge/out && rm -rf demo_$cpu && ecgedge demo --duration 60 --out demo_$cpu --beat-model $M/beat.int8.onnx"
  for r in $RECORDS; do
    timed "$cpu" "run_$r" "rm -f /opt/ecgedge/out/run_${r}_$cpu.jsonl; ecgedge run --record $r --duration $DURATION --beat-model $M/beat.int8.onnx --window-model none --quiet --journal /opt/ecgedge/out/run_${r}_$cpu.jsonl"
    cp "$SRC/out/run_${r}_$cpu.jsonl" "$OUT/" 2>/dev/null || true
  done
  if [ -f "$SRC/parity_data.npz" ]; then
    timed "$cpu" parity "cd /opt/ecgedge/src && python bench/isa_parity.py run --subset --tflite --label aarch64-qemu-$cpu --emulation 'qemu-aarch64 -cpu $cpu (binfmt, arm64 bookworm root)' --out /opt/ecgedge/out/isa_parity_$cpu.json"
    cp "$SRC/out/isa_parity_$cpu.json" "$OUT/" 2>/dev/null || true
  fi
  if [ "${ARM64_SKIP_TESTS:-0}" != 1 ]; then
    timed "$cpu" tests "cd /opt/ecgedge/src && timeout 1800 python -m pytest -q -p no:cacheprovider $TESTS"
  fi
done
cp -r "$SRC/out/demo_"* "$OUT/" 2>/dev/null || true

# --- 9. report
say "report -> docs/results/arm64.json"
PYTHONPATH=$REPO "$HOST_PY" "$REPO/bench/arm64_report.py" --out-dir "$OUT" --records "$RECORDS" --cpus "$CPUS"
