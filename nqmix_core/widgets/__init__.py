"""Interactive widgets for the notebooks (ipywidgets), one module per widget.

| widget | module | notebook |
|---|---|---|
| ``PayoffEditor`` | ``payoff`` | 01: change a matrix game, retrain, see what each method learned |
"""
from nqmix_core.widgets.payoff import PayoffEditor

__all__ = ["PayoffEditor"]
