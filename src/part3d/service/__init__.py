"""The part3d server: Tencent Cloud API 3.0 front door (``tencent/``), job records, queue and
result storage. It knows nothing of geometry beyond calling ``part3d.pipeline.run``.

Work in progress (issue 13): the request signatures are in place; the server is not yet.
"""
