"""The classifier's emotion classes, in the order of the stored per-emotion counts."""

EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
