"""faces: a self-hosted photo gallery that finds faces."""

__version__ = "0.1.0"
