"""A run's folder: its saved settings, phase folders and checkpoints, and its precision per phase.

Training and transfer both build on this package; it knows nothing of them.
"""
