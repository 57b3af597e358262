"""Serving over openpi's websocket + msgpack policy protocol.

- ``protocol``: msgpack with openpi's numpy encoding, error frames (numpy only)
- ``client``: ``WebsocketClientPolicy`` (numpy only, no torch: ships to robot computers)
- ``broker``: ``ActionChunkBroker`` one action per step, with temporal ensembling / chunk blending
- ``server``: ``PolicyServer`` (torch): validation, per-connection history, micro-batching
- ``remote``: ``RemotePolicy`` adapter so ``vlaforge eval --server`` drives a server like a local policy

Nothing is imported here, so ``import vlaforge.serve.client`` never pulls in torch.
"""
