# Corebank server image: `docker build -t corebank .` (see compose.yaml and docs/operations.md).
# Not built on the project's CI machine, which has no Docker engine: CI lints this file and checks
# the policy below (test/server/container-files.test.ts). Node 20 is the version the suites run on.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# Dependencies first, so a source change does not reinstall them. Scripts are skipped: `prepare`
# would compile before the sources are copied; the build step below does it.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/var/lib/corebank/data \
    BACKUP_DIR=/var/lib/corebank/backups \
    COREBANK_DIST=1
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
# The image's own `node` user (uid 1000): the server never runs as root. It owns only its data.
RUN mkdir -p /var/lib/corebank/data /var/lib/corebank/backups /var/lib/corebank/audit-checkpoints \
    && chown -R node:node /var/lib/corebank
USER node
EXPOSE 3000
# Ready means the database answers and no migration is pending (GET /ready, 503 otherwise).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/ready').then((response) => process.exit(response.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/corebank.js", "serve"]
