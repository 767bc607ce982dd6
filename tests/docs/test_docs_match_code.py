"""The docs say what the code does: names in docs/ checked against the real binary and the source.

Starts anvil, `nodeops gateway` with one upstream up (anvil) and one down (a closed port), and
`nodeops exporter` probing anvil; scrapes both /metrics. Then, in both directions where it can:

- metric names: every `nodeops_*`, `eth_{exe,con,disk}_*`, `solana_node_*`, `process_*` name in
  docs/**/*.md is a family one of the binaries exposes (or a listed external/derived name); every
  family the binaries expose is in docs/interfaces.md's metric tables;
- label values: the values interfaces.md lists for the gateway's bounded labels (`outcome`,
  `reason`, `state`, `phase`, `result`) are exactly those the binary exports (every value exists
  at 0 from the start); the `reason` column of gateway.md's retry table and the `state` column of
  its status-page table are values the binary exports, every `state` is explained there, and the
  words that table says the page shows are the page's (src/gateway/status_page.cc);
- config: the complete example at the top of docs/gateway.md passes `nodeops check-config`; its keys
  are exactly the keys src/gateway/config.cc reads (found by following the ConfigMap getters from
  `root`); every value is the code's default unless its comment says `required` or `default:`;
  the limits table lists every `limits` key; the exporter example of interfaces.md passes too;
- JSON-RPC codes: every code the docs name is in src/core/jsonrpc.h, and gateway.md's error table
  lists every code there;
- faults: gateway.md's failure tables name every fault tests/support/fault_upstream.py injects;
- endpoints: every `GET` path of the gateway in interfaces.md answers (not 404) on its port;
- exit codes: what docs/interfaces.md says about 0, 1 and 2 is what the binary does for a valid
  and a broken config and an unbindable port, and every literal exit code in src/ is documented.

Run: /usr/bin/python3 -m pytest tests/docs/test_docs_match_code.py
Env: NODEOPS_BIN (default build/release/nodeops), ANVIL_BIN (default .tools/bin/anvil); without the
binary the tests are skipped, unless NODEOPS_REQUIRE_BIN=1 (then they fail).
"""
from __future__ import annotations

import os
import pathlib
import re
import socket
import subprocess
import sys
import tempfile

import pytest
import requests
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
from harness import ANVIL_BIN, NODEOPS_BIN, Anvil, Nodeops, free_port, gateway_config, wait_until  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
SRC = REPO / "src"

if not (NODEOPS_BIN.exists() and ANVIL_BIN.exists()):
    if os.environ.get("NODEOPS_REQUIRE_BIN"):
        raise RuntimeError(f"missing {NODEOPS_BIN} or {ANVIL_BIN}")
    pytest.skip("nodeops or anvil binary missing", allow_module_level=True)

# Names the docs may use that no nodeops binary exports, and where they come from.
EXTERNAL_METRICS = {
    "nodeops_gateway_requests_per_second": "prometheus-adapter's custom metric for the HPA (deploy.md)",
}
METRIC_NAME = re.compile(r"(?<![\w:])((?:nodeops|solana_node|process)_[a-z0-9_]*[a-z0-9]|eth_(?:exe|con|disk)_[a-z0-9_]*[a-z0-9])(?![\w:])")
BOUNDED_LABELS = {"outcome", "reason", "state", "phase", "result", "checkpoint"}


def read(name: str) -> str:
    return (DOCS / name).read_text()


def section(text: str, heading: str) -> str:
    """The text under a markdown heading, up to the next heading of the same or a higher level."""
    m = re.search(rf"^(#+) {re.escape(heading)}\s*$", text, re.M)
    assert m, f"no heading '{heading}'"
    level = len(m.group(1))
    rest = text[m.end():]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-| ]+\|$", line):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows[1:] if rows else rows  # without the header


def ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


# --- the real binaries ------------------------------------------------------------------------

def families(exposition: str) -> dict[str, str]:
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.M))


def label_values(exposition: str) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for line in exposition.splitlines():
        m = re.match(r"^([a-zA-Z_:][\w:]*)\{(.*)\} ", line)
        if not m:
            continue
        for k, v in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)):
            out.setdefault((m.group(1), k), set()).add(v)
    return out


def closed_port() -> int:
    return free_port()  # bound and released: nothing listens there


