# The Pai image for Kubernetes (helm/pai): pai-gateway, pai-server, pai and pai-harness (what a
# Session without its own image runs: docs/kubernetes.md) on Debian bookworm.
#   podman build -t ghcr.io/pai-platform/pai:0.1.0 .      (or docker build)
# Not built in CI: no container registry is reachable from the CI machines (docs/kubernetes.md).
FROM debian:bookworm AS build
WORKDIR /src
COPY . .
RUN scripts/install-deps.sh \
 && PAI_BUILD_DIR=/build PAI_TARGETS="pai-gateway pai-server pai pai-harness" \
    scripts/build.sh -DPAI_BUILD_TESTS=OFF -DPAI_BUILD_BENCH=OFF

FROM debian:bookworm-slim
# The shared libraries the binaries link (the -dev packages of scripts/install-deps.sh).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libssl3 libboost-json1.81.0 libboost-url1.81.0 libboost-container1.81.0 \
      libsimdjson14 libabsl20220623 libprometheus-cpp-core1.0 libyaml-cpp0.7 libspdlog1.10 \
      libfmt9 libtcmalloc-minimal4 libhs5 libsqlite3-0 libcurl4 libhiredis0.14 libpcre2-8-0 \
      libedit2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/src/cli/pai-gateway /build/src/server/pai-server /build/src/cli/pai \
     /build/src/harness/pai-harness /usr/local/bin/
# The chart runs it as 65532 with a read-only root file system; state goes to volumes.
USER 65532:65532
ENTRYPOINT ["pai-gateway"]
