# One image for the Python services (api, worker, beat, flower); docker-compose.yml picks the command.
# The console (ui/) is built in its own stage; the API serves its files.
FROM node:20-slim AS console
WORKDIR /src/ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY graphql/operations /src/graphql/operations
COPY ui ./
RUN npm run build

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md requirements-deploy.lock ./
RUN pip install --require-hashes -r requirements-deploy.lock
COPY backend ./backend
COPY workers ./workers
COPY seed ./seed
COPY devstack ./devstack
COPY graphql ./graphql
COPY --from=console /src/ui/dist ./ui/dist
ENV HERACLES_UI_DIST=/app/ui/dist
RUN pip install --no-deps . \
 && useradd --system --uid 10001 --home /app heracles \
 && mkdir -p /app/state \
 && chown -R heracles /app
USER heracles
EXPOSE 8000
CMD ["python", "-m", "backend.api.serve", "--host", "0.0.0.0", "--port", "8000"]
