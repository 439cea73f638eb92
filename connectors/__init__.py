"""First-party connectors, written only with the SDK; each `<key>/` directory is one bundle."""
