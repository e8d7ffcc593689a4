# recipebox: build the release binary, then run it alone in a small image.
# docker build -t recipebox .   (see docs/deploy.md)

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && strip target/release/recipebox

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/recipebox --create-home recipebox
COPY --from=build /src/target/release/recipebox /usr/local/bin/recipebox
USER recipebox
WORKDIR /var/lib/recipebox
# data/ holds the SQLite database and the generated secret when no
# DATABASE_URL and ROCKET_JWT_SECRET are given.
VOLUME /var/lib/recipebox/data
ENV ROCKET_ADDRESS=0.0.0.0 ROCKET_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8000 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q '200 OK' <&3"]
CMD ["recipebox"]
