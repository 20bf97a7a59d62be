"""Talking to a Kubernetes API server: a client from a kubeconfig, and what its answers and failures mean."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kubernetes import client as k8s
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import KubeConfigLoader
from urllib3.exceptions import HTTPError

from harness.errors import ClusterError, EngineError
from harness.safe_yaml import clip, read_yaml

__all__ = ["UNANSWERED", "api_client", "call", "exists", "is_ready", "refusal"]

UNANSWERED = (ApiException, HTTPError, OSError)  # what a call to an API server that does not answer raises
T = TypeVar("T")


def api_client(kubeconfig: Path, context: str = "") -> k8s.ApiClient:
    """A client of the cluster's API server, from a kubeconfig (``context``: one of its contexts, "" its current
    one); ClusterError naming it when it cannot be used."""
    configuration = k8s.Configuration()
    try:
        loaded = read_yaml(kubeconfig, "kubeconfig", ClusterError)
        KubeConfigLoader(config_dict=loaded, active_context=context or None,
                         config_base_path=str(Path(kubeconfig).resolve().parent)).load_and_set(configuration)
    except (ConfigException, ValueError, TypeError, AttributeError, KeyError) as error:
        raise ClusterError(f"{kubeconfig}: not a kubeconfig the harness can use ({clip(str(error), 200)}); "
                           "`chaos-harness cluster up` writes it again") from error
    configuration.retries = False
    return k8s.ApiClient(configuration)


def call(request: Callable[[], T], what: str) -> T:
    """``request``'s answer; EngineError naming ``what`` when the API refuses it, ClusterError when it does not
    answer."""
    try:
        return request()
    except ApiException as error:
        raise EngineError(f"cannot {what}: {error.status} {error.reason}: {refusal(error)}") from error
    except UNANSWERED as error:
        raise ClusterError(f"cannot {what}: the Kubernetes API server does not answer: {error}") from error


def refusal(error: ApiException) -> str:
    """The API's own words in a refusal (its Status message), else the start of the body."""
    try:
        return json.loads(error.body).get("message", "")
    except (TypeError, ValueError):
        return str(error.body or "")[:300]


def exists(read: Callable[[], object]) -> bool:
    """Whether ``read`` finds its object (False on 404; other errors raise)."""
    try:
        read()
        return True
    except ApiException as error:
        if error.status == 404:
            return False
        raise


def is_ready(node: k8s.V1Node) -> bool:
    """Whether a node's Ready condition is true."""
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
