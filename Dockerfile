# kagi's container image: `docker compose build` (see docker-compose.yml and README "Deploying for real").
# Two stages: the first has the dev dependencies (TypeScript) to compile dist/; the image keeps
# only the production dependencies, so it runs the compiled build, never the sources through tsx.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied; the build is the next step.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY ca ./ca
COPY profiles ./profiles
COPY enrollment ./enrollment
COPY migrations ./migrations
# bin/build.js exits 0 even on a type error (so `npm ci` never breaks); an image must not fall back to tsx.
RUN npm run build && test -f dist/.build-stamp && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    KAGI_DATA_DIR=/var/lib/kagi
WORKDIR /app
# The sources stay beside dist/: bin/kagi.js runs dist/ only when it is at least as new as they are.
COPY --from=build /app /app
# The image's `node` user (uid 1000) runs kagi; it owns only its data directory (CRL exports).
RUN mkdir -p /var/lib/kagi && chown node:node /var/lib/kagi && chmod 0700 /var/lib/kagi && ln -s /app/bin/kagi.js /usr/local/bin/kagi
USER node
VOLUME /var/lib/kagi
EXPOSE 3000
# /readyz answers 200 once the database answers; node's fetch, since the slim image has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/bin/kagi.js"]
CMD ["serve"]
