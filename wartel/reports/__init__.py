"""Regional compliance reports: figures per facility and region, CSV, printable HTML, monthly archive."""
