"""The `.snac` format and what is made of it: the container (header, container chunks, checksums; see
docs/format.md), `info`, cut and concat, and a language model's tokens (export and import).

Knows nothing of the model (the facts only a model knows, such as its hop, are passed in). May import only
itself and the leaves: never torch, the model, or any other layer.
"""
