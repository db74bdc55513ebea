"""Local development support: offline stamp signing and database seeding (scoring contract §11)."""
