"""Development-server logic: app discovery, the child process and the supervisor.

Submodules are imported explicitly (``webkit.devtools.appref``, ``.supervisor``, ``.child_main``)
so the runserver child never loads the watcher and this package never loads click or rich.
"""

from __future__ import annotations

__all__: list[str] = []