@pytest.fixture(scope="module")
def binaries():
    with Anvil(chain_id=1) as node:
        cfg = gateway_config({"eth": (1, [("up", node.url), ("down", f"http://127.0.0.1:{closed_port()}")])})
        with Nodeops.gateway(cfg) as g:
            wait_until("the down upstream judged", lambda: g.upstream("eth", "down")["state"] == "down", procs=[g])
            # A call, so the histograms and per-method series have samples too.
            requests.post(g.url("/eth"), json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}, timeout=5)
            gateway_after = g.metrics()
            port = free_port()
            with Nodeops("exporter", ["exporter", "--listen", f"127.0.0.1:{port}", "--interval", "300ms",
                                      "--target", f"geth:evm={node.url}"]) as exp:
                url = f"http://127.0.0.1:{port}/metrics"
                exporter = wait_until("exporter metrics", lambda: "nodeops_node_up{" in (t := requests.get(url, timeout=2).text) and t,
                                      procs=[exp])
            yield {"gateway": gateway_after, "exporter": exporter, "gw": g, "chain": "eth"}


def exposed(binaries) -> dict[str, str]:
    return {**families(binaries["exporter"]), **families(binaries["gateway"])}


def series_names(fams: dict[str, str]) -> set[str]:
    out = set(fams)
    for name, kind in fams.items():
        if kind == "histogram":
            out |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return out


# --- metric names -----------------------------------------------------------------------------

