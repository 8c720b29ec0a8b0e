"""The model zoo: faithful, untrained builds of classic CNNs, registered by name.

>>> from archlens import zoo
>>> zoo.card("inception_v3").published_params
27161264
"""
from archlens.zoo.registry import (ModelCard, Paper, card, families, get_model, list_models,
                                   register_model)

__all__ = ["ModelCard", "Paper", "card", "families", "get_model", "list_models", "register_model"]
