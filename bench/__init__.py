"""Benchmarks at national scale: `python bench/run.py` (or `ipcity bench`). Figures only, never assertions."""
