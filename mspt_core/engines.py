"""The ways a recognizer can read on a CPU (see ``onnx_engine`` and ``recognize``). Plain data,
so the command line can offer them without loading torch."""

ENGINES = ("auto", "torch", "onnx", "onnx-int8")
