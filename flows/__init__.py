"""serosurv: flows."""
