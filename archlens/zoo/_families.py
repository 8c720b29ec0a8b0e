"""Imports every family module so its @register_model decorators run (order = listing order)."""
from archlens.zoo import classic, vgg, inception, resnet  # noqa: F401
