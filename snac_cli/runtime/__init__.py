"""SNAC without PyTorch: the ONNX models `snac onnx` writes, run by onnxruntime, and the decoder's noise
drawn as PyTorch draws it, with numpy alone. Needs the optional extra: `pip install 'snac-cli[onnx]'`."""
