"""Use cases. Each public function that writes owns its transaction (through database.run_write)."""
