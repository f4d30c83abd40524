"""Models of the execution plan: webhook secrets, the delivery log and schedule slots (T1–T6)."""
