"""Render the deployer's ops/ files for a loopback stack: pure text in, text out.

Each function changes only what differs on loopback (addresses, ports, paths) and fails
loudly if the shipped file no longer has the shape it edits, so `make stack` always runs
the files a deployer copies, not a second copy that drifts.

- `nginx_site`: the upstream servers, the listen address and the server name of
  ops/nginx/arb-portal.conf;
- `nginx_main`: the small nginx.conf around the site (pid, logs and temp files under the
  stack's folder, so no system path is touched);
- `prometheus_config`: ops/prometheus/prometheus.yml with the stack's targets, scrape
  interval and rule files, and without the example Alertmanager;
- `rules_override`: a copy of ops/prometheus/rules.yml with chosen alerts' `for:` (and
  the groups' evaluation interval) shortened, for tests that must see an alert fire in
  seconds, never by editing the shipped file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
NGINX_SITE = ROOT / "ops" / "nginx" / "arb-portal.conf"
PROMETHEUS_CONFIG = ROOT / "ops" / "prometheus" / "prometheus.yml"
RULES = ROOT / "ops" / "prometheus" / "rules.yml"
PORTAL_JOB = "arb-portal"

_UPSTREAM = re.compile(r"(upstream arb_portal \{\n)(.*?)(\n\})", re.S)
_SERVER_LINE = re.compile(r"^(\s*)server \S+( [^;]*)?;$", re.M)
_LISTEN = re.compile(r"^(\s*)listen 80;$", re.M)
_SERVER_NAME = re.compile(r"^(\s*)server_name \S+;$", re.M)


class RenderError(ValueError):
    """A shipped ops file no longer has the shape the stack renders."""


def _sub_once(pattern: re.Pattern, replacement, text: str, what: str) -> str:
    result, count = pattern.subn(replacement, text)
    if count != 1:
        raise RenderError(f"{what}: expected exactly one match in the shipped file, found {count}")
    return result


def nginx_site(site: str, upstreams: Iterable[str], listen: str, down: Iterable[str] = ()) -> str:
    """The site with `upstreams` (host:port each) as its servers, listening on `listen`;
    those in `down` are marked `down` (drained: nginx sends them nothing new)."""
    upstreams, down = list(upstreams), set(down)
    if not upstreams:
        raise RenderError("nginx_site needs at least one upstream")

    def servers(match: re.Match) -> str:
        body = match.group(2)
        found = list(_SERVER_LINE.finditer(body))
        if not found:
            raise RenderError("upstream arb_portal: no server line to copy")
        indent, options = found[0].group(1), found[0].group(2) or ""
        comments = "\n".join(line for line in body.splitlines() if line.strip().startswith("#"))
        lines = [f"{indent}server {address}{options}{' down' if address in down else ''};" for address in upstreams]
        return match.group(1) + "\n".join(filter(None, [comments, *lines])) + match.group(3)

    text = _sub_once(_UPSTREAM, servers, site, "upstream arb_portal { ... }")
    text = _sub_once(_LISTEN, lambda m: f"{m.group(1)}listen {listen};", text, "listen 80;")
    return _sub_once(_SERVER_NAME, lambda m: f"{m.group(1)}server_name localhost;", text, "server_name")


def nginx_main(folder: Path, site_path: Path, user: str | None = None) -> str:
    """An nginx.conf that keeps everything under `folder` and includes the rendered site."""
    temp = {name: folder / "temp" / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    lines = [
        "# Rendered by loadtests/stack (make stack): everything under this folder.",
        *( [f"user {user};"] if user else [] ),
        "worker_processes 1;",
        f"pid {folder / 'nginx.pid'};",
        f"error_log {folder / 'error.log'} warn;",
        "events { worker_connections 512; }",
        "http {",
        "    include /etc/nginx/mime.types;",
        "    default_type application/octet-stream;",
        "    log_format stack '$remote_addr [$time_iso8601] \"$request\" $status $body_bytes_sent '",
        "                     'rid=$request_id upstream=$upstream_addr upstream_status=$upstream_status '",
        "                     'rt=$request_time urt=$upstream_response_time';",
        f"    access_log {folder / 'access.log'} stack;",
        f"    client_body_temp_path {temp['client_body']};",
        f"    proxy_temp_path {temp['proxy']};",
        f"    fastcgi_temp_path {temp['fastcgi']};",
        f"    uwsgi_temp_path {temp['uwsgi']};",
        f"    scgi_temp_path {temp['scgi']};",
        f"    include {site_path};",
        "}",
    ]
    return "\n".join(lines) + "\n"


def prometheus_config(shipped: str, targets: Iterable[str], rule_files: Iterable[Path],
                      scrape_interval: str = "5s", evaluation_interval: str = "5s") -> str:
    """The shipped scrape config pointed at `targets`, scraping every `scrape_interval`."""
    config = yaml.safe_load(shipped)
    jobs = [job for job in config.get("scrape_configs", []) if job.get("job_name") == PORTAL_JOB]
    if len(jobs) != 1:
        raise RenderError(f"prometheus.yml: expected one scrape job named {PORTAL_JOB}, found {len(jobs)}")
    job = jobs[0]
    job["static_configs"] = [{"targets": list(targets)}]
    job["scrape_interval"] = scrape_interval
    # A scrape must end before the next one starts.
    job["scrape_timeout"] = scrape_interval
    config["global"] = {**config.get("global", {}), "scrape_interval": scrape_interval,
                        "evaluation_interval": evaluation_interval}
    config["rule_files"] = [str(path) for path in rule_files]
    config.pop("alerting", None)  # the example Alertmanager does not exist here; alerts show in /api/v1/alerts
    # JSON is YAML: written without a second YAML emitter's opinions.
    return json.dumps(config, indent=2) + "\n"


def rules_override(shipped: str, for_: Mapping[str, str], interval: str | None = None) -> str:
    """The shipped rules with the named alerts' `for:` replaced (and every group's interval)."""
    rules = yaml.safe_load(shipped)
    seen = set()
    for group in rules["groups"]:
        if interval:
            group["interval"] = interval
        for rule in group["rules"]:
            if rule.get("alert") in for_:
                rule["for"] = for_[rule["alert"]]
                seen.add(rule["alert"])
    missing = set(for_) - seen
    if missing:
        raise RenderError(f"rules.yml has no alert named {', '.join(sorted(missing))}")
    return json.dumps(rules, indent=2) + "\n"
