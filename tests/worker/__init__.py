"""The worker's tests: database layer, registry, dispatcher faults, outages, CLI, job modules."""
