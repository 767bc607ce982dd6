#!/usr/bin/env python3
"""Builds the Grafana dashboards of this folder (*.json) from the definitions below.

The JSON files are committed (the Helm chart and Grafana load them as they are); this script is
how they are written, the way the kubernetes-mixin builds its dashboards from jsonnet. Edit the
definitions here, run `python3 monitoring/dashboards/build.py`, commit both. `--check` exits 1
when a JSON file differs from what this script writes (tests/monitoring/monitoring_test.sh).

Conventions every dashboard follows (tests/monitoring/check_dashboards.py enforces them):
- datasources are variables: Prometheus panels use ${datasource}, Loki panels use ${loki};
- no hard-coded instance, pod or target: those are variables or `by` labels;
- every metric comes from docs/interfaces.md, a recording rule of monitoring/rules, or the
  allowlist of Kubernetes metrics (Fleet overview, "Kubernetes" row only);
- LogQL queries are documented in docs/monitoring.md.
"""

from __future__ import annotations

import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
PROM = {"type": "prometheus", "uid": "${datasource}"}
LOKI = {"type": "loki", "uid": "${loki}"}


# ------------------------------------------------------------------------------- variables

def ds_var(name="datasource", kind="prometheus", label="Prometheus"):
    return {"name": name, "label": label, "type": "datasource", "query": kind,
            "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []}


def query_var(name, query, label=None, multi=True, include_all=True, ds=PROM):
    return {"name": name, "label": label or name, "type": "query", "datasource": ds,
            "query": {"query": query, "refId": f"var-{name}"}, "definition": query,
            "refresh": 2, "sort": 1, "multi": multi, "includeAll": include_all,
            "allValue": ".*" if include_all else None, "current": {}, "hide": 0,
            "options": [], "regex": ""}


def custom_var(name, values, label=None):
    opts = [{"text": v, "value": v, "selected": False} for v in values]
    return {"name": name, "label": label or name, "type": "custom", "query": ",".join(values),
            "multi": True, "includeAll": True, "allValue": ".*", "current": {}, "hide": 0,
            "options": opts}


# ---------------------------------------------------------------------------------- panels

def target(expr, legend="", instant=False, ds=PROM, ref="A"):
    t = {"datasource": ds, "expr": expr, "refId": ref}
    if ds is PROM:
        t.update({"legendFormat": legend or "__auto", "range": not instant, "instant": instant})
    else:
        t.update({"queryType": "range"})
        if legend:
            t["legendFormat"] = legend
    return t


def targets(exprs, **kw):
    out = []
    for i, e in enumerate(exprs):
        expr, legend = e if isinstance(e, tuple) else (e, "")
        out.append(target(expr, legend, ref=chr(ord("A") + i), **kw))
    return out


def timeseries(title, exprs, unit="short", w=12, h=8, desc="", stack=False, ds=PROM, **fc):
    defaults = {"unit": unit, "custom": {"fillOpacity": 10, "lineWidth": 1, "showPoints": "never",
                                          "stacking": {"mode": "normal" if stack else "none"}}}
    defaults.update(fc)
    return {"type": "timeseries", "title": title, "description": desc, "datasource": ds,
            "targets": targets(exprs, ds=ds), "_w": w, "_h": h,
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "table", "placement": "bottom",
                                   "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}}


def stat(title, expr, unit="short", w=4, h=4, desc="", thresholds=None, legend=""):
    steps = thresholds or [{"color": "green", "value": None}]
    return {"type": "stat", "title": title, "description": desc, "datasource": PROM,
            "targets": [target(expr, legend, instant=True)], "_w": w, "_h": h,
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "background", "graphMode": "none", "textMode": "auto"}}


def table(title, exprs, w=24, h=8, desc="", rename=None):
    t = targets(exprs, instant=True)
    for x in t:
        x["format"] = "table"
    transforms = [{"id": "merge", "options": {}}]
    if rename is not None:
        transforms.append({"id": "organize", "options": {
            "excludeByName": {"Time": True, "__name__": True, "job": True},
            "renameByName": rename}})
    return {"type": "table", "title": title, "description": desc, "datasource": PROM,
            "targets": t, "_w": w, "_h": h, "transformations": transforms,
            "fieldConfig": {"defaults": {}, "overrides": []}, "options": {"showHeader": True}}


def logs(title, expr, w=24, h=12, desc=""):
    return {"type": "logs", "title": title, "description": desc, "datasource": LOKI,
            "targets": [target(expr, ds=LOKI)], "_w": w, "_h": h,
            "options": {"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending",
                        "enableLogDetails": True, "prettifyLogMessage": False}}


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_w": 24, "_h": 1}


def layout(panels):
    """Assign ids and grid positions left to right, top to bottom."""
    x = y = row_h = 0
    out = []
    for i, p in enumerate(panels, start=1):
        w, h = p.pop("_w"), p.pop("_h")
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p["id"] = i
        p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        x += w
        row_h = max(row_h, h)
        out.append(p)
    return out


def dashboard(uid, title, description, variables, panels, tags=(), time_from="now-6h"):
    return {
        "uid": uid, "title": title, "description": description,
        "tags": ["nodeops", *tags], "timezone": "utc", "editable": True,
        "schemaVersion": 39, "version": 1, "graphTooltip": 1, "refresh": "30s",
        "time": {"from": time_from, "to": "now"}, "fiscalYearStartMonth": 0,
        "links": [{"title": "NodeOps dashboards", "type": "dashboards", "tags": ["nodeops"],
                   "asDropdown": True, "includeVars": True, "keepTime": True}],
        "annotations": {"list": [{
            "name": "Alerts (critical)", "datasource": PROM, "enable": True,
            "iconColor": "red", "expr": 'ALERTS{alertstate="firing", severity="critical"}',
            "step": "1m", "titleFormat": "{{alertname}}", "textFormat": "{{chain}} {{target}} {{pod}} {{upstream}}"}]},
        "templating": {"list": variables},
        "panels": layout(panels),
    }


RED_GREEN = [{"color": "red", "value": None}, {"color": "green", "value": 1}]
GREEN_RED = [{"color": "green", "value": None}, {"color": "red", "value": 1}]

# -------------------------------------------------------------------------- the dashboards

CHAIN_NODE = query_var("chain", "label_values(nodeops_node_head, chain)", "Chain")
CHAIN_GW = query_var("chain", "label_values(nodeops_gateway_requests_total, chain)", "Chain")
SEL = 'chain=~"$chain"'
WITH_POOL = " * on (instance, chain, upstream) group_left (pool) nodeops_gateway_upstream_info"


def fleet():
    return dashboard(
        "nodeops-fleet", "NodeOps / Fleet overview",
        "Every chain, node and gateway at a glance; start here.",
        [ds_var(), CHAIN_NODE],
        [
            stat("Nodes up", f"sum(nodeops_node_up{{{SEL}}})", desc="Targets answering the exporter's probe."),
            stat("Nodes not ready", f"count(nodeops_node_ready{{{SEL}}} == 0) or vector(0)",
                 thresholds=GREEN_RED, desc="Targets whose /ready is 503 (syncing, lagging, stale head)."),
            stat("Gateways up", 'sum(up{job=~".*nodeops-gateway.*"})', thresholds=RED_GREEN),
            stat("Exporters up", 'sum(up{job=~".*nodeops-exporter.*"})', thresholds=RED_GREEN),
            stat("Critical alerts", 'count(ALERTS{alertstate="firing", severity="critical"}) or vector(0)',
                 thresholds=GREEN_RED),
            stat("Warnings", 'count(ALERTS{alertstate="firing", severity="warning"}) or vector(0)',
                 thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1}]),
            row("Chains"),
            stat("Availability, 1h", f"chain:nodeops_gateway_availability:ratio_rate1h{{{SEL}}}",
                 unit="percentunit", w=8, legend="{{chain}}",
                 thresholds=[{"color": "red", "value": None}, {"color": "orange", "value": 0.99},
                             {"color": "green", "value": 0.999}]),
            stat("Error budget left, 30d", f"chain:nodeops_gateway_error_budget_remaining:ratio30d{{{SEL}}}",
                 unit="percentunit", w=8, legend="{{chain}}",
                 thresholds=[{"color": "red", "value": None}, {"color": "orange", "value": 0.25},
                             {"color": "green", "value": 0.5}]),
            stat("Healthy upstreams", f"min by (chain) (nodeops_gateway_chain_healthy_upstreams{{{SEL}}})",
                 w=8, legend="{{chain}}",
                 thresholds=[{"color": "red", "value": None}, {"color": "orange", "value": 1},
                             {"color": "green", "value": 2}]),
            timeseries("Requests/s per chain", [(f"chain:nodeops_gateway_requests:rate5m{{{SEL}}}", "{{chain}}")],
                       unit="reqps"),
            timeseries("Chain head (gateway view)", [(f"max by (chain) (nodeops_gateway_chain_head{{{SEL}}})", "{{chain}}")],
                       unit="none"),
            row("Nodes"),
            table("Targets", [
                f"max by (chain, target, instance) (nodeops_node_up{{{SEL}}})",
                f"max by (chain, target, instance) (nodeops_node_ready{{{SEL}}})",
                f"max by (chain, target, instance) (nodeops_node_head{{{SEL}}})",
                f"max by (chain, target, instance) (nodeops_node_head_lag_blocks{{{SEL}}})",
                f"max by (chain, target, instance) (nodeops_node_head_age_seconds{{{SEL}}})",
            ], rename={"Value #A": "up", "Value #B": "ready", "Value #C": "head", "Value #D": "lag",
                       "Value #E": "head age (s)"},
                desc="One row per node target: what the exporter sees now."),
            row("Kubernetes (kube-state-metrics, cAdvisor, node-exporter; empty in the local stack)"),
            timeseries("Container CPU / limit", [(
                'sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{container!="", container!="POD"}[$__rate_interval]))'
                ' / sum by (namespace, pod, container) (kube_pod_container_resource_limits{resource="cpu"})',
                "{{pod}}/{{container}}")], unit="percentunit", w=8),
            timeseries("Container memory / limit", [(
                'sum by (namespace, pod, container) (container_memory_working_set_bytes{container!="", container!="POD"})'
                ' / sum by (namespace, pod, container) (kube_pod_container_resource_limits{resource="memory"})',
                "{{pod}}/{{container}}")], unit="percentunit", w=8),
            timeseries("Gateway replicas (HPA)", [(
                'max by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_current_replicas{horizontalpodautoscaler=~".*nodeops-gateway.*"})',
                "{{horizontalpodautoscaler}}")], w=8),
            timeseries("Host CPU busy", [(
                '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[$__rate_interval]))', "{{instance}}")],
                unit="percentunit"),
            timeseries("Host memory used", [(
                "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "{{instance}}")],
                unit="percentunit"),
        ], tags=["overview"])


def node_health():
    # Pool and pod come from the ServiceMonitor (podTargetLabels, pod relabeling); in the local
    # stack they do not exist, and "All" (.*) matches the empty label too. Target names repeat
    # across pods and pools (execution, bor, agave), so legends name the pod.
    where = 'nodeops_io_pool=~"$pool", pod=~"$pod"'
    tsel = f'chain=~"$chain", target=~"$target", {where}'
    dsel = f'chain=~"$chain", {where}'  # disk series are per volume, not per target
    return dashboard(
        "nodeops-node-health", "NodeOps / Node health",
        "Per chain and node: head, lag, sync, peers, disk and the exporter's probes.",
        [ds_var(), CHAIN_NODE,
         query_var("pool", 'label_values(nodeops_node_up{chain=~"$chain"}, nodeops_io_pool)', "Pool"),
         query_var("pod", 'label_values(nodeops_node_up{chain=~"$chain", nodeops_io_pool=~"$pool"}, pod)', "Pod"),
         query_var("target", 'label_values(nodeops_node_head{chain=~"$chain"}, target)', "Node")],
        [
            row("Head and lag"),
            timeseries("Head", [(f"nodeops_node_head{{{tsel}}}", "{{target}} {{pod}}"),
                                (f"max by (chain) (nodeops_gateway_chain_head{{{SEL}}})", "gateway: {{chain}}")],
                       unit="none", desc="Block (or slot) height per node, and the best head the gateway sees."),
            timeseries("Lag (blocks behind reference)", [(f"nodeops_node_head_lag_blocks{{{tsel}}}", "{{target}} {{pod}}")],
                       unit="none"),
            timeseries("Head age", [(f"nodeops_node_head_age_seconds{{{tsel}}}", "{{target}} {{pod}}")], unit="s", w=8),
            timeseries("Up / ready / live", [(f"nodeops_node_up{{{tsel}}}", "up {{target}} {{pod}}"),
                                             (f"nodeops_node_ready{{{tsel}}}", "ready {{target}} {{pod}}"),
                                             (f"nodeops_node_live{{{tsel}}}", "live {{target}} {{pod}}")], w=8, max=1, min=0),
            timeseries("Blocks/min", [(f"rate(nodeops_node_head{{{tsel}}}[$__rate_interval]) * 60", "{{target}} {{pod}}")],
                       unit="none", w=8),
            row("Sync"),
            timeseries("Execution sync progress", [
                (f"eth_exe_sync_percentage{{{tsel}}}", "{{target}} {{pod}}")], unit="percent", w=8),
            timeseries("Syncing", [
                (f"eth_exe_sync_is_syncing{{{tsel}}}", "execution {{target}} {{pod}}"),
                (f"eth_con_sync_is_syncing{{{tsel}}}", "consensus {{target}} {{pod}}"),
                (f"nodeops_heimdall_catching_up{{{tsel}}}", "heimdall {{target}} {{pod}}")], w=8, max=1, min=0),
            timeseries("Distance to head", [
                (f"eth_exe_sync_highest_block{{{tsel}}} - eth_exe_sync_current_block{{{tsel}}}", "execution blocks {{target}}"),
                (f"eth_con_sync_distance{{{tsel}}}", "consensus slots {{target}}"),
                (f"solana_node_num_slots_behind{{{tsel}}}", "solana slots {{target}}")], unit="none", w=8),
            timeseries("Finality checkpoints (epoch)", [
                (f"eth_con_beacon_finality_checkpoint_epochs{{{tsel}}}", "{{target}} {{pod}} {{checkpoint}}")], unit="none", w=8),
            timeseries("Consensus head slot", [(f"eth_con_sync_head_slot{{{tsel}}}", "{{target}} {{pod}}")], unit="none", w=8),
            timeseries("Solana health", [(f"solana_node_is_healthy{{{tsel}}}", "{{target}} {{pod}}"),
                                         (f"solana_node_epoch_number{{{tsel}}}", "epoch {{target}} {{pod}}")], w=8),
            timeseries("Heimdall", [
                (f"nodeops_heimdall_latest_block_height{{{tsel}}}", "height {{target}} {{pod}}"),
                (f"nodeops_heimdall_checkpoints{{{tsel}}}", "checkpoints {{target}} {{pod}}"),
                (f"nodeops_heimdall_milestones{{{tsel}}}", "milestones {{target}} {{pod}}"),
                (f"nodeops_heimdall_span_id{{{tsel}}}", "span {{target}} {{pod}}")], unit="none"),
            timeseries("Solana slot and block height", [
                (f"solana_node_slot_height{{{tsel}}}", "slot {{target}} {{pod}}"),
                (f"solana_node_block_height{{{tsel}}}", "block {{target}} {{pod}}")], unit="none"),
            row("Peers"),
            timeseries("Peers", [(f"eth_exe_net_peer_count{{{tsel}}}", "execution {{target}} {{pod}}"),
                                 (f'eth_con_peers{{{tsel}, state="connected"}}', "consensus {{target}} {{pod}}"),
                                 (f"nodeops_heimdall_peers{{{tsel}}}", "heimdall {{target}} {{pod}}"),
                                 (f"nodeops_solana_gossip_peers{{{tsel}}}", "solana gossip {{target}} {{pod}}")],
                       unit="none"),
            table("Client versions", [
                f"max by (chain, target, version) (eth_exe_web3_client_version{{{tsel}}})",
                f"max by (chain, target, version) (eth_con_node_version{{{tsel}}})",
                f"max by (chain, target, version) (solana_node_version{{{tsel}}})",
                f"max by (chain, target) (eth_exe_chain_id{{{tsel}}})",
            ], w=12, rename={}),
            row("Disk"),
            timeseries("Disk used", [(f"1 - eth_disk_available_bytes{{{dsel}}} / eth_disk_size_bytes{{{dsel}}}",
                                      "{{pod}} {{volume}}")], unit="percentunit", w=8, max=1, min=0),
            timeseries("Disk free and data size", [
                (f"eth_disk_available_bytes{{{dsel}}}", "available {{pod}} {{volume}}"),
                (f"eth_disk_usage_bytes{{{dsel}}}", "used {{pod}} {{volume}}")], unit="bytes", w=8),
            timeseries("Free space in 24h (linear prediction)", [
                (f"predict_linear(eth_disk_available_bytes{{{dsel}}}[6h], 86400)", "{{pod}} {{volume}}")], unit="bytes", w=8),
            row("Exporter"),
            timeseries("Probe duration", [(f"nodeops_exporter_probe_duration_seconds{{{tsel}}}", "{{target}} {{pod}}")],
                       unit="s", w=8),
            timeseries("Probe errors/s", [(f"sum by (target, reason) (rate(nodeops_exporter_probe_errors_total{{{tsel}}}[$__rate_interval]))",
                                           "{{target}} {{pod}} {{reason}}")], unit="ops", w=8),
            timeseries("Since last successful probe", [
                (f"time() - nodeops_exporter_last_success_timestamp_seconds{{{tsel}}}", "{{target}} {{pod}}")], unit="s", w=8),
            timeseries("Exporter process", [
                ('rate(process_cpu_seconds_total{job=~".*nodeops-exporter.*"}[$__rate_interval])', "cpu {{instance}}"),
                ('nodeops_exporter_up', "up {{instance}}")], w=12),
            timeseries("Exporter memory", [
                ('process_resident_memory_bytes{job=~".*nodeops-exporter.*"}', "{{instance}}")], unit="bytes", w=12),
        ], tags=["nodes"])


def gateway():
    msel = 'chain=~"$chain", method=~"$method"'
    return dashboard(
        "nodeops-gateway", "NodeOps / Gateway traffic",
        "Requests, errors, latency per chain, method and upstream; retries, upstream health, rollouts.",
        [ds_var(), CHAIN_GW,
         query_var("method", 'label_values(nodeops_gateway_requests_total{chain=~"$chain"}, method)', "Method")],
        [
            row("Traffic"),
            timeseries("Requests/s per chain and outcome", [(
                f"sum by (chain, outcome) (rate(nodeops_gateway_requests_total{{{msel}}}[$__rate_interval]))",
                "{{chain}} {{outcome}}")], unit="reqps", stack=True),
            timeseries("Error ratio (failed / answered + failed)", [(
                f'sum by (chain) (rate(nodeops_gateway_requests_total{{{msel}, outcome="failed"}}[$__rate_interval]))'
                f' / sum by (chain) (rate(nodeops_gateway_requests_total{{{msel}, outcome!="rejected"}}[$__rate_interval]))',
                "{{chain}}")], unit="percentunit",
                desc="The SLO error ratio: requests the gateway could not answer. Objective: below 0.1%."),
            timeseries("Requests/s per method", [(
                f"sum by (method) (rate(nodeops_gateway_requests_total{{{msel}}}[$__rate_interval]))", "{{method}}")],
                unit="reqps"),
            timeseries("Rejected and RPC errors per method", [(
                f'sum by (method, outcome) (rate(nodeops_gateway_requests_total{{{msel}, outcome=~"rejected|rpc_error"}}[$__rate_interval]))',
                "{{method}} {{outcome}}")], unit="reqps"),
            row("Latency"),
            timeseries("p50 / p99 per chain", [
                (f'histogram_quantile(0.50, sum by (chain, le) (rate(nodeops_gateway_request_duration_seconds_bucket{{{msel}}}[$__rate_interval])))', "p50 {{chain}}"),
                (f'histogram_quantile(0.99, sum by (chain, le) (rate(nodeops_gateway_request_duration_seconds_bucket{{{msel}}}[$__rate_interval])))', "p99 {{chain}}")],
                unit="s"),
            timeseries("p99 per method", [(
                f'histogram_quantile(0.99, sum by (method, le) (rate(nodeops_gateway_request_duration_seconds_bucket{{{msel}}}[$__rate_interval])))',
                "{{method}}")], unit="s"),
            timeseries("Requests within 1 s (latency SLI)", [(
                f"chain:nodeops_gateway_requests_within_1s:ratio_rate5m{{{SEL}}}", "{{chain}}")], unit="percentunit",
                desc="Objective: 99% of requests within 1 s."),
            timeseries("Upstream p50 / p99", [
                (f'histogram_quantile(0.50, sum by (upstream, le) (rate(nodeops_gateway_upstream_request_duration_seconds_bucket{{{SEL}}}[$__rate_interval])))', "p50 {{upstream}}"),
                (f'histogram_quantile(0.99, sum by (upstream, le) (rate(nodeops_gateway_upstream_request_duration_seconds_bucket{{{SEL}}}[$__rate_interval])))', "p99 {{upstream}}")],
                unit="s"),
            row("Upstreams"),
            timeseries("Upstream requests/s by outcome", [(
                f"sum by (upstream, outcome) (rate(nodeops_gateway_upstream_requests_total{{{SEL}}}[$__rate_interval]))",
                "{{upstream}} {{outcome}}")], unit="reqps", w=8),
            timeseries("Upstream errors/s by reason", [(
                f"sum by (upstream, reason) (rate(nodeops_gateway_upstream_errors_total{{{SEL}}}[$__rate_interval]))",
                "{{upstream}} {{reason}}")], unit="ops", w=8),
            timeseries("Retries/s by reason", [(
                f"sum by (chain, reason) (rate(nodeops_gateway_retries_total{{{SEL}}}[$__rate_interval]))",
                "{{chain}} {{reason}}")], unit="ops", w=8),
            # The pool (blue/green) of each upstream, from nodeops_gateway_upstream_info: an idle pool
            # out of rotation during its upgrade is expected, the active one is not.
            timeseries("Upstream healthy (in rotation), by pool", [(
                f"min by (chain, pool, upstream) (nodeops_gateway_upstream_healthy{{{SEL}}}{WITH_POOL})",
                "{{chain}} {{pool}} {{upstream}}")], w=8, max=1, min=0),
            timeseries("Upstream lag (blocks), by pool", [(
                f"max by (chain, pool, upstream) (nodeops_gateway_upstream_lag_blocks{{{SEL}}}{WITH_POOL})",
                "{{chain}} {{pool}} {{upstream}}")], unit="none", w=8),
            timeseries("Upstream head", [
                (f"max by (chain, upstream) (nodeops_gateway_upstream_head{{{SEL}}})", "{{upstream}}"),
                (f"max by (chain) (nodeops_gateway_chain_head{{{SEL}}})", "chain {{chain}}")], unit="none", w=8),
            table("Upstreams", [
                f"max by (chain, upstream, pool, role) (nodeops_gateway_upstream_info{{{SEL}}})",
                f"min by (chain, upstream) (nodeops_gateway_upstream_healthy{{{SEL}}})",
                f"sum by (chain, upstream) (nodeops_gateway_upstream_connections{{{SEL}}})",
            ], w=12, rename={"Value #A": "info", "Value #B": "healthy", "Value #C": "connections"}),
            timeseries("Healthy upstreams per chain", [(
                f"min by (chain) (nodeops_gateway_chain_healthy_upstreams{{{SEL}}})", "{{chain}}")], unit="none", w=12),
            timeseries("Calls/s by upstream tier in use", [(
                f"sum by (chain, tier) (rate(nodeops_gateway_tier_requests_total{{{SEL}}}[$__rate_interval]))",
                "{{chain}} {{tier}}")], unit="reqps", w=12, stack=True,
                desc="Which tier answers: primary (own nodes) or fallback (paid providers, cost). "
                     "Alert: NodeOpsGatewayFallbackInUse."),
            timeseries("Fallback share per chain (cost)", [(
                f'sum by (chain) (rate(nodeops_gateway_tier_requests_total{{{SEL}, tier="fallback"}}[$__rate_interval]))'
                f" / sum by (chain) (rate(nodeops_gateway_tier_requests_total{{{SEL}}}[$__rate_interval]))",
                "{{chain}}")], unit="percentunit", w=12, min=0, max=1,
                desc="Share of calls a fallback provider answered; above 5% for 30 minutes fires NodeOpsGatewayFallbackInUse."),
            row("Clients (API keys, rate limits, CORS)"),
            timeseries("Client requests/s per API key", [(
                "sum by (key) (rate(nodeops_gateway_client_requests_total[$__rate_interval]))", "{{key}}")],
                unit="reqps", w=8,
                desc="Per key name from the keys file; `anonymous` is every request without a valid key."),
            timeseries("Refused requests/s per key and reason", [(
                "sum by (key, reason) (rate(nodeops_gateway_client_rejections_total[$__rate_interval])) > 0",
                "{{key}} {{reason}}")], unit="reqps", w=8,
                desc="unauthorized: 401 (no or wrong key); forbidden: 403 or -32021 (chain, method); "
                     "rate_limited: 429; origin: 403 (CORS). Alert: NodeOpsGatewayClientRateLimited."),
            timeseries("Rate limited share per key", [(
                'sum by (key) (rate(nodeops_gateway_client_rejections_total{reason="rate_limited"}[$__rate_interval]))'
                " / sum by (key) (rate(nodeops_gateway_client_requests_total[$__rate_interval]))",
                "{{key}}")], unit="percentunit", w=8, min=0, max=1),
            timeseries("Keys file: keys loaded, reloads", [
                ("max(nodeops_gateway_api_keys)", "keys"),
                ("sum by (result) (increase(nodeops_gateway_api_keys_reloads_total[$__rate_interval]))", "reloads {{result}}")],
                unit="none", w=12,
                desc="A reload with result=error kept the previous keys: the gateway log names file:line: key."),
            timeseries("Tracked client addresses, evictions/s", [
                ("sum(nodeops_gateway_rate_limit_tracked_addresses)", "tracked"),
                ("sum(rate(nodeops_gateway_rate_limit_evictions_total[$__rate_interval]))", "evictions/s")], w=12,
                desc="Per-address buckets, at most rate_limits.max_tracked_ips per replica."),
            timeseries("Shared rate limits: Redis connections, failures/s", [
                ("sum by (pod) (nodeops_gateway_rate_limit_redis_connected)", "connected loops {{pod}}"),
                ("sum by (reason) (rate(nodeops_gateway_rate_limit_redis_failures_total[$__rate_interval]))",
                 "failed open {{reason}}")], w=12,
                desc="With rate_limits.redis: requests that could not be checked in Redis were charged to the "
                     "replica's local buckets (limits then hold per replica). Alert: NodeOpsGatewaySharedRateLimitsDown."),
            timeseries("Client TLS certificate: days to expiry, reloads", [
                ("min by (pod) (nodeops_gateway_tls_certificate_expiry_timestamp_seconds - time()) / 86400", "days left {{pod}}"),
                ("sum by (result) (increase(nodeops_gateway_tls_certificate_reloads_total[$__rate_interval]))",
                 "reloads {{result}}"),
                ("sum(rate(nodeops_gateway_tls_handshake_failures_total[$__rate_interval]))", "failed handshakes/s")],
                unit="none", w=12,
                desc="With `tls:` (no ALB): the certificate served to clients. Alerts: "
                     "NodeOpsGatewayCertificateExpiringSoon (14 days), NodeOpsGatewayCertificateExpiring (3 days)."),
            row("Response cache"),
            timeseries("Cache hit ratio per chain and class", [(
                f'sum by (chain, class) (rate(nodeops_gateway_cache_requests_total{{{SEL}, result="hit"}}[$__rate_interval]))'
                f' / sum by (chain, class) (rate(nodeops_gateway_cache_requests_total{{{SEL}, result!="bypass"}}[$__rate_interval]))',
                "{{chain}} {{class}}")], unit="percentunit", w=8, min=0, max=1,
                desc="Hits over cacheable calls (bypasses excluded). Final answers stay until evicted; unfinal ones "
                     "live until the next head or unfinal_ttl."),
            timeseries("Cache calls/s by result, coalesced", [
                (f"sum by (chain, result) (rate(nodeops_gateway_cache_requests_total{{{SEL}}}[$__rate_interval]))",
                 "{{chain}} {{result}}"),
                (f"sum by (chain) (rate(nodeops_gateway_cache_coalesced_total{{{SEL}}}[$__rate_interval]))",
                 "{{chain}} coalesced")], unit="reqps", w=8),
            timeseries("Cache bytes and evictions/s", [
                ("sum(nodeops_gateway_cache_bytes)", "bytes"),
                ("sum(rate(nodeops_gateway_cache_evictions_total[$__rate_interval]))", "evictions/s")], w=8,
                desc="Bytes stay at or below cache.max_bytes; steady evictions with a low hit ratio mean the cache is too small."),
            row("WebSocket and subscriptions"),
            timeseries("Open WebSocket connections", [
                ("sum by (instance) (nodeops_gateway_websocket_connections)", "{{instance}}")], unit="none", w=8,
                desc="Per replica; each is also one of the client connections. Capped by websocket.max_connections "
                     "(and max_connections_per_ip): refusals are in the upgrades panel."),
            timeseries("Subscriptions by kind", [
                (f"sum by (chain, kind) (nodeops_gateway_subscriptions{{{SEL}}})", "{{chain}} {{kind}}"),
                (f"sum by (chain, kind) (nodeops_gateway_subscription_feeds{{{SEL}}})", "feeds {{chain}} {{kind}}")],
                unit="none", w=8,
                desc="Subscriptions held and the distinct feeds serving them (clients with the same subscription share one)."),
            timeseries("Notifications/s by kind", [(
                f"sum by (chain, kind) (rate(nodeops_gateway_subscription_notifications_total{{{SEL}}}[$__rate_interval]))",
                "{{chain}} {{kind}}")], unit="ops", w=8),
            timeseries("Forced closes/s by reason", [(
                "sum by (reason) (rate(nodeops_gateway_websocket_forced_closes_total[$__rate_interval]))",
                "{{reason}}")], unit="ops", w=6,
                desc="slow_consumer: 1008, the outbox went over websocket.max_send_queue "
                     "(alert NodeOpsGatewayWebSocketSlowConsumers); message_too_big: 1009."),
            timeseries("Feed restarts by feed", [(
                f"sum by (chain, feed) (increase(nodeops_gateway_subscription_feed_restarts_total{{{SEL}}}[$__rate_interval]))",
                "{{chain}} {{feed}}")], unit="none", w=6,
                desc="A feed moved to another node after the one it used failed: blocks (the follower's source), "
                     "pending (the pending-transaction filter). Alert: NodeOpsGatewaySubscriptionFeedRestarts."),
            timeseries("Events lost", [(
                f"sum by (chain) (increase(nodeops_gateway_subscription_events_lost_total{{{SEL}}}[$__rate_interval]))",
                "{{chain}}")], unit="none", w=6,
                desc="Follower events a feed missed: subscribers did not get every block or log. "
                     "Alert: NodeOpsGatewaySubscriptionEventsLost."),
            timeseries("Queued bytes, upgrades refused/s", [
                ("sum by (instance) (nodeops_gateway_websocket_queued_bytes)", "queued {{instance}}"),
                ("sum by (reason) (rate(nodeops_gateway_websocket_upgrades_refused_total[$__rate_interval])) > 0",
                 "refused {{reason}}")], w=6),
            row("Gateway process"),
            timeseries("In-flight requests and connections", [
                ("sum(nodeops_gateway_in_flight_requests)", "in flight"),
                ("sum(nodeops_gateway_client_connections)", "client connections")], w=8),
            timeseries("Gateway CPU", [(
                'rate(process_cpu_seconds_total{job=~".*nodeops-gateway.*"}[$__rate_interval])', "{{instance}}")], w=8),
            timeseries("Gateway memory", [
                ('process_resident_memory_bytes{job=~".*nodeops-gateway.*"}', "rss {{instance}}")], unit="bytes", w=8),
            timeseries("Open file descriptors", [
                ('process_open_fds{job=~".*nodeops-gateway.*"}', "{{instance}}")], w=12),
            table("Versions and uptime", [
                "count by (version) (nodeops_gateway_build_info)",
                'max by (instance) (time() - process_start_time_seconds{job=~".*nodeops-gateway.*"})'],
                w=12, rename={"Value #A": "instances", "Value #B": "uptime (s)"}),
            row("Rollouts (blue/green)"),
            timeseries("Traffic per pool", [(
                f"max by (chain, pool) (nodeops_gateway_pool_traffic_percent{{{SEL}}})", "{{chain}} {{pool}}")],
                unit="percent", w=8),
            timeseries("Active pool", [(
                f"max by (chain, pool) (nodeops_gateway_active_pool{{{SEL}}})", "{{chain}} {{pool}}")], w=8, max=1, min=0),
            timeseries("Rollout phase", [(
                f"max by (chain, phase) (nodeops_gateway_rollout_phase{{{SEL}}}) > 0", "{{chain}} {{phase}}")], w=8),
            timeseries("Rollouts by result", [(
                f"sum by (chain, result) (increase(nodeops_gateway_rollouts_total{{{SEL}}}[$__range]))",
                "{{chain}} {{result}}")], unit="none", w=24, h=6),
        ], tags=["gateway"])


def business():
    tx = 'method=~"eth_sendRawTransaction|sendTransaction"'
    return dashboard(
        "nodeops-business", "NodeOps / Business",
        "Usage: transactions submitted, clients, requests and availability per chain.",
        [ds_var(), CHAIN_GW],
        [
            stat("Transactions submitted (range)", f"sum(increase(nodeops_gateway_requests_total{{{SEL}, {tx}}}[$__range]))",
                 w=6, desc="eth_sendRawTransaction (EVM) and sendTransaction (Solana), all outcomes."),
            stat("Active clients (5 min)", "sum(nodeops_gateway_active_clients)", w=6,
                 desc="Distinct client addresses seen in the last 5 minutes, summed over gateway instances "
                      "(a client hitting two instances counts twice)."),
            stat("Requests (range)", f"sum(increase(nodeops_gateway_requests_total{{{SEL}}}[$__range]))", w=6),
            stat("Availability (range)", f'1 - sum(increase(nodeops_gateway_requests_total{{{SEL}, outcome="failed"}}[$__range]))'
                 f' / sum(increase(nodeops_gateway_requests_total{{{SEL}, outcome!="rejected"}}[$__range]))',
                 unit="percentunit", w=6,
                 thresholds=[{"color": "red", "value": None}, {"color": "orange", "value": 0.99},
                             {"color": "green", "value": 0.999}]),
            timeseries("Transactions submitted per chain (per minute)", [(
                f"sum by (chain) (rate(nodeops_gateway_requests_total{{{SEL}, {tx}}}[$__rate_interval])) * 60",
                "{{chain}}")], unit="none"),
            timeseries("Transactions by outcome", [(
                f"sum by (chain, outcome) (rate(nodeops_gateway_requests_total{{{SEL}, {tx}}}[$__rate_interval])) * 60",
                "{{chain}} {{outcome}}")], unit="none"),
            timeseries("Active clients", [("sum(nodeops_gateway_active_clients)", "all instances"),
                                          ("nodeops_gateway_active_clients", "{{instance}}")]),
            timeseries("Requests/s per chain", [(f"chain:nodeops_gateway_requests:rate5m{{{SEL}}}", "{{chain}}")],
                       unit="reqps", stack=True),
            table("Top methods (range)", [
                f"topk(15, sum by (chain, method) (increase(nodeops_gateway_requests_total{{{SEL}}}[$__range])))"],
                w=12, rename={"Value": "requests"}),
            table("SLO per chain", [
                f"chain:nodeops_gateway_availability:ratio_rate30d{{{SEL}}}",
                f"chain:nodeops_gateway_error_budget_remaining:ratio30d{{{SEL}}}",
                f"chain:nodeops_gateway_requests_within_1s:ratio_rate1d{{{SEL}}}"],
                w=12, rename={"Value #A": "availability 30d", "Value #B": "error budget left",
                              "Value #C": "within 1 s, 1d"}),
        ], tags=["business"], time_from="now-7d")


def logs_dashboard():
    gw = '{app="nodeops-gateway", chain=~"$chain", level=~"$level"}'
    return dashboard(
        "nodeops-logs", "NodeOps / Logs",
        "Loki: gateway JSON logs (labels chain, level) and node logs. Queries: docs/monitoring.md.",
        [ds_var("loki", "loki", "Loki"), ds_var(),
         query_var("chain", 'label_values({app="nodeops-gateway"}, chain)', "Chain", ds=LOKI),
         custom_var("level", ["error", "warn", "info", "debug"], "Level"),
         query_var("pod", 'label_values({app="blockchain-node"}, pod)', "Node pod", ds=LOKI),
         {"name": "search", "label": "Search", "type": "textbox", "query": "", "current": {"value": ""},
          "hide": 0, "options": []}],
        [
            timeseries("Gateway log lines by level", [(
                f"sum by (level) (count_over_time({gw} [$__interval]))", "{{level}}")],
                ds=LOKI, stack=True, w=12),
            timeseries("Gateway errors by chain and upstream", [(
                f'sum by (chain, upstream) (count_over_time({{app="nodeops-gateway", chain=~"$chain", level="error"}} | json [$__interval]))',
                "{{chain}} {{upstream}}")], ds=LOKI, w=12),
            logs("Gateway logs", f'{gw} |= "$search" | json'),
            logs("Slow requests (over 1 s)",
                 f'{{app="nodeops-gateway", chain=~"$chain"}} | json | duration_ms > 1000', h=8),
            timeseries("Node log lines by pod", [(
                'sum by (pod) (count_over_time({app="blockchain-node", pod=~"$pod"} [$__interval]))', "{{pod}}")],
                ds=LOKI, w=12),
            timeseries("Node errors by pod", [(
                'sum by (pod) (count_over_time({app="blockchain-node", pod=~"$pod"} |~ "(?i)(error|crit|fatal|panic)" [$__interval]))',
                "{{pod}}")], ds=LOKI, w=12),
            logs("Node logs", '{app="blockchain-node", pod=~"$pod"} |= "$search"'),
            logs("Exporter logs", '{container="exporter", level=~"$level"} |= "$search" | json', h=8),
        ], tags=["logs"], time_from="now-1h")


DASHBOARDS = {
    "nodeops-fleet.json": fleet,
    "nodeops-node-health.json": node_health,
    "nodeops-gateway.json": gateway,
    "nodeops-business.json": business,
    "nodeops-logs.json": logs_dashboard,
}


def render(fn) -> str:
    return json.dumps(fn(), indent=2, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, fn in DASHBOARDS.items():
        path = HERE / name
        text = render(fn)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    extra = sorted(p.name for p in HERE.glob("*.json") if p.name not in DASHBOARDS)
    if check and (stale or extra):
        for n in stale:
            print(f"FAIL {n} differs from build.py: run python3 monitoring/dashboards/build.py")
        for n in extra:
            print(f"FAIL {n} is not built by build.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
