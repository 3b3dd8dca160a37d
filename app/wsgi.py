"""WSGI entry point for gunicorn: `gunicorn app.wsgi:application`.

Each worker imports this module (no preload), so each starts its own background work
here: the upload reconciler's periodic pass (tests build apps without it).

Workers are threaded (gthread): the readers' lazy imports (openpyxl, its date and number
helpers, python-calamine) are done here, once, before any request thread runs. Two
request threads importing openpyxl at once raised `_DeadlockError` (a 500) in the
burst test.
"""

import openpyxl  # noqa: F401  (see above)
import openpyxl.styles.numbers  # noqa: F401
import openpyxl.utils.datetime  # noqa: F401
import python_calamine  # noqa: F401

from app import create_app
from app.compose import services_of

application = create_app()
services_of(application).reconciler.start()
# Each worker rereads the flag store from start-up on (not from its first request), so the
# version it publishes (portal_flag_seen_version) is the one it would decide with.
if (refresher := services_of(application).flags.cache.refresher) is not None:
    refresher.ensure_running()
