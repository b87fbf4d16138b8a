"""Work begun in a thread while the build goes on, its result asked for where it is needed."""
from __future__ import annotations

import threading
from typing import Any, Callable


def in_thread(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """fn(*args) begun in a thread; the function returned waits for its result (or raises its error)."""
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - raised where the result is asked for
            box["error"] = exc

    thread = threading.Thread(target=run, name=f"flowsite-{getattr(fn, '__name__', 'work')}", daemon=True)
    thread.start()

    def result() -> Any:
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]
    return result
