"""What every endpoint shares: problem+json errors, typed dependencies, input checks, CSV and
the served model's description. No domain imports; domains import it."""
