"""The stack renders the shipped ops/ files for loopback and changes nothing else in them."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from loadtests.stack import render
from tests.services import unavailable

SITE = render.NGINX_SITE.read_text()


def test_the_nginx_site_gets_the_loopback_upstreams_and_listen_address_and_keeps_the_rest():
    rendered = render.nginx_site(SITE, ["127.0.0.1:18601", "127.0.0.1:18602"], "127.0.0.1:18600")
    assert "server 127.0.0.1:18601 max_fails=1 fail_timeout=10s;" in rendered
    assert "server 127.0.0.1:18602 max_fails=1 fail_timeout=10s;" in rendered
    assert "listen 127.0.0.1:18600;" in rendered and "example.internal" not in rendered
    kept = [line for line in SITE.splitlines() if "example.internal" not in line and "listen 80;" not in line]
    assert [line for line in rendered.splitlines() if line in kept] == kept


def test_the_shipped_site_limits_uploads_hides_metrics_and_passes_the_user_header():
    assert "client_max_body_size 21m;" in SITE
    assert "location ~ ^/metrics(/|$) {\n        return 404;" in SITE
    assert "proxy_set_header X-Portal-User $http_x_portal_user;" in SITE
    assert "proxy_read_timeout 65s;" in SITE and "non_idempotent" not in SITE.split("proxy_next_upstream ")[1].split(";")[0]


def test_a_site_of_another_shape_is_refused_not_half_rendered():
    with pytest.raises(render.RenderError, match="listen 80"):
        render.nginx_site(SITE.replace("listen 80;", "listen 8080;"), ["127.0.0.1:1"], "127.0.0.1:2")
    with pytest.raises(render.RenderError, match="upstream"):
        render.nginx_site(SITE.replace("upstream arb_portal", "upstream other"), ["127.0.0.1:1"], "127.0.0.1:2")


def test_the_scrape_config_targets_the_instances_every_5_s_with_the_rules_and_no_alertmanager(tmp_path):
    config = json.loads(render.prometheus_config(render.PROMETHEUS_CONFIG.read_text(), ["127.0.0.1:1", "127.0.0.1:2"],
                                                 [tmp_path / "rules.yml"]))
    job = config["scrape_configs"][0]
    assert job["static_configs"] == [{"targets": ["127.0.0.1:1", "127.0.0.1:2"]}]
    assert job["scrape_interval"] == "5s" and job["metrics_path"] == "/metrics"
    assert config["rule_files"] == [str(tmp_path / "rules.yml")] and "alerting" not in config


def test_the_rules_override_shortens_only_the_named_alerts_for_and_the_intervals():
    shipped = yaml.safe_load(render.RULES.read_text())
    fast = json.loads(render.rules_override(render.RULES.read_text(), {"PortalRefactoredServerErrorRateHigher": "10s"}, "5s"))
    for group, original in zip(fast["groups"], shipped["groups"]):
        assert group["interval"] == "5s"
        for rule, before in zip(group["rules"], original["rules"]):
            if rule.get("alert") == "PortalRefactoredServerErrorRateHigher":
                assert (before["for"], rule["for"]) == ("10m", "10s")
                rule = {**rule, "for": before["for"]}
            assert rule == before
    with pytest.raises(render.RenderError, match="NoSuchAlert"):
        render.rules_override(render.RULES.read_text(), {"NoSuchAlert": "1s"})


def test_the_rendered_prometheus_files_pass_promtool(tmp_path):
    promtool = shutil.which("promtool")
    if not promtool:
        unavailable("promtool (Debian package prometheus) is not installed")
    rules = tmp_path / "rules.yml"
    rules.write_text(render.rules_override(render.RULES.read_text(), {"PortalRefactoredServerErrorRateHigher": "10s"}, "5s"))
    config = tmp_path / "prometheus.yml"
    config.write_text(render.prometheus_config(render.PROMETHEUS_CONFIG.read_text(), ["127.0.0.1:1"], [rules]))
    done = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_drained_instance_is_marked_down_and_the_others_are_not():
    rendered = render.nginx_site(SITE, ["127.0.0.1:1", "127.0.0.1:2"], "127.0.0.1:3", down=["127.0.0.1:1"])
    assert "server 127.0.0.1:1 max_fails=1 fail_timeout=10s down;" in rendered
    assert "server 127.0.0.1:2 max_fails=1 fail_timeout=10s;" in rendered
