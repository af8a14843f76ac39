"""Audio: read (any libsndfile format, WAV from pipes), resample, measure and normalize loudness, write, and
compare (metrics). Samples are numpy float32 blocks (channels, n).

May import only itself and the leaves (errors, files): never torch, the model, or any other layer.
"""
