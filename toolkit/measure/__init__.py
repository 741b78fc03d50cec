"""Measure: summaries, figures and delivery events of a results frame."""
