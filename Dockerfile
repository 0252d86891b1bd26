# Multi-stage image with every Bettensor program: build on Debian 12, run on Debian 12 slim with
# only the shared libraries the programs link, as an unprivileged user.
FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev \
      libsodium-dev libsqlite3-dev libsqlitecpp-dev libspdlog-dev libssl-dev prometheus-cpp-dev \
      libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY modules modules
COPY apps apps
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DBETTENSOR_BUILD_TESTS=OFF -DBETTENSOR_BUILD_BENCH=OFF -DBETTENSOR_BUILD_FUZZ=OFF \
 && cmake --build /build \
 && cmake --install /build --prefix /opt/bettensor

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libboost-json1.81.0 libboost-program-options1.81.0 libsodium23 libsqlite3-0 \
      libspdlog1.10 libfmt9 libssl3 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 \
      libcivetweb1 libpq5 libcom-err2 libkeyutils1 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10401 --home-dir /data --create-home bettensor
COPY --from=build /opt/bettensor/bin/ /usr/local/bin/
COPY deploy/compose-init.sh /usr/local/bin/bettensor-compose-init
USER bettensor
WORKDIR /data
EXPOSE 10401
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD curl -fsS http://127.0.0.1:10401/ws/health || exit 1
CMD ["bettensor-validator", "--help"]
