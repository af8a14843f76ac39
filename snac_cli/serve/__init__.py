"""`snac serve`: the codec as an HTTP and WebSocket service (FastAPI), over the library facade.

May import codec, format and the leaves; never the CLI. FastAPI and uvicorn are the `serve` extra's.
"""
