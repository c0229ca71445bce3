# syntax=docker/dockerfile:1
# All six binaries (agent-host, the four MCP servers, the sandbox) in one small non-root image.
#   docker build -t ghcr.io/acme/agent-host:0.1.0 .
#   docker push ghcr.io/acme/agent-host:0.1.0

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
      -p agent-host -p mcp-kubernetes -p mcp-github -p mcp-konnect -p mcp-slack -p mcp-prometheus -p sandbox \
 && mkdir -p /out \
 && cp target/release/agent-host target/release/mcp-kubernetes target/release/mcp-github \
       target/release/mcp-konnect target/release/mcp-slack target/release/mcp-prometheus \
       target/release/sandbox /out/

# glibc and CA certificates, no shell, uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
COPY prompts /usr/share/agent-host/prompts
COPY examples /usr/share/agent-host/examples
# The sandbox binary reads its seeds from the source tree path compiled in; ship them too.
COPY tests/sandbox/seeds /src/tests/sandbox/seeds
COPY tests/sandbox/specs /src/tests/sandbox/specs
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["agent-host"]
CMD ["--help"]