def test_every_metric_the_docs_name_is_exported(binaries):
    known = series_names(exposed(binaries))
    missing = []
    for path in sorted(DOCS.rglob("*.md")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for name in METRIC_NAME.findall(line):
                if name.startswith("nodeops_io_"):  # Kubernetes label names, not metrics
                    continue
                if name not in known and name not in EXTERNAL_METRICS:
                    missing.append(f"{path.relative_to(REPO)}:{n}: {name}")
    assert not missing, "metrics named in the docs that no binary exports:\n  " + "\n  ".join(missing)


def interfaces_metric_rows() -> dict[str, list[str]]:
    """First cell's names -> the row, for the metric tables of interfaces.md."""
    out = {}
    for row in table_rows(section(read("interfaces.md"), "Metrics")):
        for name in ticked(row[0]):
            out[name] = row
    for name in re.findall(r"`(process_[a-z_]+)`", section(read("interfaces.md"), "Metrics")):
        out.setdefault(name, [])
    return out


def test_every_exported_metric_is_in_interfaces_md(binaries):
    documented = set(interfaces_metric_rows())
    missing = sorted(set(exposed(binaries)) - documented)
    assert not missing, f"exported but not in docs/interfaces.md's metric tables: {missing}"


def documented_values(row: list[str]) -> dict[str, set[str]]:
    """`label (`a`, `b`)` in a labels cell -> {label: {a, b}}."""
    out = {}
    for label, values in re.findall(r"\b([a-z_]+) \(([^()]*)\)", row[-1] if row else ""):
        vals = set(ticked(values))
        if vals:
            out[label] = vals
    return out


def test_bounded_label_values_are_exactly_the_exported_ones(binaries):
    exported = label_values(binaries["gateway"])
    exported_exporter = label_values(binaries["exporter"])
    gateway_families = families(binaries["gateway"])
    wrong = []
    for name, row in interfaces_metric_rows().items():
        for label, values in documented_values(row).items():
            if label not in BOUNDED_LABELS:
                continue
            if name in gateway_families:
                have = exported.get((name, label), set())
            else:
                have = exported_exporter.get((name, label))
                if have is None:  # an exporter family without samples for this target type
                    continue
            if values - have:
                wrong.append(f"{name}{{{label}}}: documented, not exported: {sorted(values - have)}")
            if have - values:
                wrong.append(f"{name}{{{label}}}: exported, not documented: {sorted(have - values)}")
    # Every bounded label the gateway exports has its values listed.
    for (name, label), have in exported.items():
        if label in BOUNDED_LABELS and name in gateway_families:
            row = interfaces_metric_rows().get(name.removesuffix("_bucket"))
            if row is not None and label not in documented_values(row):
                wrong.append(f"{name}{{{label}}}: values {sorted(have)} not listed in interfaces.md")
    assert not wrong, "label values in docs/interfaces.md vs the binary:\n  " + "\n  ".join(wrong)


def test_gateway_md_reasons_and_states_are_the_exported_ones(binaries):
    exported = label_values(binaries["gateway"])
    text = read("gateway.md")
    retry_reasons = {v for row in table_rows(section(text, "Retries: what counts as a failed attempt"))
                     for v in ticked(row[-1])}
    retries = exported[("nodeops_gateway_retries_total", "reason")]
    errors = exported[("nodeops_gateway_upstream_errors_total", "reason")]
    assert retry_reasons <= errors, f"retry table reasons that upstream_errors_total lacks: {retry_reasons - errors}"
    assert retry_reasons == errors, f"upstream_errors_total reasons missing from the retry table: {errors - retry_reasons}"
    # The reasons only retries_total has are named in the prose right below the table, and only they.
    only_retries = set(re.findall(r"only\s+in\s+`retries_total`:\s+`(\w+)`", text))
    assert only_retries == retries - errors, (f"gateway.md names {sorted(only_retries)} as reasons of retries_total "
                                              f"only; the binary has {sorted(retries - errors)}")
    assert retry_reasons | (retries - errors) == retries, "retries_total reasons not in gateway.md"

    states_table = {ticked(row[0])[0] for row in table_rows(section(text, "Read the status page")) if ticked(row[0])}
    states = exported[("nodeops_gateway_upstream_state", "state")]
    assert states_table == states, (f"status page table states {sorted(states_table)} vs exported {sorted(states)}")


def test_the_status_page_words_are_the_ones_gateway_md_shows():
    """The "page shows" column of gateway.md's state table is what status_page.cc's stateOf() says."""
    js = (SRC / "gateway" / "status_page.cc").read_text()
    words = dict(re.findall(r"case '(\w+)': return \['([^']+)'", js))
    words["healthy"] = re.search(r"if \(u\.healthy\) return \['([^']+)'", js).group(1)
    default = re.search(r"default: return \['([^']+)'", js).group(1)
    wrong = []
    for row in table_rows(section(read("gateway.md"), "Read the status page")):
        state = ticked(row[0])[0]
        if row[1] != words.get(state, default):
            wrong.append(f"{state}: gateway.md says '{row[1]}', the page shows '{words.get(state, default)}'")
    assert not wrong, "\n".join(wrong)


def test_the_failure_tables_cover_every_injected_fault():
    """gateway.md's probe and call fault tables name every fault of tests/support/fault_upstream.py."""
    from fault_upstream import FAULTS
    text = section(read("gateway.md"), "What happens when an upstream misbehaves")
    probe = text.split("**Faults on the health probe**", 1)[1].split("**Faults on real calls**", 1)[0]
    calls = text.split("**Faults on real calls**", 1)[1].split("**What clients do**", 1)[0]
    for name, table in (("probe", probe), ("calls", calls)):
        named = {t for row in table_rows(table) for t in ticked(row[0])}
        assert set(FAULTS) <= named, f"{name} table of gateway.md lacks {sorted(set(FAULTS) - named)}"


def test_the_status_fields_gateway_md_names_are_in_status(binaries):
    status = binaries["gw"].status()
    chain = status["chains"][0]
    text = " ".join(section(read("gateway.md"), "Read the status page").split())
    m = re.search(r"per chain (.*?); per upstream (.*?)\. ", text)
    assert m, "gateway.md: no 'per chain ...; per upstream ...' list of /status fields"
    chain_fields = {w for w in ticked(m.group(1)) if re.fullmatch(r"[a-z_]+", w)}
    upstream_fields = {w for w in ticked(m.group(2)) if re.fullmatch(r"[a-z_]+", w)}
    assert chain_fields <= set(chain), f"/status chain fields gateway.md names that are not there: {chain_fields - set(chain)}"
    for u in chain["upstreams"]:
        assert upstream_fields <= set(u), f"/status upstream fields not there: {upstream_fields - set(u)}"
    down = next(u for u in chain["upstreams"] if u["name"] == "down")
    assert down["head"] is None and down["lag"] is None, down


def test_a_down_upstream_has_no_head_series(binaries):
    """gateway.md: head and lag series exist only while an upstream has a fresh head."""
    text = binaries["gateway"]
    for metric in ("nodeops_gateway_upstream_head", "nodeops_gateway_upstream_lag_blocks"):
        assert re.search(rf'^{metric}\{{[^}}]*upstream="up"', text, re.M), metric
        assert not re.search(rf'^{metric}\{{[^}}]*upstream="down"', text, re.M), metric


# --- config keys ------------------------------------------------------------------------------

GETTERS = "string|required_string|integer|number|boolean|duration|size|host_port|strings|list|map"


def code_config_keys(source: str, root_var: str = "root") -> dict[str, str]:
    """Every key path a loader reads -> the source text of its fallback, by following ConfigMap
    variables from `root`: `auto l = root->map("limits")`, `for (auto& u : m.list("upstreams"))`,
    and functions taking a `ConfigMap&` called with a known map."""
    where = {root_var: ""}
    functions = dict((p, f) for f, p in re.findall(r"\b(\w+)\(ConfigMap& (\w+)\)", source))
    for _ in range(5):  # to a fixpoint: maps nest a few levels at most
        for var, parent, key in re.findall(rf"auto (\w+) = (\w+)(?:->|\.)map\(\"(\w+)\"\)", source):
            if parent in where:
                where[var] = f"{where[parent]}{key}."
        for var, parent, key in re.findall(rf"for \(auto& (\w+) : (\w+)(?:->|\.)list\(\"(\w+)\"\)\)", source):
            if parent in where:
                where[var] = f"{where[parent]}{key}[]."
        for param, fn in functions.items():
            for arg in re.findall(rf"\b{fn}\((\w+)\)", source):
                if arg in where:
                    where[param] = where[arg]
    keys = {}
    for var, getter, key, rest in re.findall(rf"\b(\w+)(?:->|\.)({GETTERS})\(\"(\w+)\"(.*)", source):
        if var not in where:
            raise AssertionError(f"config.cc reads '{key}' from '{var}', a map this test cannot place")
        path = where[var] + key
        if getter in ("list", "map", "required_string", "strings"):
            keys.setdefault(path, "")
            continue
        keys[path] = first_argument(rest)
    return keys


def first_argument(rest: str) -> str:
    """`, Duration(1000), Duration(100));` -> `Duration(1000)`: the text up to the next top-level comma."""
    rest = rest.lstrip(", ")
    depth = 0
    for i, ch in enumerate(rest):
        if ch in "({":
            depth += 1
        elif ch in ")}":
            if depth == 0:
                return rest[:i].strip()
            depth -= 1
        elif ch == "," and depth == 0:
            return rest[:i].strip()
    return rest.strip()


def yaml_keys(doc, prefix: str = "") -> dict[str, object]:
    out = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            path = prefix + k
            out[path] = v
            if isinstance(v, dict):
                out.update(yaml_keys(v, path + "."))
            elif isinstance(v, list) and v and all(isinstance(i, dict) for i in v):
                for item in v:
                    out.update(yaml_keys(item, path + "[]."))
    return out


def example_config() -> tuple[str, dict[str, str]]:
    """The yaml block under "A complete config" and each key path's comment."""
    block = re.search(r"```yaml\n(.*?)```", section(read("gateway.md"), "A complete config"), re.S)
    assert block, "no yaml block under 'A complete config' in gateway.md"
    text = block.group(1)
    lines = text.splitlines()
    comments = {}

    def walk(node, prefix):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                line = lines[key.start_mark.line]
                comments.setdefault(prefix + key.value, line.split("#", 1)[1] if "#" in line else "")
                walk(value, prefix + key.value + ".")
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item, prefix[:-1] + "[].")

    walk(yaml.compose(text), "")
    return text, comments


