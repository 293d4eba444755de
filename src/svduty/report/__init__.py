"""Reports built from analysis results: HTML written with Jinja2, charts as inline SVG."""
