# One image for all five services; the command picks the service (python -m services.<name>).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# libseccomp2: the runtime's workers install a seccomp filter through it (pyseccomp).
RUN apt-get update && apt-get install -y --no-install-recommends libseccomp2 \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY services ./services
COPY sdk ./sdk
COPY runtime ./runtime
COPY connectors ./connectors
COPY cli ./cli
RUN pip install --no-cache-dir .
USER nobody
