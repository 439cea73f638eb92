"""The registry service: workspaces, catalog, versions, installations, settings, secrets."""
