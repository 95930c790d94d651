"""§12 data exchange: the feed registry behind `load_feed`, feed files uploaded in the browser, the exports,
and HQ's pages for them. Each feed's loader lives with the app whose tables it writes; this package only
routes a file to it."""
