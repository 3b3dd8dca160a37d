"""Flipper's event emitter, made safe: a listener that raises is reported, never obeyed.

Flipper's client emits PRE_* events before a write, so a raising PRE_DISABLE listener
aborts `disable()`, and one raising listener stops the rest from running. Here every
listener runs, each failure goes to `on_error(event, listener, error)`, and the change
that triggered the event happens regardless (a kill switch cannot be vetoed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flipper.events import EventType, FlipperEventEmitter

__all__ = ["EventType", "SafeEventEmitter"]

log = logging.getLogger(__name__)

ErrorHook = Callable[[Any, Callable[..., Any], BaseException], None]


def _log_listener_error(event: Any, listener: Callable[..., Any], error: BaseException) -> None:
    log.error("flag event listener %r for %s raised %r (ignored)", listener, event, error, exc_info=error)


class SafeEventEmitter(FlipperEventEmitter):
    """A `FlipperEventEmitter` whose listeners cannot raise into the emitter."""

    def __init__(self, on_error: ErrorHook | None = None) -> None:
        super().__init__()
        self._on_error = on_error or _log_listener_error

    def emit(self, event: Any, *args: Any, **kwargs: Any) -> bool:
        """Run every listener of `event`, reporting failures; True when there was one."""
        handled = False
        for listener in list(self._events[event].values()):
            handled = True
            try:
                listener(*args, **kwargs)
            except Exception as error:
                try:
                    self._on_error(event, listener, error)
                except Exception:  # the error hook itself failed; nothing left to tell
                    log.exception("flag event error hook raised")
        return handled
