"""pixseek: offline semantic search over your own photos (CLIP + ONNX Runtime + FAISS)."""

__version__ = "0.1.0"
