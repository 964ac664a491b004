#!/usr/bin/env bash
# Installs the Debian packages mmaux needs, and nothing when all are present.
# Idempotent: dpkg is asked first; apt-get runs only when a package is missing.
set -euo pipefail

packages=(
  build-essential cmake make pkg-config git ccache clang-format
  libtorch-dev libopenblas0-openmp
  libopenmpi-dev openmpi-bin
  libhdf5-dev
  libboost-program-options-dev libfmt-dev libgtest-dev
  libvips-dev libutf8proc-dev nlohmann-json3-dev
  libssl-dev
  gnuplot-nox
  slurm-wlm munge libpmix-dev
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "[deps] all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "[deps] not root and no sudo: install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "[deps] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
