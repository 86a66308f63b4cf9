"""Model jobs (download, convert, quantize, verify, register) in their own process: what a job is
and where it is kept (``store``), running one (``runner``), one job per source (``locks``), and
clearing what dead processes left (``leftovers``)."""
