"""Interactive widgets for the notebooks (ipywidgets), one module per widget.

| widget | module | notebook |
|---|---|---|
| ``PayoffEditor`` | ``payoff`` | 01: change a matrix game, retrain, see what each method learned |
| ``BehaviourSlider`` | ``behaviour`` | 02: move the behaviour policy away from π, see the bias of Eq. 3 |
| ``TargetLagExplorer`` | ``target_lag`` | 03: move τ and T, see how far a soft target network trails |
"""
from nqmix_core.teaching.widgets.behaviour import BehaviourSlider
from nqmix_core.teaching.widgets.payoff import PayoffEditor
from nqmix_core.teaching.widgets.target_lag import TargetLagExplorer

__all__ = ["BehaviourSlider", "PayoffEditor", "TargetLagExplorer"]
