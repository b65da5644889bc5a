# syntax=docker/dockerfile:1
#
# The image of every service: one Dockerfile, the service chosen by build arguments. Build from the
# repository root (the context is an allow-list, .dockerignore):
#   docker build --build-arg SERVICE=gateway --build-arg PORT=3000 -t roadmap/gateway .
#   SERVICE  a folder of services/: gateway, workflow-worker, content-worker, log-sink, webhook-worker
#   PORT     its default PORT (`node deploy/docker/workspaces.mjs --port <service>`), for EXPOSE and
#            the Docker HEALTHCHECK; Kubernetes sets PORT itself (the chart's services.<key>.port)
# skaffold.yaml passes both; so does `npx nx run-many -t image`. See docs/deploy.md.
#
# Stages:
#   sources    manifests and sources of every workspace
#   manifests  the package.json files alone, so dependency layers rebuild only when they change
#   build      npm ci (every dependency, exactly the lock file), SWC build of every package and the
#              console; the same for every service, so building all four shares it
#   deps       npm ci --omit=dev of this service's workspace only, then the compiled code (dist/src)
#              of the service and the workspaces it needs at run time (deploy/docker/workspaces.mjs)
#   runtime    distroless Node 24: no npm, no shell, no package manager; non-root, files read-only

ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12

# ---- sources ------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS sources
WORKDIR /repo
COPY package.json package-lock.json .swcrc ./
COPY scripts/build.mjs scripts/build-console.mjs scripts/
COPY deploy/docker/workspaces.mjs deploy/docker/
COPY libs libs
COPY services services
COPY apps/console apps/console

# ---- manifests ----------------------------------------------------------------------------------
FROM sources AS manifests
RUN rm -rf .swcrc scripts deploy \
 && find libs services apps -mindepth 2 -maxdepth 2 ! -name package.json -exec rm -rf {} +

# ---- build --------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /repo
COPY --from=manifests /repo ./
# npm ci: exactly the lock file, which holds every platform's optional binaries (SWC's, Nx's), so an
# arm64 builder gets its own. No install script is needed to build (the base image brings Node 24).
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund --ignore-scripts
COPY --from=sources /repo ./
RUN node scripts/build.mjs

# ---- deps ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
ARG SERVICE
ARG PORT
WORKDIR /repo
COPY --from=manifests /repo ./
RUN test -n "${SERVICE}" && test -f "services/${SERVICE}/package.json" && test -n "${PORT}" \
 || { echo "build with --build-arg SERVICE=<a folder of services/> --build-arg PORT=<its port>" >&2; exit 1; }
# Production dependencies of this one workspace, from the lock file. typescript arrives only as an
# optional peer of @nestjs/swagger (its compile-time plugin): dropped.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
      --workspace "services/${SERVICE}" --include-workspace-root=false \
 && rm -rf node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver package-lock.json
# The compiled code (dist/src: code, prompt templates, source maps; no sources, no tests) of the
# workspaces the service runs, the console's static files for the gateway; other workspaces removed.
# main.js starts the service, healthcheck.js probes it (no shell in the runtime to expand a variable).
RUN --mount=type=bind,from=build,source=/repo,target=/build \
    set -e; keep=" $(node /build/deploy/docker/workspaces.mjs "${SERVICE}" | tr '\n' ' ') "; \
    for pkg in libs/* services/* apps/*; do \
      case "$keep" in \
        *" $pkg "*) if [ -d "/build/$pkg/dist/src" ]; then mkdir -p "$pkg/dist" && cp -R "/build/$pkg/dist/src" "$pkg/dist/src"; \
                    else cp -R "/build/$pkg/dist" "$pkg/dist"; fi ;; \
        *) rm -rf "$pkg" ;; \
      esac; \
    done; \
    printf 'import "./services/%s/dist/src/main.js";\n' "${SERVICE}" > main.js; \
    printf "fetch('http://127.0.0.1:' + (process.env.PORT || %s) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));\n" "${PORT}" > healthcheck.js

# ---- runtime ------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
ARG PORT
ENV NODE_ENV=production
# A young generation of 4 MB per semi-space instead of V8's default (up to 32 MB here): idle RSS
# falls by ~35-45 MB per process (bench/README.md, memory), below the 150 MB goal; scavenges get more
# frequent but stay short, as little survives them in these services.
ENV NODE_OPTIONS=--max-semi-space-size=4
# `node` by name for commands that override the entrypoint (distroless keeps it in /nodejs/bin).
ENV PATH=/nodejs/bin:/usr/local/bin:/usr/bin:/bin
WORKDIR /app
# Files stay owned by root: the process (uid 1000) can read, not change them.
COPY --from=deps /repo ./
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE ${PORT}
# The service drains on SIGTERM (readiness false, consumers stop, in-flight work finishes).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 CMD ["/nodejs/bin/node", "healthcheck.js"]
# Node is the entrypoint: the chart's migration Job and helm test pass node arguments only.
ENTRYPOINT ["/nodejs/bin/node"]
CMD ["--enable-source-maps", "main.js"]
