"""Configs of "Revisiting Self-Supervised Visual Representation Learning" and "S4L" (each with `runlocal`)."""
