# Plans the prod environment with its own terraform.tfvars against a mocked AWS provider.

mock_provider "aws" {
  source = "../_shared/mocks" # mock data and the EBS key override, the same for every environment
}

run "prod_is_highly_available_and_protected" {
  command = plan

  assert {
    condition     = length(output.summary.azs) == 3 && length(distinct(output.summary.azs)) == 3
    error_message = "prod spans three AZs."
  }
  assert {
    condition     = output.summary.nat_gateways == 3
    error_message = "prod has a NAT gateway per AZ."
  }
  assert {
    condition     = toset(output.summary.capacity_types) == toset(["ON_DEMAND"])
    error_message = "prod runs on-demand only."
  }
  assert {
    condition     = !output.summary.endpoint_public_access
    error_message = "prod's Kubernetes API is private."
  }
  assert {
    condition     = output.summary.deletion_protection
    error_message = "prod has deletion protection."
  }
  assert {
    condition = alltrue([for c in ["ethereum", "polygon", "solana"] :
    length([for p in values(output.node_pools) : p if p.chain == c && p.min_size >= 1]) >= 2])
    error_message = "Every chain runs at least two always-on pools in prod."
  }
  assert {
    condition     = output.node_pools["system"].min_size >= 3 && output.node_pools["gateway"].min_size >= 3
    error_message = "System and gateway pools keep a node per AZ."
  }
}

# What the issue-14 review found missing: enforced NetworkPolicies, the Solana host bootstrap,
# autoscaler IAM, the WAF on the public endpoint, Loki's buckets and workload identity.
run "prod_runs_mainnet_nodes" {
  command = plan

  assert {
    condition     = output.vpc_cni_configuration.enableNetworkPolicy == "true"
    error_message = "The VPC CNI must enforce NetworkPolicies."
  }
  assert {
    condition = alltrue([for k in ["solana-a", "solana-b"] : alltrue([for want in ["vm.max_map_count = 1000000", "fs.nr_open = 1000000", "net.core.rmem_max = 134217728", "LimitNOFILE", "LimitMEMLOCK", "mnt=/mnt/solana"] :
    strcontains(output.bootstrap_scripts[k], want)])])
    error_message = "Solana pools set agave's kernel settings and mount their NVMe in the launch template."
  }
  assert {
    condition     = output.workload_identities["cluster-autoscaler"] == "kube-system/cluster-autoscaler"
    error_message = "The Cluster Autoscaler gets its IAM role (IRSA, its own service account only) from Terraform."
  }
  assert {
    condition     = output.workload_identities["loki"] == "monitoring/loki" && output.helm.loki_chunks_bucket == "nodeops-prod-333333333333-loki-chunks"
    error_message = "Terraform creates Loki's buckets and hands their names to Helm."
  }
  assert {
    condition     = length(aws_wafv2_web_acl.gateway) == 1 && contains(output.edge.waf_rules, "rate-limit-per-ip")
    error_message = "prod's public endpoint has a WAF web ACL with a per-IP rate limit."
  }
  assert {
    condition     = output.helm.waf_acl_arn == aws_wafv2_web_acl.gateway[0].arn && aws_wafv2_web_acl.gateway[0].scope == "REGIONAL"
    error_message = "The web ACL (regional, for the ALB) reaches the Helm layer, which associates it through the gateway Ingress (alb.ingress.kubernetes.io/wafv2-acl-arn)."
  }
  assert {
    condition     = alltrue([for p in values(output.node_pools) : p.chain != "solana" || p.max_size >= 2])
    error_message = "Solana pools can grow to hold blue and green."
  }
}

run "prod_refuses_dropping_the_waf" {
  command = plan

  variables {
    gateway_edge = { waf_enabled = false }
  }

  expect_failures = [var.gateway_edge]
}

run "prod_refuses_access_to_unknown_namespaces" {
  command = plan

  variables {
    access_entries = {
      ci = {
        principal_arn = "arn:aws:iam::333333333333:role/nodeops-deployer"
        policy_associations = {
          edit = { policy_arn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy", access_scope = { type = "namespace", namespaces = ["nodeops"] } }
        }
      }
    }
  }

  expect_failures = [var.access_entries]
}

# The same prod inputs with a safe value flipped must be refused, not planned.
run "prod_refuses_spot" {
  command = plan

  variables {
    allow_spot = true
  }

  expect_failures = [var.allow_spot]
}

run "prod_refuses_public_endpoint" {
  command = plan

  variables {
    endpoint = { public_access = true, public_access_cidrs = ["203.0.113.0/24"] }
  }

  expect_failures = [var.endpoint]
}

run "prod_refuses_dropping_deletion_protection" {
  command = plan

  variables {
    deletion_protection = false
  }

  expect_failures = [var.deletion_protection]
}

run "prod_refuses_single_nat" {
  command = plan

  variables {
    network = { vpc_cidr = "10.30.0.0/16", az_count = 3, nat_gateway_mode = "single" }
  }

  expect_failures = [var.network]
}
