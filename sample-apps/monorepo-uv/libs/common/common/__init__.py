"""Shared by the services of the workspace."""

GREETING = "shared greeting from the uv workspace's libs/common"
