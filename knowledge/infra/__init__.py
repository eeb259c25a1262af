"""What every process runs on, beside the data layer: settings, logs, the clock, database
notifications, the embedded PostgreSQL server, fault hooks for the crash tests, and the
pause between loop passes."""
