"""Pure payload mappings of smart plugs and custom devices: (topic, payload) -> :class:`Sample`."""

from edge.sources.sample import PayloadError, Sample

__all__ = ["PayloadError", "Sample"]
