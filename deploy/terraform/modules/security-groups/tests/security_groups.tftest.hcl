# Offline tests for the security-groups module: mocked AWS provider, plan only.

mock_provider "aws" {}

variables {
  name         = "nodeops-test"
  cluster_name = "nodeops-test"
  vpc_id       = "vpc-0123456789abcdef0"
  vpc_cidr     = "10.20.0.0/16"
}

run "p2p_ports_per_chain" {
  command = plan

  assert {
    condition = alltrue([for want in [
      ["p2p-ethereum", "tcp", 30303], ["p2p-ethereum", "udp", 30303],
      ["p2p-ethereum", "tcp", 9000], ["p2p-ethereum", "udp", 9000],
      ["p2p-polygon", "tcp", 26656], ["p2p-polygon", "tcp", 30303], ["p2p-polygon", "udp", 30303],
      ["p2p-solana", "tcp", 8000], ["p2p-solana", "udp", 8001], ["p2p-solana", "tcp", 8001], ["p2p-solana", "udp", 8020], ["p2p-solana", "udp", 8029], ["p2p-solana", "tcp", 8029],
      ] : anytrue([for r in local.ingress_rules :
        r.sg == want[0] && r.protocol == want[1] && coalesce(r.from, 0) <= want[2] && coalesce(r.to, 65535) >= want[2] && r.cidr == "0.0.0.0/0"
    ])])
    error_message = "A chain's P2P port is not open to peers."
  }
  assert {
    condition     = toset(keys(aws_security_group.p2p)) == toset(["ethereum", "polygon", "solana"])
    error_message = "Each chain needs its own P2P security group."
  }
  assert {
    condition     = alltrue([for r in local.ingress_rules : r.sg != "p2p-ethereum" || (coalesce(r.from, 0) != 26656 && (coalesce(r.from, 0) > 8030 || coalesce(r.to, 65535) < 8000))])
    error_message = "Ethereum's P2P group must not carry other chains' ports."
  }
}

run "no_world_open_admin_ingress" {
  command = plan

  variables {
    ssh_ingress_cidrs         = ["10.99.0.0/16"]
    cluster_api_ingress_cidrs = ["10.98.0.0/16"]
  }

  # Every rule open to the world must be a P2P rule, and must miss every admin/RPC/metrics port.
  assert {
    condition = alltrue([for k, r in local.ingress_rules :
      startswith(r.sg, "p2p-") && alltrue([for a in [22, 443, 3389, 5052, 6443, 8545, 8546, 8551, 8899, 9100, 10250, 26657] : a < coalesce(r.from, 0) || a > coalesce(r.to, 65535)])
      if r.cidr == "0.0.0.0/0"
    ])
    error_message = "An admin, SSH, RPC or metrics port is open to 0.0.0.0/0."
  }
  assert {
    condition     = alltrue([for k, r in aws_vpc_security_group_ingress_rule.this : r.cidr_ipv4 != "0.0.0.0/0" || startswith(k, "p2p-")])
    error_message = "Only P2P rules may use 0.0.0.0/0."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.this["node-ssh-from-10.99.0.0/16"].from_port == 22
    error_message = "SSH from the admin network should be allowed when asked."
  }
  assert {
    condition     = alltrue([for k, r in aws_vpc_security_group_ingress_rule.this : coalesce(r.to_port, 0) != 22 || r.cidr_ipv4 == "10.99.0.0/16"])
    error_message = "SSH must only be open to ssh_ingress_cidrs."
  }
}

run "rpc_and_metrics_only_from_vpc" {
  command = plan

  assert {
    condition = alltrue([for r in local.ingress_rules : r.cidr == "10.20.0.0/16" || r.cidr == null
    if r.sg == "node"])
    error_message = "Node ingress must come from the VPC or from cluster security groups."
  }
  assert {
    condition     = anytrue([for r in local.ingress_rules : r.sg == "node" && coalesce(r.from, 0) == 8545 && r.cidr == "10.20.0.0/16"])
    error_message = "EL RPC should be reachable from inside the VPC."
  }
  assert {
    condition     = length([for r in local.ingress_rules : r if coalesce(r.from, 0) <= 22 && coalesce(r.to, 65535) >= 22 && r.cidr != null]) == 0
    error_message = "SSH must be closed by default."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.this["node-10250-from-cluster"].from_port == 10250
    error_message = "The control plane must reach the kubelet."
  }
}

run "only_selected_chains" {
  command = plan

  variables {
    chains          = ["ethereum"]
    extra_p2p_ports = [{ chain = "ethereum", name = "cl-quic", protocol = "udp", from_port = 9001 }]
  }

  assert {
    condition     = keys(aws_security_group.p2p) == ["ethereum"]
    error_message = "Only the selected chain should get a P2P group."
  }
  assert {
    condition     = anytrue([for r in local.ingress_rules : r.sg == "p2p-ethereum" && coalesce(r.from, 0) == 9001 && r.protocol == "udp"])
    error_message = "Extra P2P ports should be added."
  }
}

# --- guards: each run flips a safe value and must be rejected --------------------------------

run "rejects_world_open_ssh" {
  command = plan

  variables {
    ssh_ingress_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.ssh_ingress_cidrs]
}

run "rejects_world_open_rpc" {
  command = plan

  variables {
    rpc_ingress_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.rpc_ingress_cidrs]
}

run "rejects_world_open_cluster_api" {
  command = plan

  variables {
    cluster_api_ingress_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.cluster_api_ingress_cidrs]
}

run "rejects_admin_port_disguised_as_p2p" {
  command = plan

  variables {
    extra_p2p_ports = [{ chain = "ethereum", name = "engine", protocol = "tcp", from_port = 8500, to_port = 8600 }]
  }

  expect_failures = [var.extra_p2p_ports]
}

run "rejects_ssh_disguised_as_p2p" {
  command = plan

  variables {
    extra_p2p_ports = [{ chain = "solana", name = "ssh", protocol = "tcp", from_port = 22 }]
  }

  expect_failures = [var.extra_p2p_ports]
}
