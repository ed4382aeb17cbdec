"""Revenue recognition (schedules per invoice line) and the finance reports built on them."""
