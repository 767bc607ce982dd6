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
