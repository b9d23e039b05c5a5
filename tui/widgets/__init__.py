"""One big widget per panel, plus the pieces they share."""