def run(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(NODEOPS_BIN), *args], capture_output=True, text=True, timeout=20, **kw)


def test_the_complete_example_config_passes_check_config(tmp_path):
    text, _ = example_config()
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    r = run("check-config", "--kind", "gateway", str(path))
    assert r.returncode == 0, r.stderr
    assert "valid gateway config" in r.stdout


def test_the_example_config_has_every_key_the_code_reads_and_no_other():
    text, _ = example_config()
    documented = set(yaml_keys(yaml.safe_load(text)))
    read_by_code = set(code_config_keys((SRC / "gateway" / "config.cc").read_text()))
    assert read_by_code - documented == set(), f"keys the gateway reads, missing from gateway.md's example: {sorted(read_by_code - documented)}"
    assert documented - read_by_code == set(), f"keys in gateway.md's example the gateway does not read: {sorted(documented - read_by_code)}"


def cpp_defaults() -> dict[str, str]:
    """Member initialisers of the config structs: 'Limits.max_body' -> '1 << 20'."""
    out = {}
    header = (SRC / "gateway" / "config.h").read_text()
    for struct, body in re.findall(r"struct (\w+) \{(.*?)\n\};", header, re.S):
        for name, assigned, braced in re.findall(r"^\s+[\w:<>]+ (\w+)(?: = ([^;]+)|(\{[^;]*\}));", body, re.M):
            out[f"{struct}.{name}"] = (assigned or braced).strip()
    return out


