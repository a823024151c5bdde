"""Video: stylize a clip frame by frame without flicker (Ruder, Dosovitskiy and Brox 2016), above the engine.

Each frame goes through :func:`stylo.optimize.stylize_result`; the first on the full schedule, the others
as a short full-size run that starts from the previous result warped by optical flow, with a temporal loss
where the flow can be trusted. :mod:`~stylo.video.io` reads and writes clips (PyAV) and frame folders,
:mod:`~stylo.video.flow` computes flow, masks and the warping error (OpenCV), and
:mod:`~stylo.video.pipeline` ties them together with a checkpoint per frame.
"""
