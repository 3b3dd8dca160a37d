"""WSGI entry point for gunicorn: `gunicorn app.wsgi:application`.

Each worker imports this module (no preload), so each starts its own background work
here: the upload reconciler's periodic pass (tests build apps without it).
"""

from app import create_app
from app.compose import services_of

application = create_app()
services_of(application).reconciler.start()
