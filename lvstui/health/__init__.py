"""Health checks ("tests de vie"): checkers, their scheduler, effective weights, genhash."""
