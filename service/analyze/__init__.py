"""POST /analyze: what the pipeline sees in one uploaded image, optionally drawn on it.
For installers checking a camera's placement; nothing is stored or counted."""
