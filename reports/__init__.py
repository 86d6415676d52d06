"""serosurv: reports."""
