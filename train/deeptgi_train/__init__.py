"""deeptgi_train: the PyTorch DeepTGI model, data sets, cross-validation, metrics and ONNX export."""

__version__ = "0.1.0"
