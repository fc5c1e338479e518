"""Every module's logger sits in the one ``hipporag`` hierarchy, tunable per room."""

from __future__ import annotations

import importlib
import logging
import pkgutil

ROOMS = ("hipporag", "indexers", "retrievers", "pipelines")


def _modules():
    for room in ROOMS:
        pkg = importlib.import_module(room)
        yield room
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{room}."):
            yield info.name


def test_module_loggers_are_under_hipporag():
    found = 0
    for name in _modules():
        try:
            mod = importlib.import_module(name)
        except ImportError:  # optional extras (e.g. an adapter's framework) missing
            continue
        logger = getattr(mod, "logger", None)
        if isinstance(logger, logging.Logger):
            found += 1
            assert logger.name == f"hipporag.{name}" or logger.name == name, name
            assert logger.name.startswith("hipporag."), name
    assert found >= 10, found


def test_one_room_can_be_tuned_alone(caplog):
    from hipporag.log import get_logger

    retr, idx = get_logger("retrievers.dense"), get_logger("indexers.builder")
    logging.getLogger("hipporag.retrievers").setLevel(logging.ERROR)
    try:
        with caplog.at_level(logging.INFO, logger="hipporag"):
            retr.info("quiet")
            idx.info("heard")
        assert [r.getMessage() for r in caplog.records] == ["heard"]
    finally:
        logging.getLogger("hipporag.retrievers").setLevel(logging.NOTSET)
