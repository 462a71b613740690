"""What the servers (the web app, the HTTP API, the MCP server) share and the other faces do not:
an index run in a background thread (`jobs`), and the checks on uploaded query photos with the
web app's store of them (`uploads`). Not the engine: a server's concerns, over the Library."""
