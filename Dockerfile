# secmon worker / shipper image: the locked dependencies, then secmon itself, as a non-root user.
FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pipeline ./pipeline
COPY detectors ./detectors
COPY schemas ./schemas
RUN pip install --no-cache-dir --no-deps . && useradd --system --uid 10001 secmon
USER secmon
ENTRYPOINT ["secmon"]
CMD ["worker"]
