"""Unit tests of the metric-name extractor and the exposition parser (no binary needed).

Run: /usr/bin/python3 -m pytest tests/monitoring/test_promql_extract.py
"""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from promql_names import (  # noqa: E402
    contract_names, exported_names, grafana_to_promql, metric_names, variable_query_to_promql,
)


@pytest.mark.parametrize("expr, names", [
    ("up", {"up"}),
    ('up{job=~".*nodeops-exporter.*"} == 0', {"up"}),
    ("nodeops_node_up == 0 and on (instance, target) nodeops_node_ready == 1",
     {"nodeops_node_up", "nodeops_node_ready"}),
    ("sum by (chain, method) (rate(nodeops_gateway_requests_total[5m]))",
     {"nodeops_gateway_requests_total"}),
    ("sum(rate(nodeops_gateway_requests_total[5m])) by (chain)", {"nodeops_gateway_requests_total"}),
    ("histogram_quantile(0.99, sum without (instance, pod) (rate(x_bucket{le!=\"\"}[5m:30s])))",
     {"x_bucket"}),
    ("a / ignoring (reason) group_left (version) b", {"a", "b"}),
    ("a * on (chain) group_left b", {"a", "b"}),
    ("predict_linear(eth_disk_free_bytes[1h], 4 * 3600) < 0", {"eth_disk_free_bytes"}),
    ("rate(x[5m] offset 1h) > bool 1e3", {"x"}),
    ("x @ start() - x offset -5m", {"x"}),
    ("0x1F + 1.5e-3 + Inf - NaN + 1h30m", set()),
    ('label_replace(up, "dst", "$1", "src", "(by|on) {x}")', {"up"}),
    ('{__name__="nodeops_node_head", chain="x"}', {"nodeops_node_head"}),
    ("chain:nodeops_gateway_request_errors:ratio_rate5m > (14.4 * 0.001)",
     {"chain:nodeops_gateway_request_errors:ratio_rate5m"}),
    ("absent(up{job=~\"gw\"} == 1)", {"up"}),
    ("count_values(\"version\", nodeops_gateway_build_info)", {"nodeops_gateway_build_info"}),
    ("topk(5, sum by (method) (increase(nodeops_gateway_requests_total{method=~\"$method\"}[$__range])))",
     {"nodeops_gateway_requests_total"}),
    ("a # a comment naming not_a_metric\n+ b", {"a", "b"}),
    ("sum by (le) (rate(x_bucket{chain=\"$chain\", instance=~\"${instance:regex}\"}[$__rate_interval]))",
     {"x_bucket"}),
    ("time() - nodeops_exporter_last_success_timestamp_seconds", {"nodeops_exporter_last_success_timestamp_seconds"}),
    ("vector(1) unless absent_over_time(up[5m])", {"up"}),
])
def test_metric_names(expr, names):
    assert metric_names(expr) == names


def test_grafana_variables_become_promql():
    got = grafana_to_promql('rate(x{chain="$chain", ds="${datasource}"}[$__rate_interval])')
    assert got == 'rate(x{chain="x", ds="x"}[5m])'
    assert grafana_to_promql("increase(x[$__range])") == "increase(x[1h])"


def test_variable_queries():
    assert variable_query_to_promql("label_values(nodeops_node_head, chain)") == "nodeops_node_head"
    assert variable_query_to_promql('label_values(nodeops_node_head{chain="$chain"}, target)') == \
        'nodeops_node_head{chain="$chain"}'
    assert variable_query_to_promql("label_values(chain)") is None
    assert variable_query_to_promql("query_result(up == 1)") == "up == 1"


def test_exported_names_from_type_lines():
    text = """# HELP a_total A.
# TYPE a_total counter
a_total{x="1"} 3
# TYPE lat_seconds histogram
# TYPE q summary
# TYPE g gauge
# TYPE om counter
"""
    assert exported_names(text) == {
        "a_total", "lat_seconds", "lat_seconds_bucket", "lat_seconds_sum", "lat_seconds_count",
        "q", "q_sum", "q_count", "g", "om", "om_total"}


def test_contract_lists_gateway_and_exporter_metrics():
    names = contract_names()
    for n in ["nodeops_gateway_requests_total", "nodeops_gateway_request_duration_seconds_bucket",
              "eth_exe_sync_current_block", "eth_exe_sync_highest_block", "nodeops_node_up",
              "process_open_fds", "solana_node_is_healthy"]:
        assert n in names
