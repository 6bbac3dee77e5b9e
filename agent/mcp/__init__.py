"""`uiagent mcp`: the guarded, recorded desktop as a Model Context Protocol server.

`models.py` the tools' arguments and results (their JSON schemas are the model-facing docs),
`session.py` one MCP session's desktop, executor, recorder and image space, `tools.py` what each
tool does with it, `server.py` the official SDK's low-level server over stdio or Streamable HTTP,
`auth.py` the HTTP bearer token.
"""
