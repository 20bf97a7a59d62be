"""The shipped lint rules: Swarm's read the compose file, Kubernetes' the app's objects."""
