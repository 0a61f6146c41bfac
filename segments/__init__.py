"""Segments: rule language, model-based segments, evaluation and membership."""
