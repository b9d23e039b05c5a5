"""One big widget per module, named after its class."""
