"""Use cases. Every door calls these; they own transactions and business rules."""
