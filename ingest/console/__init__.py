"""The web console that `newsingest serve` shows at /: search, articles, sources and an overview, as
server-rendered pages (no front-end build, no CDN), behind the same guard and tokens as the API."""
