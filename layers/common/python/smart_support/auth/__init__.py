"""Identity: tokens and principals (tokens), the signing secret (secrets)."""
