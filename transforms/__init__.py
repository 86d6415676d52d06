"""serosurv: transforms."""
