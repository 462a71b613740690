"""`pixseek mcp`: the index as tools for local AI assistants, over the Model Context Protocol
(stdio). A face like the others: tool arguments become Library calls, results become MCP
content. Needs the `mcp` extra (`pip install 'pixseek[mcp]'`); see docs/mcp.md."""

from __future__ import annotations

from pixseek.errors import PixseekError

MISSING = "the MCP server needs the Model Context Protocol SDK: pip install 'pixseek[mcp]'"


def serve(index: str | None, model: str | None, device: str | None, allow_index: bool) -> int:
    """Serve the index over stdio until the client closes the connection."""
    try:
        import mcp.server.mcpserver  # noqa: F401  (the SDK, checked before anything starts)
    except ImportError:
        raise PixseekError(MISSING) from None
    from pixseek.mcp.server import run  # why: it imports the SDK, an extra, checked just above

    return run(index, model, device, allow_index)
