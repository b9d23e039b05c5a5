"""Modal screens: confirm, error, prompt, inspect, help and build."""
