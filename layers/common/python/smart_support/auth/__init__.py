"""Identity: who a request acts for (principals), tokens and authentication (tokens), verifying them in each
identity mode (verifiers), the signing secret (secrets)."""
