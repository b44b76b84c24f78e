"""Deployment configuration: the YAML file that deploys connectors, routes, rules and policies.

``load_deployment(path)`` returns a validated :class:`~hub.config.model.Deployment` or raises
:class:`~hub.config.validate.DeploymentInvalidError` listing every problem as ``FILE:LINE:COLUMN:
message``; ``hub validate FILE`` prints them.
"""

from hub.config.model import Deployment
from hub.config.validate import DeploymentInvalidError, Problem, load_deployment, validate_text

__all__ = ["Deployment", "DeploymentInvalidError", "Problem", "load_deployment", "validate_text"]
