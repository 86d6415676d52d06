"""The ground floor: configuration, errors, the warehouse, the lock, the rules model and loader, drug names.

Nothing here imports from transforms, flows, reports, the API or the CLI (docs/design.md)."""
