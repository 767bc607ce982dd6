# syntax=docker/dockerfile:1
# The `nodeops` image: gateway, exporter and rollout CLI in one binary.
# Build:  v=$(git describe --tags --always --dirty); docker build --build-arg NODEOPS_VERSION=$v -t nodeops:$v .
# (the context has no .git: the version in build_info comes from the argument)
# The charts run it as `nodeops gateway --config ...` and `nodeops exporter --target ...`.
#
# Keep in step with scripts/bootstrap.sh: same Debian release (bookworm), same build packages,
# same CMake preset (`release`, output build/release/nodeops).

ARG DEBIAN_RELEASE=bookworm

# ---- build ---------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates cmake ninja-build g++ pkg-config \
      libboost1.81-dev libsimdjson-dev libyaml-cpp-dev libfmt-dev libcli11-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Tests and benchmarks run in CI (`make test`), not in the image build.
ARG NODEOPS_VERSION=""
RUN cmake --preset release -DNODEOPS_TESTS=OFF -DNODEOPS_BENCH=OFF -DNODEOPS_WERROR=OFF \
      -DNODEOPS_VERSION="${NODEOPS_VERSION}" \
 && cmake --build --preset release --target nodeops \
 && strip --strip-unneeded build/release/nodeops \
 && build/release/nodeops --help >/dev/null

# ---- runtime -------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
# Runtime libraries only (the shared objects behind the -dev packages above).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libyaml-cpp0.7 libsimdjson14 libfmt9 libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 nodeops \
 && useradd --system --uid 10001 --gid nodeops --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin nodeops
COPY --from=build /src/build/release/nodeops /usr/local/bin/nodeops
COPY --from=build /src/examples/ /etc/nodeops/examples/

LABEL org.opencontainers.image.title="nodeops" \
      org.opencontainers.image.description="JSON-RPC gateway and node exporter for blockchain nodes" \
      org.opencontainers.image.source="https://github.com/nodeops/nodeops" \
      org.opencontainers.image.licenses="Apache-2.0"

# Numeric UID so Kubernetes can verify runAsNonRoot without a passwd lookup.
USER 10001:10001
# 8545 gateway traffic, 9100 gateway admin (metrics, /admin), 9200 exporter.
EXPOSE 8545 9100 9200
ENTRYPOINT ["/usr/local/bin/nodeops"]
CMD ["--help"]
