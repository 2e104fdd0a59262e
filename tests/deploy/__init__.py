"""Checks of the deployment files (Dockerfile, docker-compose.yml, deploy/) without a Docker engine.

The files are parsed and compared with what the code really runs and reads: the commands from
devstack's argv builders, the variables from `Settings`, the search attributes from
contracts/ids.py, the PDM version from the Makefile. deploy/temporal/setup.sh runs for real
against the Temporal dev server.
"""
