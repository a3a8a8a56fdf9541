# One image for every process (web, workers, beat); compose.yaml picks the command from the Procfile.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_ENV=production STATIC_ROOT=/srv/aiops/static

WORKDIR /srv/aiops
# Dependencies first: a code change does not reinstall them.
COPY pyproject.toml README.md ./
COPY aiops/__init__.py aiops/__init__.py
COPY core/__init__.py core/__init__.py
COPY incidents/__init__.py incidents/__init__.py
COPY monitoring/__init__.py monitoring/__init__.py
COPY models_registry/__init__.py models_registry/__init__.py
RUN pip install .

COPY manage.py Procfile ./
COPY aiops aiops
COPY core core
COPY incidents incidents
COPY monitoring monitoring
COPY models_registry models_registry
COPY templates templates
COPY static static
RUN pip install --no-deps . \
    && SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost DATABASE_URL=sqlite:////tmp/build.sqlite3 \
       python manage.py collectstatic --noinput \
    && useradd --system --home /srv/aiops aiops && mkdir -p /srv/aiops/var && chown -R aiops /srv/aiops/var

USER aiops
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
CMD ["gunicorn", "aiops.wsgi", "-b", "0.0.0.0:8000", "-k", "gthread", "-w", "2", "--threads", "4", "--keep-alive", "30"]
