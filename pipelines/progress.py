"""The Dagster logger behind `ipcity run`'s progress display.

It hands every event of a run to the standard-library logger ``ipcity.progress``; whoever wants the events
(`pipelines.launcher.run_pipeline` for its display) attaches a handler there for the run's duration. No state of
our own: the logging module already keeps named loggers.
"""

from __future__ import annotations

import logging

import dagster as dg

PROGRESS_LOGGER_NAME = "ipcity.progress"


@dg.logger(description="Forwards Dagster step events to the `ipcity run` progress display.")
def progress_logger(init_context) -> logging.Logger:
    logger = logging.getLogger(PROGRESS_LOGGER_NAME)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # the display shows them; the console logger already prints the run
    return logger
