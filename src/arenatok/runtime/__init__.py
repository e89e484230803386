"""What every command runs on: files written atomically and one run per directory (`atomic`),
the files derived from a build and which of them arenatok wrote (`derived`), worker processes
and threads (`workers`), and Ctrl-C and SIGTERM at safe points (`interrupts`)."""
