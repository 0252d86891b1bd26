#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the tests and the tools need (as root). Packages that
# are already installed are left alone, so a second run costs nothing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev
  libsodium-dev libsqlite3-dev libsqlitecpp-dev libspdlog-dev libssl-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev libpq-dev
)
if [[ "${1:-}" == "--test" ]]; then
  # Tests also need clang (libFuzzer), clang-format and clang-tidy (style and static checks),
  # Node (polkadot-js cross-check, monitoring checks), Prometheus (promtool, a real scrape) and
  # nginx (the validator behind a reverse proxy); the fault tests read the databases with sqlite3
  # and cut the network with iproute2 and iptables.
  packages+=(clang clang-format clang-tidy prometheus nginx-light sqlite3 iproute2 iptables)
  # systemd-analyze verify checks the units in deploy/systemd
  packages+=(systemd)
  # The storage tests start throwaway PostgreSQL clusters (initdb + pg_ctl); the Bettensor
  # database test plays the Python validator's scoring with Python's sqlite3.
  packages+=(postgresql python3)
  # The browser test opens the validator's and a miner's pages in Debian's headless Chromium.
  packages+=(chromium)
  command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
