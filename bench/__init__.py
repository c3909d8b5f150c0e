"""Load benchmark: the service against a bare reference app on the same stack (`make bench`)."""
