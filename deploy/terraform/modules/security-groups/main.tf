# Security groups of a NodeOps cluster:
#   cluster  - extra SG on the EKS control-plane ENIs: HTTPS from the nodes (and optional admin networks)
#   node     - every worker: all traffic node-to-node (pods use node ENIs), control plane -> kubelet
#              and webhooks, RPC/metrics from inside the VPC, SSH only if asked (never world)
#   p2p[c]   - one per chain, attached only to that chain's node group: its P2P ports, from anywhere
# Every ingress rule is one row of local.ingress_rules, so the whole surface is reviewable (and
# testable) in one place.

resource "aws_security_group" "cluster" {
  name_prefix = "${var.name}-cluster-"
  description = "EKS control plane (additional): API from nodes and admin networks"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-cluster" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "node" {
  name_prefix = "${var.name}-node-"
  description = "EKS worker nodes: node-to-node, control plane, RPC and metrics from the VPC"
  vpc_id      = var.vpc_id
  tags = merge(var.tags, {
    Name                                        = "${var.name}-node"
    "kubernetes.io/cluster/${var.cluster_name}" = "owned"
    "karpenter.sh/discovery"                    = var.cluster_name
  })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "p2p" {
  for_each = toset(var.chains)

  name_prefix = "${var.name}-p2p-${each.key}-"
  description = "${each.key} P2P ports from the internet (no admin or RPC ports)"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-p2p-${each.key}", "nodeops.io/chain" = each.key })

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  security_group_ids = merge(
    { cluster = aws_security_group.cluster.id, node = aws_security_group.node.id },
    { for c, sg in aws_security_group.p2p : "p2p-${c}" => sg.id },
  )

  # P2P ports per chain: the clients' defaults. Solana's 8000-8030 holds gossip (8001), TPU, TVU
  # and repair (agave --dynamic-port-range 8000-8030: Agave >= 4.1 needs at least 26 ports).
  p2p_ports = {
    ethereum = [
      { name = "el", protocol = "tcp", from = 30303, to = 30303 },
      { name = "el", protocol = "udp", from = 30303, to = 30303 },
      { name = "cl", protocol = "tcp", from = 9000, to = 9000 },
      { name = "cl", protocol = "udp", from = 9000, to = 9000 },
    ]
    polygon = [
      { name = "bor", protocol = "tcp", from = 30303, to = 30303 },
      { name = "bor", protocol = "udp", from = 30303, to = 30303 },
      { name = "heimdall", protocol = "tcp", from = 26656, to = 26656 },
    ]
    solana = [
      { name = "gossip-tpu-tvu", protocol = "tcp", from = 8000, to = 8030 },
      { name = "gossip-tpu-tvu", protocol = "udp", from = 8000, to = 8030 },
    ]
  }
  p2p_rules = concat(
    flatten([for c in var.chains : [for p in local.p2p_ports[c] : merge(p, { chain = c })]]),
    [for p in var.extra_p2p_ports : { chain = p.chain, name = p.name, protocol = p.protocol, from = p.from_port, to = coalesce(p.to_port, p.from_port) } if contains(var.chains, p.chain)],
  )

  # RPC and metrics ports of the node clients and of nodeops itself, reachable from inside the VPC.
  vpc_ports = [
    { name = "el-rpc", from = 8545, to = 8546 },        # geth/bor/erigon HTTP + WS
    { name = "cl-rpc", from = 5052, to = 5052 },        # beacon API
    { name = "heimdall-rest", from = 1317, to = 1317 }, # heimdall REST
    { name = "heimdall-rpc", from = 26657, to = 26657 },
    { name = "solana-rpc", from = 8899, to = 8900 }, # agave HTTP + WS
    { name = "client-metrics", from = 6060, to = 6060 },
    { name = "nodeops-admin", from = 9100, to = 9100 }, # gateway/exporter /metrics
  ]
  rpc_sources = length(var.rpc_ingress_cidrs) > 0 ? var.rpc_ingress_cidrs : [var.vpc_cidr]

  # Control plane -> nodes: kubelet and the usual admission-webhook ports.
  control_plane_ports = [443, 4443, 6443, 8443, 9443, 10250]

  ingress_rules = merge(
    {
      "cluster-https-from-nodes" = { sg = "cluster", description = "Kubernetes API from nodes", protocol = "tcp", from = 443, to = 443, cidr = null, source = "node" }
    },
    { for c in var.cluster_api_ingress_cidrs : "cluster-https-from-${c}" => {
      sg = "cluster", description = "Kubernetes API from admin network", protocol = "tcp", from = 443, to = 443, cidr = c, source = null
    } },
    {
      "node-all-from-self" = { sg = "node", description = "Node to node and pod to pod", protocol = "-1", from = null, to = null, cidr = null, source = "node" }
    },
    { for p in local.control_plane_ports : "node-${p}-from-cluster" => {
      sg = "node", description = "Control plane to kubelet/webhooks", protocol = "tcp", from = p, to = p, cidr = null, source = "cluster"
    } },
    merge([for p in local.vpc_ports : { for c in local.rpc_sources : "node-${p.name}-from-${c}" => {
      sg = "node", description = "${p.name} from inside the VPC", protocol = "tcp", from = p.from, to = p.to, cidr = c, source = null
    } }]...),
    { for c in var.ssh_ingress_cidrs : "node-ssh-from-${c}" => {
      sg = "node", description = "SSH from admin network", protocol = "tcp", from = 22, to = 22, cidr = c, source = null
    } },
    merge([for r in local.p2p_rules : { for c in var.p2p_ingress_cidrs : "p2p-${r.chain}-${r.name}-${r.protocol}-${r.from}-${c}" => {
      sg = "p2p-${r.chain}", description = "${r.chain} ${r.name} P2P", protocol = r.protocol, from = r.from, to = r.to, cidr = c, source = null
    } }]...),
  )
}

resource "aws_vpc_security_group_ingress_rule" "this" {
  for_each = local.ingress_rules

  security_group_id            = local.security_group_ids[each.value.sg]
  description                  = each.value.description
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.from
  to_port                      = each.value.to
  cidr_ipv4                    = each.value.cidr
  referenced_security_group_id = each.value.source == null ? null : local.security_group_ids[each.value.source]
  tags                         = merge(var.tags, { Name = each.key })
}

# Nodes talk out to peers, registries and AWS APIs; P2P groups rely on the node group's egress.
resource "aws_vpc_security_group_egress_rule" "node_all" {
  security_group_id = aws_security_group.node.id
  description       = "All outbound (P2P peers, images, AWS APIs)"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  tags              = merge(var.tags, { Name = "node-egress-all" })
}
