"""gunicorn's settings for the image (`gunicorn -c gunicorn.conf.py crm_platform.wsgi`): JSON access and error
lines on stdout/stderr through crm_platform.logs, like the site's own."""
import os

from crm_platform.logs import gunicorn_logger_class

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 3))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 120))
graceful_timeout = 30
# The heartbeat files of the workers: memory, not the container's overlay filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logger_class = gunicorn_logger_class()
