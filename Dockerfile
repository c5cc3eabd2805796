# One image for the Python services (api, worker, beat, flower); docker-compose.yml picks the command.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md requirements-deploy.lock ./
RUN pip install --require-hashes -r requirements-deploy.lock
COPY backend ./backend
COPY workers ./workers
COPY seed ./seed
COPY graphql ./graphql
RUN pip install --no-deps . \
 && useradd --system --uid 10001 --home /app heracles \
 && chown -R heracles /app
USER heracles
EXPOSE 8000
CMD ["python", "-m", "backend.api.serve", "--host", "0.0.0.0", "--port", "8000"]