def normalise(value) -> object:
    """A doc value or a C++ default as something comparable."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        return tuple(value)
    s = str(value).strip()
    if s in ("true", "false"):  # a C++ bool default
        return s == "true"
    if s in ("", '""', "{}"):
        return ""
    if re.fullmatch(r'"[^"]*"', s):
        return s[1:-1]
    if m := re.fullmatch(r"\{\"([^\"]+)\", (\d+)\}", s):  # HostPort{"127.0.0.1", 8545}
        return f"{m.group(1)}:{m.group(2)}"
    if m := re.fullmatch(r"(?:Duration)?[({](\d+)[)}]", s):  # Duration(1000), {1000}: milliseconds
        return ("ms", float(m.group(1)))
    if m := re.fullmatch(r"(\d+)(ms|s|m|h)", s):
        return ("ms", float(m.group(1)) * {"ms": 1, "s": 1000, "m": 60000, "h": 3600000}[m.group(2)])
    if m := re.fullmatch(r"(\d+)(KiB|MiB|GiB)", s):
        return float(int(m.group(1)) << {"KiB": 10, "MiB": 20, "GiB": 30}[m.group(2)])
    if m := re.fullmatch(r"(\d+) << (\d+)", s):
        return float(int(m.group(1)) << int(m.group(2)))
    try:
        return float(s)
    except ValueError:
        return s


def test_the_example_config_gives_every_default():
    text, comments = example_config()
    doc = yaml_keys(yaml.safe_load(text))
    code = code_config_keys((SRC / "gateway" / "config.cc").read_text())
    members = cpp_defaults()
    # Which struct a fallback like `lim.max_body` or `ph.window` names, from config.cc's bindings.
    source = (SRC / "gateway" / "config.cc").read_text()
    bindings = {var: struct_of(expr) for var, expr in re.findall(r"auto& (\w+) = (\w+(?:\.\w+)*);", source)}
    bindings.update({"cfg": "GatewayConfig", "up": "UpstreamConfig", "c": "ChainConfig"})
    wrong = []
    for path, fallback in sorted(code.items()):
        comment = comments.get(path, "")
        if path not in doc or not fallback or "required" in comment or "default:" in comment:
            continue
        if m := re.fullmatch(r"(\w+)\.(\w+)", fallback):
            struct = bindings.get(m.group(1))
            fallback = members.get(f"{struct}.{m.group(2)}", fallback)
        if normalise(doc[path]) != normalise(fallback):
            wrong.append(f"{path}: gateway.md says {doc[path]!r}, the code's default is {fallback}")
    assert not wrong, "defaults in gateway.md's example that are not the code's:\n  " + "\n  ".join(wrong)


def struct_of(expr: str) -> str:
    return {"cfg.limits": "Limits", "cfg.cache": "CacheConfig", "c.passive_health": "PassiveHealth",
            "cfg.auth": "AuthConfig", "cfg.cors": "CorsConfig", "cfg.rate_limits": "RateLimitConfig",
            "cfg.filters": "FiltersConfig", "cfg.tls": "ListenTlsConfig",
            "cfg.websocket": "WebSocketConfig"}.get(expr, expr)


def test_the_limits_table_lists_every_limit():
    code = {k.split(".", 1)[1] for k in code_config_keys((SRC / "gateway" / "config.cc").read_text())
            if k.startswith("limits.")}
    table = {ticked(row[0])[0] for row in table_rows(section(read("gateway.md"), "Limits and their defaults"))}
    assert table == code, f"limits table {sorted(table)} vs the code's limits {sorted(code)}"


def test_dotted_config_keys_in_the_docs_exist():
    code = set(code_config_keys((SRC / "gateway" / "config.cc").read_text()))
    leaves = {k.replace("[]", "") for k in code}
    wrong = []
    for name in ("gateway.md", "interfaces.md", "operations.md", "architecture.md"):
        for key in re.findall(r"`((?:limits|passive_health)\.[a-z_]+)`", read(name)):
            if key not in leaves and f"chains.{key}" not in leaves:
                wrong.append(f"{name}: {key}")
    assert not wrong, f"config keys named in the docs that the gateway does not read: {wrong}"


def test_the_exporter_example_in_interfaces_md_passes_check_config(tmp_path):
    exporter = section(read("interfaces.md"), "`nodeops exporter`")
    block = re.search(r"```yaml\n(.*?)```", exporter, re.S).group(1)
    path = tmp_path / "exporter.yaml"
    path.write_text(block)
    r = run("check-config", "--kind", "exporter", str(path))
    assert r.returncode == 0, r.stderr


# --- JSON-RPC codes ---------------------------------------------------------------------------

def test_json_rpc_codes_in_the_docs_are_the_codes_in_jsonrpc_h():
    codes = {int(c) for c in re.findall(r"= (-32\d{3}),", (SRC / "core" / "jsonrpc.h").read_text())}
    named = set()
    for name in ("gateway.md", "interfaces.md", "operations.md", "architecture.md"):
        named |= {int(c) for c in re.findall(r"(?<![\d-])(-32\d{3})(?!\d)", read(name))}
    assert named <= codes, f"codes the docs name that src/core/jsonrpc.h lacks: {sorted(named - codes)}"
    table = {int(c) for row in table_rows(section(read("gateway.md"), "Errors a client can get"))
             for c in re.findall(r"-32\d{3}", row[1])}
    assert codes <= table, f"codes of src/core/jsonrpc.h missing from gateway.md's error table: {sorted(codes - table)}"


# --- endpoints --------------------------------------------------------------------------------

def test_every_documented_gateway_get_path_answers(binaries):
    g = binaries["gw"]
    rows = table_rows(section(read("interfaces.md"), "`nodeops gateway --config FILE`"))
    checked = 0
    for row in rows:
        if len(row) < 3:
            continue
        port = "admin" if "admin_listen" in row[0] else "traffic"
        for path in re.findall(r"GET (/[\w/<>.-]*)", row[1]):
            url = (g.admin_url if port == "admin" else g.url)(path.replace("<chain>", binaries["chain"]))
            assert requests.get(url, timeout=5).status_code != 404, f"{port} port: GET {path} is 404"
            checked += 1
    assert checked >= 6


# --- exit codes -------------------------------------------------------------------------------

def documented_exit_codes() -> set[int]:
    text = read("interfaces.md")
    codes = set()
    for sentence in re.findall(r"Exit codes?: ([^.]*)\.", text):
        codes |= {int(c) for c in re.findall(r"(?<![\w.-])(\d{1,3})(?=\s+(?:after|when|for|on|if)\b)", sentence)}
    if "## Exit codes" in text:
        codes |= {int(row[0]) for row in table_rows(section(text, "Exit codes")) if row[0].isdigit()}
    return codes


def code_exit_codes() -> set[int]:
    """Literal codes given to std::exit, returned by main, and by the `int run_*()` entry points."""
    codes = set()
    for path in SRC.rglob("*.cc"):
        text = path.read_text()
        codes |= {int(c) for c in re.findall(r"std::exit\((\d+)\)", text)}
        codes |= {int(c) for c in re.findall(r"constexpr int kExit\w* = (\d+);", text)}
        for m in re.finditer(r"^int (?:main|run_\w+)\([^)]*\)\s*\{", text, re.M):
            depth, i = 1, m.end()
            while depth and i < len(text):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            codes |= {int(c) for c in re.findall(r"\breturn (\d+);", text[m.end():i])}
    return codes


def test_every_exit_code_in_the_code_is_documented():
    documented, code = documented_exit_codes(), code_exit_codes()
    assert documented, "no exit codes found in docs/interfaces.md"
    assert code <= documented, f"exit codes in src/ that docs/interfaces.md does not explain: {sorted(code - documented)}"
    assert documented <= code | {0}, f"documented exit codes nothing in src/ returns: {sorted(documented - code)}"


def test_exit_codes_are_what_the_docs_say(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(example_config()[0])
    assert run("check-config", str(good)).returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("chains:\n  - name: eth\n    chian_id: 1\n")
    r = run("check-config", str(bad))
    assert r.returncode == 2 and "did you mean chain_id?" in r.stderr, r.stderr
    r = run("gateway", "--config", str(bad))
    assert r.returncode == 2, r.stderr
    # A listen address that is taken: 1.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        cfg = tmp_path / "taken.yaml"
        cfg.write_text(f"listen: 127.0.0.1:{s.getsockname()[1]}\nadmin_listen: 127.0.0.1:{free_port()}\n"
                       "chains:\n  - { name: eth, chain_id: 1, upstreams: [{ name: a, url: 'http://127.0.0.1:1' }] }\n")
        r = run("gateway", "--config", str(cfg))
        assert r.returncode == 1, r.stderr
