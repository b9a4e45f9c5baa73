"""Model drivers: formula + data -> design blocks -> numeric core -> results."""
