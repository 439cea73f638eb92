"""The console service: the web dashboard (Installed, Catalog, install flows, per-install tabs)."""
