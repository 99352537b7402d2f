"""Shared by the services of the monorepo."""

GREETING = "shared greeting from libs/common"
