"""Exports of tinct models for other runtimes: :mod:`tinct.export.onnx` (ONNX Runtime)."""
