# The CDP image: one image for web (gunicorn), worker and beat (celery); see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# A writable home: gunicorn puts its control socket under ~/.gunicorn.
RUN groupadd --system cdp \
    && useradd --system --gid cdp --create-home --home-dir /home/cdp \
       --shell /usr/sbin/nologin cdp

# Dependencies first, so code changes do not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Settings refuse to load without secrets when DEBUG is off. These throwaway values exist
# only for this RUN step (they are not ENV, so containers never see them); collectstatic
# touches neither the database nor the keys.
RUN SECRET_KEY=collectstatic-build-only \
    CDP_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    CDP_BLIND_INDEX_KEY=collectstatic-build-only-not-a-real-key \
    DEBUG=0 \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var \
    && chown cdp:cdp /app/var

USER cdp

EXPOSE 8000

CMD ["gunicorn", "cdp.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
