# syntax=docker/dockerfile:1
# airlock: multi-stage build of the glibc release binary into a distroless image.
#
#   docker build -t airlock .
#   docker run --rm -p 8080:8080 \
#     -e AIRLOCK_SERVER__LISTEN=0.0.0.0:8080 \
#     -e AIRLOCK_SERVER__ALLOW_UNAUTHENTICATED=true \
#     -e OPENAI_API_KEY -v $PWD/my-airlock.toml:/etc/airlock/airlock.toml:ro airlock
#
# Without [[keys]] the gateway only binds loopback. As a sidecar that shares
# the application's network namespace (a Kubernetes pod, or compose's
# `network_mode: service:app`), loopback is shared and the default
# 127.0.0.1:8080 needs no change. To publish the port beyond the namespace,
# either configure [[keys]] or set server.allow_unauthenticated = true
# (AIRLOCK_SERVER__ALLOW_UNAUTHENTICATED=true) and listen on 0.0.0.0.

FROM rust:1.95-slim-bookworm AS build
# jemalloc (the binary's allocator) is built from C with make.
RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so they are cached across source changes.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY examples ./examples
COPY tests ./tests
COPY config ./config
RUN cargo build --release --locked --bin airlock \
 && ./target/release/airlock check-config --config config/airlock.toml \
 && mkdir -p /out/audit

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/airlock /usr/local/bin/airlock
COPY --from=build /src/config/airlock.toml /etc/airlock/airlock.toml
# The audit database lives on a volume the nonroot user can write.
COPY --from=build --chown=nonroot:nonroot /out/audit /var/lib/airlock
VOLUME /var/lib/airlock
ENV AIRLOCK_CONFIG=/etc/airlock/airlock.toml \
    AIRLOCK_LOG_FORMAT=json \
    AIRLOCK_AUDIT__PATH=/var/lib/airlock/audit.sqlite
USER nonroot:nonroot
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/airlock", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/airlock"]
CMD ["serve"]
