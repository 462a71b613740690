"""The HTTP JSON API (`pixseek serve`): a face over the Library for other programs.

FastAPI on uvicorn, OpenAPI docs at /docs. Like the other faces it renders what the Library
returns; it serves only files that are in the index, named by their id, never a path taken
from a request. Needs the `serve` extra (`pip install 'pixseek[serve]'`).
"""
