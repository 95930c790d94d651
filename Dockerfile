# The production image (README, "Production"). Two stages: `build` installs the locked dependencies and the
# project (not editable) into a virtualenv and collects the static files; the final stage carries only that
# virtualenv and the folders the site reads (templates, locale, static), runs as a non-root user, and has a
# health check. Nothing here needs a secret, a database or Redis: the build step imports the settings with
# DJANGO_BUILD_STEP=1, which only `manage.py collectstatic` may use (crm_platform/settings.py).
# tests/test_deployment.py runs these RUN lines as written (the `deploy` marker).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 VENV=/opt/venv SRC=/src APP=/app
RUN python -m venv "$VENV"
# Exactly the locked versions, every file hash-checked (requirements/base.txt: no test tools, no pgserver).
COPY requirements/base.txt $SRC/requirements/base.txt
RUN "$VENV/bin/pip" install --require-hashes -r "$SRC/requirements/base.txt"
COPY . $SRC
RUN "$VENV/bin/pip" install --no-deps "$SRC" \
 && mkdir -p "$APP" \
 && cp -r "$SRC/manage.py" "$SRC/gunicorn.conf.py" "$SRC/templates" "$SRC/static" "$SRC/locale" "$APP/"
WORKDIR $APP
RUN DJANGO_BUILD_STEP=1 CRM_BASE_DIR="$APP" "$VENV/bin/python" manage.py collectstatic --noinput

FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PATH=/opt/venv/bin:$PATH CRM_BASE_DIR=/app \
    DJANGO_SETTINGS_MODULE=crm_platform.settings
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /app crm
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
USER crm
EXPOSE 8000
# /healthz/ answers 200 only when the database, Redis, a worker, the migrations and the calendar are fine.
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 CMD ["python", "-m", "crm_platform.probe"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "crm_platform.wsgi"]
