"""Ready-made entities, importable as ``autonomic.entities``.

The core never imports this package; blueprints name these types through the
``autonomic.entity_types`` entry points (``cluster``, ``sim-service``, ...).
"""
