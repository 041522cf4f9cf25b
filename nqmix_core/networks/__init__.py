"""Neural networks: the shared agent network, the per-agent actors, the mixers."""
from nqmix_core.networks.actors import Actors
from nqmix_core.networks.agent import AgentNetwork, agent_inputs, sequence_inputs
from nqmix_core.networks.mixers import count_parameters, make_mixer, nqmix_hidden_units

__all__ = ["Actors", "AgentNetwork", "agent_inputs", "count_parameters", "make_mixer",
           "nqmix_hidden_units", "sequence_inputs"]
