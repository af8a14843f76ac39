"""Running the model: audio and codes of any length through inference windows in bounded memory
(`streaming`), short clips several per pass (`batching`), devices and precision, the allocator setting.

May import the model and the leaves; never the codec, batch or CLI layers above it.
"""
