"""The Passport scorer Lambda: every scoring endpoint behind the ALB event format (scoring contract)."""
