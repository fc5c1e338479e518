"""Importing onnxruntime without leaving files behind.

onnxruntime (1.2x, Linux) writes a telemetry session file ``.ses`` into
``$TMPDIR`` when it is imported. :func:`import_onnxruntime` imports it with
``TMPDIR`` pointing at a private folder that is removed right after, so no
run leaves that file in the user's temporary folder.

Example:
    >>> ort = import_onnxruntime()
    >>> hasattr(ort, "InferenceSession")
    True
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from types import ModuleType

_LOCK = threading.Lock()


def import_onnxruntime() -> ModuleType:
    """``import onnxruntime``, its telemetry file written to a folder removed at once."""
    if "onnxruntime" in sys.modules:  # imported already: no file is written again
        import onnxruntime

        return onnxruntime
    with _LOCK:
        private = tempfile.mkdtemp(prefix="hipporag-ort-")
        old = os.environ.get("TMPDIR")
        os.environ["TMPDIR"] = private
        try:
            import onnxruntime
        finally:
            if old is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = old
            shutil.rmtree(private, ignore_errors=True)
    return onnxruntime


__all__ = ["import_onnxruntime"]
