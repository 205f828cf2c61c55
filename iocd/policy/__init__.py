"""Pure business rules: access, guardrails, lifecycle, precedence. No I/O."""
